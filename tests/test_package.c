/* Hostile and broken scene packages. Each case builds an archive in memory
 * with libarchive and checks that opening it fails with a message naming the
 * entry or field and the reason. `test_package write DIR` also writes every
 * case as DIR/NAME.tar.zst with the expected message fragment in
 * DIR/NAME.expect, for tests/hostile_cli.sh to feed to `xisuan render`. */
#include "io/xs_file.h"
#include "io/xs_scene_input.h"
#include "test_util.h"

/* Opens package bytes under the given package limits and default others. */
static xs_result open_pkg(const char *label, const void *bytes, size_t len, const xs_pkg_limits *pkg,
                          xs_scene_input **in, xs_err *e)
{
    xs_scene_limits l;
    xs_scene_limits_default(&l);
    l.pkg = *pkg;
    return xs_scene_input_open(label, bytes, len, &l, in, e);
}

#include <archive.h>
#include <archive_entry.h>

typedef struct ent {
    const char *name;
    const char *data; /* NULL with size: that many zero bytes */
    size_t size;
    int type;         /* 0 regular, 1 symlink, 2 hardlink, 3 char device, 4 directory */
    const char *link;
} ent;

typedef struct buf {
    unsigned char *p;
    size_t n, cap;
} buf;

static la_ssize_t wr(struct archive *a, void *u, const void *d, size_t n)
{
    (void)a;
    buf *b = (buf *)u;
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
    return (la_ssize_t)n;
}

static buf make(const ent *e, int n, bool zstd)
{
    buf b = {0};
    struct archive *a = archive_write_new();
    if (zstd)
        archive_write_add_filter_zstd(a);
    archive_write_set_format_pax_restricted(a);
    archive_write_set_bytes_in_last_block(a, 1);
    archive_write_open(a, &b, NULL, wr, NULL);
    struct archive_entry *ae = archive_entry_new();
    for (int i = 0; i < n; ++i) {
        archive_entry_clear(ae);
        archive_entry_set_pathname(ae, e[i].name);
        archive_entry_set_perm(ae, 0644);
        size_t size = e[i].data ? strlen(e[i].data) : e[i].size;
        switch (e[i].type) {
        case 1: archive_entry_set_filetype(ae, AE_IFLNK); archive_entry_set_symlink(ae, e[i].link); break;
        case 2: archive_entry_set_filetype(ae, AE_IFREG); archive_entry_set_hardlink(ae, e[i].link); break;
        case 3: archive_entry_set_filetype(ae, AE_IFCHR); archive_entry_set_rdev(ae, 0x0103); break;
        case 4: archive_entry_set_filetype(ae, AE_IFDIR); break;
        default: archive_entry_set_filetype(ae, AE_IFREG); archive_entry_set_size(ae, (la_int64_t)size);
        }
        archive_write_header(a, ae);
        if (e[i].type == 0 && size) {
            if (e[i].data) {
                archive_write_data(a, e[i].data, size);
            } else {
                char *z = calloc(1, size);
                archive_write_data(a, z, size);
                free(z);
            }
        }
    }
    archive_entry_free(ae);
    archive_write_close(a);
    archive_write_free(a);
    return b;
}

/* A valid one-triangle glTF: 3 float positions (36 bytes) and 3 ushort
 * indices (6 bytes) in tri.bin. */
static const char GLTF[] =
    "{\"asset\":{\"version\":\"2.0\"},\"scene\":0,\"scenes\":[{\"nodes\":[0]}],"
    "\"nodes\":[{\"mesh\":0}],"
    "\"meshes\":[{\"primitives\":[{\"attributes\":{\"POSITION\":0},\"indices\":1}]}],"
    "\"buffers\":[{\"uri\":\"tri.bin\",\"byteLength\":44}],"
    "\"bufferViews\":[{\"buffer\":0,\"byteOffset\":0,\"byteLength\":36},"
    "{\"buffer\":0,\"byteOffset\":36,\"byteLength\":6}],"
    "\"accessors\":[{\"bufferView\":0,\"componentType\":5126,\"count\":3,\"type\":\"VEC3\"},"
    "{\"bufferView\":1,\"componentType\":5123,\"count\":3,\"type\":\"SCALAR\"}]}";
static const char MANIFEST[] = "{\"schema\": 1, \"scene\": \"s.gltf\"}";

