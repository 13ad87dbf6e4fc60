/* An independent reading of a glTF 2.0 file for tests/scenes.sh: its own JSON
 * walk (cJSON) over the accessors, nodes and cameras, sharing nothing with
 * io/gltf.c or render/, so the renderer's counts and images are checked
 * against the file rather than against themselves.
 *
 *   gltf_probe counts FILE
 *     prints "M mesh(es), I instance(s), T triangles": the file's meshes, the
 *     nodes of its default scene (children followed) that place a mesh, and the
 *     triangles they place: per primitive (TRIANGLES) the index accessor's
 *     count / 3, or POSITION's count / 3 when not indexed.
 *   gltf_probe coverage FILE RENDER.exr (node | look PX PY PZ TX TY TZ YFOV_DEG)
 *     casts one ray through each pixel centre of RENDER's frame (a pinhole:
 *     the file's first camera node, or a look-at with +y up, vertical field
 *     of view, aspect = width / height) against every placed triangle, and
 *     compares with RENDER's alpha (1 where a camera sample hit): each pixel
 *     whose 3 x 3 neighbourhood is all hit or all missed (not a silhouette
 *     edge) must agree (alpha > 0.5 exactly where hit), and the alpha summed
 *     must equal the number of centres hit within 1% + 5. Pixels whose ray
 *     meets a MASK or BLEND material are not compared (their coverage depends
 *     on textures). Exits 1 on a disagreement, naming the pixels.
 * The EXR is read with the project's reader (io/), the only shared code. */
#include "io/xs_exr.h"
#include "io/xs_image.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { double m[16]; } mat4; /* column-major, as glTF */

static unsigned char *g_file, *g_bin;
static size_t g_file_n, g_bin_n;
static char g_dir[4096];
static cJSON *g_root;

static void die(const char *msg, const char *what)
{
    fprintf(stderr, "gltf_probe: %s%s%s\n", msg, what ? ": " : "", what ? what : "");
    exit(2);
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot open", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    if (!b || fread(b, 1, (size_t)len, f) != (size_t)len)
        die("cannot read", path);
    fclose(f);
    b[len] = 0;
    *n = (size_t)len;
    return b;
}

static uint32_t le32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

static void load(const char *path)
{
    g_file = slurp(path, &g_file_n);
    snprintf(g_dir, sizeof g_dir, "%s", path);
    char *slash = strrchr(g_dir, '/');
    if (slash)
        slash[1] = '\0';
    else
        g_dir[0] = '\0';
    const char *json = (const char *)g_file;
    size_t json_n = g_file_n;
    if (g_file_n >= 20 && memcmp(g_file, "glTF", 4) == 0) { /* GLB: header, JSON chunk, BIN chunk */
        json_n = le32(g_file + 12);
        if (le32(g_file + 16) != 0x4E4F534Au || 20 + json_n > g_file_n)
            die("bad GLB JSON chunk", path);
        json = (const char *)g_file + 20;
        size_t at = 20 + json_n;
        if (at + 8 <= g_file_n && le32(g_file + at + 4) == 0x004E4942u) {
            g_bin_n = le32(g_file + at);
            g_bin = g_file + at + 8;
        }
    }
    g_root = cJSON_ParseWithLength(json, json_n);
    if (!g_root)
        die("not JSON", path);
}

static cJSON *arr_at(const char *name, int i)
{
    cJSON *a = cJSON_GetObjectItemCaseSensitive(g_root, name);
    cJSON *e = cJSON_GetArrayItem(a, i);
    if (!e)
        die("index out of range in", name);
    return e;
}