static char TRI_BIN[44];
static char *tri_bin(uint16_t i2)
{
    float p[9] = {0, 0, 0, 1, 0, 0, 0, 1, 0};
    uint16_t idx[4] = {0, 1, i2, 0};
    memcpy(TRI_BIN, p, 36);
    memcpy(TRI_BIN + 36, idx, 8);
    return TRI_BIN;
}

/* GLTF with the first occurrence of `from` replaced by `to`. */
static char *gltf_with(const char *from, const char *to)
{
    static char out[4096];
    const char *at = strstr(GLTF, from);
    if (!at) {
        fprintf(stderr, "test bug: '%s' not in the glTF\n", from);
        abort();
    }
    snprintf(out, sizeof out, "%.*s%s%s", (int)(at - GLTF), GLTF, to, at + strlen(from));
    return out;
}

typedef struct hcase {
    const char *name;
    const char *expect; /* fragment of the message */
    buf pkg;
    xs_pkg_limits lim;
    bool custom_limits; /* not reproducible with the CLI's defaults */
} hcase;

static hcase cases[64];
static int ncases;

static void add(const char *name, const char *expect, buf b, const xs_pkg_limits *lim)
{
    hcase *c = &cases[ncases++];
    c->name = name;
    c->expect = expect;
    c->pkg = b;
    xs_pkg_limits_default(&c->lim);
    c->custom_limits = lim != NULL;
    if (lim)
        c->lim = *lim;
}

/* A scene package whose glTF, manifest and tri.bin are given. */
static buf scene_pkg(const char *manifest, const char *gltf, const char *bin, size_t bin_len)
{
    ent e[3] = {{"manifest.json", manifest, 0, 0, NULL},
                {"s.gltf", gltf, 0, 0, NULL},
                {"tri.bin", NULL, bin_len, 0, NULL}};
    /* binary data: write through a temporary regular entry with explicit bytes */
    buf b = {0};
    struct archive *a = archive_write_new();
    archive_write_add_filter_zstd(a);
    archive_write_set_format_pax_restricted(a);
    archive_write_set_bytes_in_last_block(a, 1);
    archive_write_open(a, &b, NULL, wr, NULL);
    struct archive_entry *ae = archive_entry_new();
    for (int i = 0; i < 3; ++i) {
        if (i == 2 && !bin)
            break;
        const char *d = i < 2 ? e[i].data : bin;
        size_t n = i < 2 ? strlen(d) : bin_len;
        archive_entry_clear(ae);
        archive_entry_set_pathname(ae, e[i].name);
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_entry_set_perm(ae, 0644);
        archive_entry_set_size(ae, (la_int64_t)n);
        archive_write_header(a, ae);
        archive_write_data(a, d, n);
    }
    archive_entry_free(ae);
    archive_write_close(a);
    archive_write_free(a);
    return b;
}