static double num(const cJSON *o, const char *k, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* ---- buffers and accessors ---------------------------------------------- */

static int b64(int c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

static const unsigned char *buffer_bytes(int bi, size_t *n)
{
    static const unsigned char *cache[64];
    static size_t cache_n[64];
    if (bi < 0 || bi >= 64)
        die("too many buffers", NULL);
    if (cache[bi]) {
        *n = cache_n[bi];
        return cache[bi];
    }
    cJSON *b = arr_at("buffers", bi);
    const cJSON *uri = cJSON_GetObjectItemCaseSensitive(b, "uri");
    unsigned char *d = NULL;
    size_t len = 0;
    if (!cJSON_IsString(uri)) {
        if (!g_bin)
            die("buffer without uri and no GLB BIN chunk", NULL);
        cache[bi] = g_bin, cache_n[bi] = g_bin_n;
        *n = g_bin_n;
        return g_bin;
    }
    const char *u = uri->valuestring;
    if (strncmp(u, "data:", 5) == 0) {
        const char *c = strstr(u, ";base64,");
        if (!c)
            die("data URI not base64", NULL);
        c += 8;
        d = malloc(strlen(c) * 3 / 4 + 4);
        int acc = 0, bits = 0;
        for (; *c; ++c) {
            int v = b64(*c);
            if (v < 0)
                continue;
            acc = acc << 6 | v;
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                d[len++] = (unsigned char)(acc >> bits & 0xff);
            }
        }
    } else {
        char p[8192];
        snprintf(p, sizeof p, "%s%s", g_dir, u);
        d = slurp(p, &len);
    }
    cache[bi] = d, cache_n[bi] = len;
    *n = len;
    return d;
}

/* element i of accessor ai, component c, as a double (float, or an unsigned
 * index type) */
typedef struct { const unsigned char *base; size_t stride; int type, comps, count; } view;

static view accessor(int ai)
{
    cJSON *a = arr_at("accessors", ai);
    if (cJSON_GetObjectItemCaseSensitive(a, "sparse"))
        die("sparse accessors are not read by this probe", NULL);
    view v;
    v.type = (int)num(a, "componentType", 0);
    v.count = (int)num(a, "count", 0);
    const char *t = cJSON_GetObjectItemCaseSensitive(a, "type")->valuestring;
    v.comps = strcmp(t, "SCALAR") == 0 ? 1 : strcmp(t, "VEC2") == 0 ? 2 : strcmp(t, "VEC3") == 0 ? 3 : 4;
    int size = v.type == 5126 || v.type == 5125 ? 4 : v.type == 5123 || v.type == 5122 ? 2 : 1;
    cJSON *bv = arr_at("bufferViews", (int)num(a, "bufferView", -1));
    size_t n;
    const unsigned char *buf = buffer_bytes((int)num(bv, "buffer", 0), &n);
    size_t off = (size_t)num(bv, "byteOffset", 0) + (size_t)num(a, "byteOffset", 0);
    v.stride = (size_t)num(bv, "byteStride", 0);
    if (v.stride == 0)
        v.stride = (size_t)size * (size_t)v.comps;
    if (v.count > 0 && off + v.stride * (size_t)(v.count - 1) + (size_t)size * (size_t)v.comps > n)
        die("accessor past its buffer", NULL);
    v.base = buf + off;
    return v;
}

static double get(const view *v, int i, int c)
{
    const unsigned char *p = v->base + v->stride * (size_t)i;
    switch (v->type) {
    case 5126: {
        float f;
        memcpy(&f, p + 4 * c, 4);
        return f;
    }
    case 5125: return (double)le32(p + 4 * c);
    case 5123: return (double)(p[2 * c] | p[2 * c + 1] << 8);
    case 5121: return (double)p[c];
    default: die("unsupported component type", NULL);
    }
    return 0.0;
}

/* ---- nodes ---------------------------------------------------------------- */

static mat4 mul(mat4 a, mat4 b)
{
    mat4 r;
    for (int c = 0; c < 4; ++c)
        for (int rr = 0; rr < 4; ++rr) {
            double s = 0.0;
            for (int k = 0; k < 4; ++k)
                s += a.m[k * 4 + rr] * b.m[c * 4 + k];
            r.m[c * 4 + rr] = s;
        }
    return r;
}

static mat4 local_matrix(const cJSON *node)
{
    mat4 m = {{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}};
    const cJSON *mm = cJSON_GetObjectItemCaseSensitive(node, "matrix");
    if (mm) {
        for (int i = 0; i < 16; ++i)
            m.m[i] = cJSON_GetArrayItem(mm, i)->valuedouble;
        return m;
    }
    double t[3] = {0, 0, 0}, q[4] = {0, 0, 0, 1}, s[3] = {1, 1, 1};
    const cJSON *a;
    if ((a = cJSON_GetObjectItemCaseSensitive(node, "translation")))
        for (int i = 0; i < 3; ++i) t[i] = cJSON_GetArrayItem(a, i)->valuedouble;
    if ((a = cJSON_GetObjectItemCaseSensitive(node, "rotation")))
        for (int i = 0; i < 4; ++i) q[i] = cJSON_GetArrayItem(a, i)->valuedouble;
    if ((a = cJSON_GetObjectItemCaseSensitive(node, "scale")))
        for (int i = 0; i < 3; ++i) s[i] = cJSON_GetArrayItem(a, i)->valuedouble;
    double x = q[0], y = q[1], z = q[2], w = q[3];
    double r[9] = {1 - 2 * (y * y + z * z), 2 * (x * y + z * w), 2 * (x * z - y * w),
                   2 * (x * y - z * w), 1 - 2 * (x * x + z * z), 2 * (y * z + x * w),
                   2 * (x * z + y * w), 2 * (y * z - x * w), 1 - 2 * (x * x + y * y)};
    for (int c = 0; c < 3; ++c)
        for (int rr = 0; rr < 3; ++rr)
            m.m[c * 4 + rr] = r[c * 3 + rr] * s[c];
    m.m[12] = t[0], m.m[13] = t[1], m.m[14] = t[2];
    return m;
}

typedef struct { double v[9]; int unknown; } tri;
typedef struct { int first, count; double lo[3], hi[3]; } group; /* one placed primitive */

static int n_instances;
static long long n_triangles;
static tri *g_tris;
static int g_tri_n, g_tri_cap;
static group *g_groups;
static int g_group_n, g_group_cap;
static int g_want_tris; /* coverage: keep the triangles */
static int g_cam_node = -1;
static mat4 g_cam_world;

static int prim_unknown(const cJSON *prim)
{
    const cJSON *mi = cJSON_GetObjectItemCaseSensitive(prim, "material");
    if (!cJSON_IsNumber(mi))
        return 0;
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(arr_at("materials", mi->valueint), "alphaMode");
    return cJSON_IsString(mode) && strcmp(mode->valuestring, "OPAQUE") != 0;
}

static void place_mesh(int mesh, mat4 w)
{
    const cJSON *prims = cJSON_GetObjectItemCaseSensitive(arr_at("meshes", mesh), "primitives");
    const cJSON *prim;
    cJSON_ArrayForEach(prim, prims) {
        if (num(prim, "mode", 4) != 4)
            die("only TRIANGLES primitives are counted", NULL);
        const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(prim, "attributes");
        int pos = (int)num(attrs, "POSITION", -1);
        int idx = (int)num(prim, "indices", -1);
        int count = (int)num(arr_at("accessors", idx >= 0 ? idx : pos), "count", 0);
        n_triangles += count / 3;
        if (!g_want_tris)
            continue;
        view pv = accessor(pos), iv;
        if (idx >= 0)
            iv = accessor(idx);
        if (g_group_n == g_group_cap)
            g_groups = realloc(g_groups, (size_t)(g_group_cap = 2 * g_group_cap + 16) * sizeof *g_groups);
        group *gr = &g_groups[g_group_n++];
        gr->first = g_tri_n;
        gr->count = count / 3;
        for (int k = 0; k < 3; ++k)
            gr->lo[k] = INFINITY, gr->hi[k] = -INFINITY;
        int unknown = prim_unknown(prim);
        for (int t = 0; t < count / 3; ++t) {
            if (g_tri_n == g_tri_cap)
                g_tris = realloc(g_tris, (size_t)(g_tri_cap = 2 * g_tri_cap + 1024) * sizeof *g_tris);
            tri *tr = &g_tris[g_tri_n++];
            tr->unknown = unknown;
            for (int c = 0; c < 3; ++c) {
                int vi = idx >= 0 ? (int)get(&iv, 3 * t + c, 0) : 3 * t + c;
                if (vi < 0 || vi >= pv.count)
                    die("index past POSITION", NULL);
                double p[3] = {get(&pv, vi, 0), get(&pv, vi, 1), get(&pv, vi, 2)};
                for (int k = 0; k < 3; ++k) {
                    double x = w.m[k] * p[0] + w.m[4 + k] * p[1] + w.m[8 + k] * p[2] + w.m[12 + k];
                    tr->v[c * 3 + k] = x;
                    gr->lo[k] = fmin(gr->lo[k], x);
                    gr->hi[k] = fmax(gr->hi[k], x);
                }
            }
        }
    }
}

static void visit(int ni, mat4 parent, int depth)
{
    if (depth > 64)
        die("node hierarchy deeper than 64 (a cycle?)", NULL);
    const cJSON *node = arr_at("nodes", ni);
    mat4 w = mul(parent, local_matrix(node));
    const cJSON *mesh = cJSON_GetObjectItemCaseSensitive(node, "mesh");
    if (cJSON_IsNumber(mesh)) {
        n_instances++;
        place_mesh(mesh->valueint, w);
    }
    const cJSON *cam = cJSON_GetObjectItemCaseSensitive(node, "camera");
    if (cJSON_IsNumber(cam) && g_cam_node < 0) {
        g_cam_node = cam->valueint;
        g_cam_world = w;
    }
    const cJSON *ch;
    cJSON_ArrayForEach(ch, cJSON_GetObjectItemCaseSensitive(node, "children")) visit(ch->valueint, w, depth + 1);
}

static void walk_scene(void)
{
    mat4 id = {{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}};
    const cJSON *scene = arr_at("scenes", (int)num(g_root, "scene", 0));
    const cJSON *n;
    cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(scene, "nodes")) visit(n->valueint, id, 0);
}