static void build_cases(void)
{
    const char *M = MANIFEST;
    ent abs_[] = {{"manifest.json", M, 0, 0, NULL}, {"/etc/xisuan_evil", "x", 0, 0, NULL}};
    add("absolute_path", "entry '/etc/xisuan_evil': absolute path", make(abs_, 2, true), NULL);
    ent dots[] = {{"manifest.json", M, 0, 0, NULL}, {"a/../../evil", "x", 0, 0, NULL}};
    add("dotdot", "entry 'a/../../evil': path 'a/../../evil' has a '..' component", make(dots, 2, true), NULL);
    ent sym[] = {{"manifest.json", M, 0, 0, NULL}, {"s.gltf", NULL, 0, 1, "/etc/passwd"}};
    add("symlink", "entry 's.gltf': a symbolic link is not allowed", make(sym, 2, true), NULL);
    ent hard[] = {{"manifest.json", M, 0, 0, NULL}, {"s.gltf", NULL, 0, 2, "manifest.json"}};
    add("hardlink", "entry 's.gltf': hard links are not allowed", make(hard, 2, true), NULL);
    ent dev[] = {{"manifest.json", M, 0, 0, NULL}, {"null", NULL, 0, 3, NULL}};
    add("device", "entry 'null': a character device is not allowed", make(dev, 2, true), NULL);
    ent big[] = {{"manifest.json", M, 0, 0, NULL}, {"big.bin", NULL, 5000, 0, NULL}};
    xs_pkg_limits small;
    xs_pkg_limits_default(&small);
    small.max_entry_bytes = 4096;
    add("entry_over_limit", "entry 'big.bin': 5000 bytes exceeds the limit of 4096", make(big, 2, true), &small);
    ent tot[] = {{"manifest.json", M, 0, 0, NULL}, {"a.bin", NULL, 3000, 0, NULL}, {"b.bin", NULL, 3000, 0, NULL}};
    xs_pkg_limits tl;
    xs_pkg_limits_default(&tl);
    tl.max_total_bytes = 5000;
    add("total_over_limit", "entry 'b.bin': the package's total exceeds the limit of 5000", make(tot, 3, true), &tl);
    ent bomb[] = {{"manifest.json", M, 0, 0, NULL}, {"zeros.bin", NULL, 64u << 20, 0, NULL}};
    add("bomb", "exceeds the compression ratio limit of 1000 (a decompression bomb?)", make(bomb, 2, true), NULL);
    ent many[] = {{"a", "1", 0, 0, NULL}, {"b", "2", 0, 0, NULL}, {"c", "3", 0, 0, NULL}, {"d", "4", 0, 0, NULL}};
    xs_pkg_limits ml;
    xs_pkg_limits_default(&ml);
    ml.max_entries = 3;
    add("too_many_entries", "more than 3 entries", make(many, 4, true), &ml);
    ent dup[] = {{"manifest.json", M, 0, 0, NULL}, {"./manifest.json", M, 0, 0, NULL}};
    add("duplicate", "entry 'manifest.json' appears twice", make(dup, 2, true), NULL);
    ent plain[] = {{"manifest.json", M, 0, 0, NULL}};
    add("not_zstd", "not zstd-compressed", make(plain, 1, false), NULL);
    buf junk = {0};
    junk.p = (unsigned char *)strdup("this is not an archive at all, just text");
    junk.n = strlen((char *)junk.p);
    add("garbage", "cannot read as a zstd-compressed tar archive", junk, NULL);
    buf whole = scene_pkg(M, GLTF, tri_bin(2), 44);
    buf cut = {malloc(whole.n / 2), whole.n / 2, 0};
    memcpy(cut.p, whole.p, cut.n);
    free(whole.p);
    add("truncated", "Truncated", cut, NULL);

    ent nomani[] = {{"s.gltf", GLTF, 0, 0, NULL}};
    add("missing_manifest", "manifest.json is missing", make(nomani, 1, true), NULL);
    add("manifest_not_json", "manifest.json: not valid JSON", scene_pkg("{\"schema\": 1,", GLTF, tri_bin(2), 44), NULL);
    add("manifest_bad_spp", "manifest.json: render.spp: must be an integer in [1, 1048576]",
        scene_pkg("{\"schema\": 1, \"scene\": \"s.gltf\", \"render\": {\"spp\": -3}}", GLTF, tri_bin(2), 44), NULL);
    add("manifest_unknown_field", "manifest.json: sceen: unknown field",
        scene_pkg("{\"schema\": 1, \"sceen\": \"s.gltf\"}", GLTF, tri_bin(2), 44), NULL);
    add("manifest_no_schema", "manifest.json: schema: missing",
        scene_pkg("{\"scene\": \"s.gltf\"}", GLTF, tri_bin(2), 44), NULL);
    add("manifest_bad_schema", "manifest.json: schema: must be an integer in [1, 1]",
        scene_pkg("{\"schema\": 2, \"scene\": \"s.gltf\"}", GLTF, tri_bin(2), 44), NULL);
    add("manifest_escape", "manifest.json: scene: path '../s.gltf' has a '..' component",
        scene_pkg("{\"schema\": 1, \"scene\": \"../s.gltf\"}", GLTF, tri_bin(2), 44), NULL);
    add("manifest_bad_fov", "manifest.json: camera.yfov_deg: must be a number in (0, 180)",
        scene_pkg("{\"schema\": 1, \"scene\": \"s.gltf\", \"camera\": {\"position\": [0,0,1], "
                  "\"target\": [0,0,0], \"yfov_deg\": 200}}", GLTF, tri_bin(2), 44), NULL);
    add("manifest_scene_missing", "manifest.json: scene: 'other.gltf' is not in the package",
        scene_pkg("{\"schema\": 1, \"scene\": \"other.gltf\"}", GLTF, tri_bin(2), 44), NULL);
    add("gltf_accessor_overrun", "accessors[0]: 4 elements of 12 bytes (stride 12) from byte 0 overrun its bufferView of 36 bytes",
        scene_pkg(M, gltf_with("\"count\":3,\"type\":\"VEC3\"", "\"count\":4,\"type\":\"VEC3\""), tri_bin(2), 44), NULL);
    add("gltf_index_out_of_range", "meshes[0].primitives[0].indices: index 7 at position 2 is past the 3 vertices",
        scene_pkg(M, GLTF, tri_bin(7), 44), NULL);
    add("gltf_view_out_of_buffer", "bufferViews[1]: bytes [36, 4036) fall outside buffers[0] of 44 bytes",
        scene_pkg(M, gltf_with("\"byteOffset\":36,\"byteLength\":6", "\"byteOffset\":36,\"byteLength\":4000"), tri_bin(2), 44), NULL);
    add("gltf_accessor_index", "accessors[1]: bufferView 9 out of range (2 available)",
        scene_pkg(M, gltf_with("{\"bufferView\":1,", "{\"bufferView\":9,"), tri_bin(2), 44), NULL);
    add("gltf_missing_bin", "buffers[0]: uri 'tri.bin': 'tri.bin' is not in the package",
        scene_pkg(M, GLTF, NULL, 0), NULL);
    add("gltf_missing_image", "images[0]: uri 'tex.png': 'tex.png' is not in the package",
        scene_pkg(M, gltf_with("\"nodes\":[{\"mesh\":0}],", "\"nodes\":[{\"mesh\":0}],\"images\":[{\"uri\":\"tex.png\"}],"), tri_bin(2), 44), NULL);
    add("gltf_uri_escape", "uri '../tri.bin': path '../tri.bin' has a '..' component",
        scene_pkg(M, gltf_with("\"uri\":\"tri.bin\"", "\"uri\":\"../tri.bin\""), tri_bin(2), 44), NULL);
    add("gltf_uri_absolute", "uri 'file:///etc/passwd': only relative file names are allowed",
        scene_pkg(M, gltf_with("\"uri\":\"tri.bin\"", "\"uri\":\"file:///etc/passwd\""), tri_bin(2), 44), NULL);
    add("gltf_lines", "meshes[0].primitives[0].mode: LINES primitives are not supported (only TRIANGLES)",
        scene_pkg(M, gltf_with("\"indices\":1}", "\"indices\":1,\"mode\":1}"), tri_bin(2), 44), NULL);
    add("gltf_cycle", "nodes[0]: the node hierarchy has a cycle",
        scene_pkg(M, gltf_with("\"nodes\":[{\"mesh\":0}]", "\"nodes\":[{\"mesh\":0,\"children\":[1]},{\"children\":[0]}]"), tri_bin(2), 44), NULL);
    add("gltf_not_json", "s.gltf: not valid glTF JSON", scene_pkg(M, "{\"asset\":", tri_bin(2), 44), NULL);
    add("gltf_sparse", "accessors[0].sparse.count: must be an integer in [1, 3]",
        scene_pkg(M, gltf_with("\"count\":3,\"type\":\"VEC3\"", "\"count\":3,\"type\":\"VEC3\",\"sparse\":{}"), tri_bin(2), 44), NULL);
    add("gltf_volume_color", "materials[0].KHR_materials_volume.attenuationColor[1]: must be a number in [0, 1]",
        scene_pkg(M, gltf_with("\"nodes\":[{\"mesh\":0}],", "\"nodes\":[{\"mesh\":0}],\"materials\":[{\"extensions\":"
                  "{\"KHR_materials_volume\":{\"thicknessFactor\":1,\"attenuationColor\":[0.5,2,0.5]}}}],"), tri_bin(2), 44), NULL);
    add("gltf_volume_distance", "materials[0].KHR_materials_volume.attenuationDistance: must be a number above 0",
        scene_pkg(M, gltf_with("\"nodes\":[{\"mesh\":0}],", "\"nodes\":[{\"mesh\":0}],\"materials\":[{\"extensions\":"
                  "{\"KHR_materials_volume\":{\"thicknessFactor\":1,\"attenuationDistance\":0}}}],"), tri_bin(2), 44), NULL);
    add("gltf_required_ext", "extensionsRequired: 'KHR_draco_mesh_compression' is not supported",
        scene_pkg(M, gltf_with("{\"asset\"", "{\"extensionsRequired\":[\"KHR_draco_mesh_compression\"],\"asset\""), tri_bin(2), 44), NULL);
}