/* ---- rays ------------------------------------------------------------------ */

static int box_hit(const double o[3], const double d[3], const double lo[3], const double hi[3])
{
    double t0 = 0.0, t1 = INFINITY;
    for (int k = 0; k < 3; ++k) {
        double inv = 1.0 / d[k];
        double a = (lo[k] - o[k]) * inv, b = (hi[k] - o[k]) * inv;
        if (a > b) { double t = a; a = b; b = t; }
        t0 = fmax(t0, a);
        t1 = fmin(t1, b);
    }
    return t0 <= t1 * (1.0 + 1e-9) + 1e-9;
}

/* Moller-Trumbore, both faces; returns t or INFINITY */
static double tri_hit(const double o[3], const double d[3], const tri *t)
{
    const double *a = t->v, *b = t->v + 3, *c = t->v + 6;
    double e1[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]}, e2[3] = {c[0] - a[0], c[1] - a[1], c[2] - a[2]};
    double p[3] = {d[1] * e2[2] - d[2] * e2[1], d[2] * e2[0] - d[0] * e2[2], d[0] * e2[1] - d[1] * e2[0]};
    double det = e1[0] * p[0] + e1[1] * p[1] + e1[2] * p[2];
    if (fabs(det) < 1e-300)
        return INFINITY;
    double inv = 1.0 / det, s[3] = {o[0] - a[0], o[1] - a[1], o[2] - a[2]};
    double u = (s[0] * p[0] + s[1] * p[1] + s[2] * p[2]) * inv;
    if (u < 0.0 || u > 1.0)
        return INFINITY;
    double q[3] = {s[1] * e1[2] - s[2] * e1[1], s[2] * e1[0] - s[0] * e1[2], s[0] * e1[1] - s[1] * e1[0]};
    double v = (d[0] * q[0] + d[1] * q[1] + d[2] * q[2]) * inv;
    if (v < 0.0 || u + v > 1.0)
        return INFINITY;
    double t2 = (e2[0] * q[0] + e2[1] * q[1] + e2[2] * q[2]) * inv;
    return t2 > 1e-9 ? t2 : INFINITY;
}

static void normalize3(double v[3])
{
    double l = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    v[0] /= l, v[1] /= l, v[2] /= l;
}

static int coverage(const char *exr, int argc, char **argv)
{
    xs_image img;
    xs_err e;
    if (xs_exr_read_rgba(exr, &img, &e) != XS_OK)
        die(e.msg, NULL);
    const int W = img.width, H = img.height;
    double pos[3], fwd[3], up[3], yfov;
    if (argc >= 1 && strcmp(argv[0], "node") == 0) {
        if (g_cam_node < 0)
            die("no camera node in the scene", NULL);
        const cJSON *persp = cJSON_GetObjectItemCaseSensitive(arr_at("cameras", g_cam_node), "perspective");
        yfov = num(persp, "yfov", 0.0);
        const double *m = g_cam_world.m;
        for (int k = 0; k < 3; ++k)
            pos[k] = m[12 + k], fwd[k] = -m[8 + k], up[k] = m[4 + k];
    } else if (argc >= 8 && strcmp(argv[0], "look") == 0) {
        double tgt[3];
        for (int k = 0; k < 3; ++k)
            pos[k] = atof(argv[1 + k]), tgt[k] = atof(argv[4 + k]), fwd[k] = tgt[k] - pos[k];
        up[0] = 0, up[1] = 1, up[2] = 0;
        yfov = atof(argv[7]) * M_PI / 180.0;
    } else {
        die("camera: 'node' or 'look PX PY PZ TX TY TZ YFOV_DEG'", NULL);
    }
    normalize3(fwd);
    double right[3] = {fwd[1] * up[2] - fwd[2] * up[1], fwd[2] * up[0] - fwd[0] * up[2], fwd[0] * up[1] - fwd[1] * up[0]};
    normalize3(right);
    double upv[3] = {right[1] * fwd[2] - right[2] * fwd[1], right[2] * fwd[0] - right[0] * fwd[2],
                     right[0] * fwd[1] - right[1] * fwd[0]};
    double th = tan(0.5 * yfov), aspect = (double)W / H;
    signed char *ref = malloc((size_t)W * (size_t)H); /* 1 hit, 0 missed, -1 not compared */
    long hits = 0, unknown = 0;
    for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) {
            double sx = (2.0 * (x + 0.5) / W - 1.0) * th * aspect, sy = (1.0 - 2.0 * (y + 0.5) / H) * th;
            double d[3];
            for (int k = 0; k < 3; ++k)
                d[k] = fwd[k] + sx * right[k] + sy * upv[k];
            normalize3(d);
            int hit = 0, unk = 0;
            for (int g = 0; g < g_group_n; ++g) {
                if (!box_hit(pos, d, g_groups[g].lo, g_groups[g].hi))
                    continue;
                for (int t = g_groups[g].first; t < g_groups[g].first + g_groups[g].count; ++t)
                    if (tri_hit(pos, d, &g_tris[t]) < INFINITY) {
                        if (g_tris[t].unknown)
                            unk = 1;
                        else
                            hit = 1;
                    }
            }
            ref[y * W + x] = unk ? -1 : (signed char)hit;
            hits += hit && !unk;
            unknown += unk;
        }
    /* the covered area two ways: pixel centres hit, and the alpha summed
     * (each pixel's share of samples that hit), over the compared pixels */
    double alpha_sum = 0.0;
    for (int i = 0; i < W * H; ++i)
        if (ref[i] >= 0)
            alpha_sum += img.rgba[(size_t)i * 4 + 3];
    long compared = 0, bad = 0, rendered = 0;
    for (int y = 1; y < H - 1; ++y)
        for (int x = 1; x < W - 1; ++x) {
            int v = ref[y * W + x], uniform = v >= 0;
            for (int dy = -1; dy <= 1 && uniform; ++dy)
                for (int dx = -1; dx <= 1; ++dx)
                    uniform &= ref[(y + dy) * W + x + dx] == v;
            if (!uniform)
                continue;
            compared++;
            float a = img.rgba[((size_t)y * (size_t)W + (size_t)x) * 4 + 3];
            rendered += a > 0.5f;
            if ((a > 0.5f) != (v == 1)) {
                if (bad < 8)
                    fprintf(stderr, "gltf_probe: pixel (%d, %d): alpha %.3f, but the file's geometry is %s there\n",
                            x, y, (double)a, v ? "hit" : "missed");
                bad++;
            }
        }
    printf("coverage %s: %dx%d, %ld pixel centres hit the file's geometry (alpha sums to %.1f), %ld not "
           "compared (mask/blend), %ld away from edges compared, %ld disagree\n", exr, W, H, hits, alpha_sum,
           unknown, compared, bad);
    /* both estimate the same area; they differ only by edge pixels' luck
     * (measured: within 2 pixels on the shared scenes at 64 x 48) */
    if (fabs(alpha_sum - (double)hits) > 0.01 * (double)hits + 5.0) {
        fprintf(stderr, "gltf_probe: the render covers %.1f pixels, the file's geometry %ld\n", alpha_sum, hits);
        bad++;
    }
    if (compared < (long)W * H / 4) {
        fprintf(stderr, "gltf_probe: only %ld pixels could be compared\n", compared);
        bad++;
    }
    free(ref);
    xs_image_free(&img);
    return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: gltf_probe counts FILE | coverage FILE RENDER.exr (node | look ...)\n");
        return 2;
    }
    load(argv[2]);
    g_want_tris = strcmp(argv[1], "coverage") == 0;
    walk_scene();
    if (strcmp(argv[1], "counts") == 0) {
        printf("%d mesh(es), %d instance(s), %lld triangles\n",
               cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(g_root, "meshes")), n_instances, n_triangles);
        return 0;
    }
    if (g_want_tris && argc >= 4)
        return coverage(argv[3], argc - 4, argv + 4);
    fprintf(stderr, "gltf_probe: unknown mode '%s'\n", argv[1]);
    return 2;
}