static void test_valid_package_opens(void)
{
    buf b = scene_pkg(MANIFEST, GLTF, tri_bin(2), 44);
    xs_pkg_limits lim;
    xs_pkg_limits_default(&lim);
    xs_scene_input *in = NULL;
    xs_err e;
    CHECK_MSG(open_pkg("ok.tar.zst", b.p, b.n, &lim, &in, &e) == XS_OK, "%s", e.msg);
    if (in) {
        CHECK(in->gltf->mesh_count == 1 && in->gltf->instance_count == 1);
        CHECK(in->gltf->tri_count_instanced == 1);
    }
    xs_scene_input_destroy(in);
    free(b.p);
    /* KHR_materials_volume reaches the material */
    b = scene_pkg(MANIFEST,
                  gltf_with("\"nodes\":[{\"mesh\":0}],",
                            "\"nodes\":[{\"mesh\":0}],\"materials\":[{\"extensions\":{"
                            "\"KHR_materials_transmission\":{\"transmissionFactor\":1},"
                            "\"KHR_materials_volume\":{\"thicknessFactor\":0.2,\"attenuationDistance\":2,"
                            "\"attenuationColor\":[0.5,0.25,1]}}}],"),
                  tri_bin(2), 44);
    in = NULL;
    CHECK_MSG(open_pkg("vol.tar.zst", b.p, b.n, &lim, &in, &e) == XS_OK, "%s", e.msg);
    if (in) {
        const xs_gltf_material *m = &in->gltf->materials[0];
        CHECK(in->gltf->material_count == 1 && m->volume && m->transmission == 1.0f);
        CHECK(m->attenuation_distance == 2.0f && m->attenuation_color[1] == 0.25f);
    }
    xs_scene_input_destroy(in);
    free(b.p);
}

static void test_hostile(void)
{
    for (int i = 0; i < ncases; ++i) {
        xs_scene_input *in = NULL;
        xs_err e;
        xs_err_clear(&e);
        xs_result r = open_pkg("h.tar.zst", cases[i].pkg.p, cases[i].pkg.n, &cases[i].lim, &in, &e);
        CHECK_MSG(r != XS_OK, "case %s was accepted", cases[i].name);
        CHECK_MSG(strstr(e.msg, cases[i].expect) != NULL, "case %s: message '%s' lacks '%s'",
                  cases[i].name, e.msg, cases[i].expect);
        CHECK_MSG(strncmp(e.msg, "h.tar.zst", 9) == 0, "case %s: message does not name the package",
                  cases[i].name);
        xs_scene_input_destroy(in);
    }
    printf("%d hostile or broken packages refused\n", ncases);
}

static void test_path_normalize(void)
{
    char out[64];
    xs_err e;
    CHECK(xs_path_normalize("./a//b/./c.bin", out, sizeof out, &e) == XS_OK && strcmp(out, "a/b/c.bin") == 0);
    CHECK(xs_path_normalize("/a", out, sizeof out, &e) == XS_ERR_INVALID);
    CHECK(xs_path_normalize("a/..", out, sizeof out, &e) == XS_ERR_INVALID);
    CHECK(xs_path_normalize("a\\b", out, sizeof out, &e) == XS_ERR_INVALID);
    CHECK(xs_path_normalize("C:/x", out, sizeof out, &e) == XS_ERR_INVALID);
    CHECK(xs_path_normalize("./", out, sizeof out, &e) == XS_ERR_INVALID);
    CHECK(xs_path_normalize("a\n", out, sizeof out, &e) == XS_ERR_INVALID);
}

int main(int argc, char **argv)
{
    build_cases();
    if (argc == 3 && strcmp(argv[1], "write") == 0) {
        for (int i = 0; i < ncases; ++i) {
            if (cases[i].custom_limits)
                continue;
            char p[1024];
            snprintf(p, sizeof p, "%s/%s.tar.zst", argv[2], cases[i].name);
            FILE *f = fopen(p, "wb");
            if (!f)
                return 2;
            fwrite(cases[i].pkg.p, 1, cases[i].pkg.n, f);
            fclose(f);
            snprintf(p, sizeof p, "%s/%s.expect", argv[2], cases[i].name);
            f = fopen(p, "w");
            if (!f)
                return 2;
            fputs(cases[i].expect, f);
            fclose(f);
        }
        return 0;
    }
    static const xs_test_case tc[] = {
        {"valid_package_opens", test_valid_package_opens},
        {"hostile", test_hostile},
        {"path_normalize", test_path_normalize},
    };
    int rc = xs_test_main(argc, argv, tc, sizeof tc / sizeof tc[0]);
    for (int i = 0; i < ncases; ++i)
        free(cases[i].pkg.p);
    return rc;
}
