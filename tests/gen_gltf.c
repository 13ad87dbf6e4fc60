/* gen_gltf OUT.glb --skinned-tube TRIS: a tube of about TRIS triangles along y
 * (0 to 4), skinned to two joints (the upper half to a joint at y = 2,
 * blended over the middle), the upper joint bending 0 -> 90 -> 0 degrees
 * and the root sliding 1 unit along x over 4 seconds (LINEAR), a camera;
 * for the animation benchmark (bench/animation.sh).
 * gen_gltf OUT.glb SEGMENTS SIDE [unique|glass|thinglass|field]: writes a generated glTF scene: a
 * ground quad and SIDE x SIDE spheres of SEGMENTS x SEGMENTS/2 quads (2
 * triangles each), lit by one emissive quad, with a camera. By default every
 * sphere is an instance of one mesh (one mesh, SIDE^2 nodes); with `unique`
 * each sphere is its own mesh (the same triangles stored SIDE^2 times). With
 * `glass` the spheres are solid clear glass that absorbs green and blue inside
 * (KHR_materials_volume), with `thinglass` the same without the volume (thin
 * walls: no absorption). With `field` the SIDE x SIDE spheres (SIDE up to
 * 5000: 25 million) are one node's EXT_mesh_gpu_instancing: TRANSLATION,
 * ROTATION and SCALE accessors of SIDE^2 elements each (40 bytes an
 * instance in the file), sizes and orientations hashed from the index. Used
 * by the instancing test and the load benchmark (a million triangles and
 * more). Prints "meshes M instances I triangles T". */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put32(FILE *f, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    fwrite(b, 1, 4, f);
}

static int write_glb(const char *path, char *j, size_t o, const unsigned char *bin, size_t bin_len)
{
    while (o % 4)
        j[o++] = ' ';
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return 1;
    }
    fwrite("glTF", 1, 4, f);
    put32(f, 2);
    put32(f, (uint32_t)(12 + 8 + o + 8 + bin_len));
    put32(f, (uint32_t)o);
    put32(f, 0x4E4F534Au);
    fwrite(j, 1, o, f);
    put32(f, (uint32_t)bin_len);
    put32(f, 0x004E4942u);
    fwrite(bin, 1, bin_len, f);
    return fclose(f) == 0 ? 0 : 1;
}

static int skinned_tube(const char *path, long tris)
{
    int seg = 256, rings = (int)(tris / (2 * seg));
    if (rings < 2)
        rings = 2;
    size_t nv = (size_t)(rings + 1) * (size_t)seg, nt = (size_t)rings * (size_t)seg * 2;
    size_t pb = nv * 12, nb = nv * 12, jb = nv * 8, wb = nv * 16, ib = nt * 12;
    float t[5] = {0, 1, 2, 3, 4};
    float rot[20] = {0, 0, 0, 1, 0, 0, 0.38268343f, 0.92387953f, 0, 0, 0.70710678f, 0.70710678f,
                     0, 0, 0.38268343f, 0.92387953f, 0, 0, 0, 1};
    float mov[15] = {0, 0, 0, 0.25f, 0, 0, 0.5f, 0, 0, 0.75f, 0, 0, 1, 0, 0};
    float ibm[32] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, -2, 0, 1};
    size_t ab = sizeof t + sizeof rot + sizeof mov + sizeof ibm;
    size_t bin_len = pb + nb + jb + wb + ib + ab;
    unsigned char *bin = calloc(1, bin_len);
    float *p = (float *)bin, *n = (float *)(bin + pb), *w = (float *)(bin + pb + nb + jb);
    uint16_t *jn = (uint16_t *)(bin + pb + nb);
    for (int r = 0; r <= rings; ++r)
        for (int k = 0; k < seg; ++k) {
            size_t v = (size_t)r * (size_t)seg + (size_t)k;
            double a = 2 * M_PI * k / seg, y = 4.0 * r / rings;
            p[3 * v] = (float)(0.3 * cos(a)), p[3 * v + 1] = (float)y, p[3 * v + 2] = (float)(0.3 * sin(a));
            n[3 * v] = (float)cos(a), n[3 * v + 1] = 0, n[3 * v + 2] = (float)sin(a);
            double up = y < 1.6 ? 0.0 : y > 2.4 ? 1.0 : (y - 1.6) / 0.8;
            jn[4 * v] = 0, jn[4 * v + 1] = 1;
            w[4 * v] = (float)(1.0 - up), w[4 * v + 1] = (float)up;
        }
    uint32_t *ix = (uint32_t *)(bin + pb + nb + jb + wb);
    for (int r = 0; r < rings; ++r)
        for (int k = 0; k < seg; ++k) {
            uint32_t a = (uint32_t)(r * seg + k), b = (uint32_t)(r * seg + (k + 1) % seg);
            uint32_t c = a + (uint32_t)seg, d = b + (uint32_t)seg;
            *ix++ = a, *ix++ = c, *ix++ = b, *ix++ = b, *ix++ = c, *ix++ = d;
        }
    unsigned char *q = bin + pb + nb + jb + wb + ib;
    memcpy(q, t, sizeof t), memcpy(q + sizeof t, rot, sizeof rot);
    memcpy(q + sizeof t + sizeof rot, mov, sizeof mov), memcpy(q + sizeof t + sizeof rot + sizeof mov, ibm, sizeof ibm);
    size_t jcap = 8192, o = 0, off = 0;
    char *j = malloc(jcap);
#define K(...) o += (size_t)snprintf(j + o, jcap - o, __VA_ARGS__)
    K("{\"asset\":{\"version\":\"2.0\",\"generator\":\"xisuan tests/gen_gltf\"},\"scene\":0,"
      "\"scenes\":[{\"nodes\":[0,1,3]}],\"nodes\":[{\"mesh\":0,\"skin\":0},{\"children\":[2]},"
      "{\"translation\":[0,2,0]},{\"camera\":0,\"translation\":[0.5,2,9]}],"
      "\"cameras\":[{\"type\":\"perspective\",\"perspective\":{\"yfov\":0.6,\"znear\":0.01}}],"
      "\"skins\":[{\"joints\":[1,2],\"inverseBindMatrices\":7}],"
      "\"materials\":[{\"pbrMetallicRoughness\":{\"baseColorFactor\":[0.8,0.3,0.2,1],\"metallicFactor\":0}}],"
      "\"meshes\":[{\"primitives\":[{\"attributes\":{\"POSITION\":0,\"NORMAL\":1,\"JOINTS_0\":2,"
      "\"WEIGHTS_0\":3},\"indices\":4,\"material\":0}]}],"
      "\"animations\":[{\"samplers\":[{\"input\":5,\"output\":6},{\"input\":5,\"output\":8}],"
      "\"channels\":[{\"sampler\":0,\"target\":{\"node\":2,\"path\":\"rotation\"}},"
      "{\"sampler\":1,\"target\":{\"node\":1,\"path\":\"translation\"}}]}],"
      "\"buffers\":[{\"byteLength\":%zu}],\"bufferViews\":[", bin_len);
    const size_t views[9] = {pb, nb, jb, wb, ib, sizeof t, sizeof rot, sizeof ibm, sizeof mov};
    /* the order in bin: t, rot, mov, ibm; views 5..8 are t, rot, ibm, mov */
    size_t voff[9];
    for (int i = 0; i < 5; ++i)
        voff[i] = off, off += views[i];
    voff[5] = off, voff[6] = off + sizeof t, voff[8] = off + sizeof t + sizeof rot,
    voff[7] = off + sizeof t + sizeof rot + sizeof mov;
    for (int i = 0; i < 9; ++i)
        K("%s{\"buffer\":0,\"byteOffset\":%zu,\"byteLength\":%zu}", i ? "," : "", voff[i], views[i]);
    K("],\"accessors\":[{\"bufferView\":0,\"componentType\":5126,\"count\":%zu,\"type\":\"VEC3\"},"
      "{\"bufferView\":1,\"componentType\":5126,\"count\":%zu,\"type\":\"VEC3\"},"
      "{\"bufferView\":2,\"componentType\":5123,\"count\":%zu,\"type\":\"VEC4\"},"
      "{\"bufferView\":3,\"componentType\":5126,\"count\":%zu,\"type\":\"VEC4\"},"
      "{\"bufferView\":4,\"componentType\":5125,\"count\":%zu,\"type\":\"SCALAR\"},"
      "{\"bufferView\":5,\"componentType\":5126,\"count\":5,\"type\":\"SCALAR\"},"
      "{\"bufferView\":6,\"componentType\":5126,\"count\":5,\"type\":\"VEC4\"},"
      "{\"bufferView\":7,\"componentType\":5126,\"count\":2,\"type\":\"MAT4\"},"
      "{\"bufferView\":8,\"componentType\":5126,\"count\":5,\"type\":\"VEC3\"}]}",
      nv, nv, nv, nv, nt * 3);
#undef K
    int rc = write_glb(path, j, o, bin, bin_len);
    printf("skinned tube: vertices %zu triangles %zu joints 2\n", nv, nt);
    free(j), free(bin);
    return rc;
}
static uint32_t hash32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

/* The `field` scene: a sphere mesh placed SIDE^2 times by one node's
 * EXT_mesh_gpu_instancing, a ground quad, a light quad and a camera. */
static int write_field(const char *out, int seg, int side)
{
    if (seg < 3 || side < 1 || side > 5000) {
        fprintf(stderr, "gen_gltf: field: SEGMENTS >= 3, SIDE in [1, 5000]\n");
        return 2;
    }
    int rings = seg / 2;
    size_t nv = (size_t)(seg + 1) * (size_t)(rings + 1), nt = (size_t)seg * (size_t)rings * 2;
    size_t n = (size_t)side * (size_t)side;
    size_t sp = nv * 12, si = nt * 12, qp = 48, qi = 24, tr = n * 12, ro = n * 16, sc = n * 12;
    size_t bin_len = sp + si + qp + qi + tr + ro + sc;
    unsigned char *bin = calloc(1, bin_len);
    if (!bin) {
        fprintf(stderr, "gen_gltf: out of memory for %zu bytes\n", bin_len);
        return 1;
    }
    float *p = (float *)bin;
    for (int r = 0; r <= rings; ++r)
        for (int s = 0; s <= seg; ++s) {
            double th = M_PI * r / rings, ph = 2 * M_PI * s / seg;
            *p++ = (float)(sin(th) * cos(ph));
            *p++ = (float)cos(th);
            *p++ = (float)(sin(th) * sin(ph));
        }
    uint32_t *ix = (uint32_t *)(bin + sp);
    for (int r = 0; r < rings; ++r)
        for (int s = 0; s < seg; ++s) {
            uint32_t a = (uint32_t)(r * (seg + 1) + s), b = a + (uint32_t)seg + 1;
            *ix++ = a, *ix++ = b, *ix++ = a + 1;
            *ix++ = a + 1, *ix++ = b, *ix++ = b + 1;
        }
    float quad[12] = {-1, 0, -1, 1, 0, -1, 1, 0, 1, -1, 0, 1};
    uint32_t qidx[6] = {0, 2, 1, 0, 3, 2};
    memcpy(bin + sp + si, quad, sizeof quad);
    memcpy(bin + sp + si + qp, qidx, sizeof qidx);
    float *t = (float *)(bin + sp + si + qp + qi), *q = (float *)(bin + sp + si + qp + qi + tr),
          *k = (float *)(bin + sp + si + qp + qi + tr + ro);
    for (size_t i = 0; i < n; ++i) {
        uint32_t h = hash32((uint32_t)i);
        double x = ((double)(i % (size_t)side) - (side - 1) / 2.0) * 2.5;
        double z = ((double)(i / (size_t)side) - (side - 1) / 2.0) * 2.5;
        float s = 0.5f + 0.5f * (float)(h & 1023u) / 1023.0f;
        double ang = (double)((h >> 10) & 1023u) / 1023.0 * M_PI;
        t[3 * i] = (float)x, t[3 * i + 1] = s, t[3 * i + 2] = (float)z;
        q[4 * i] = 0, q[4 * i + 1] = (float)sin(ang / 2), q[4 * i + 2] = 0, q[4 * i + 3] = (float)cos(ang / 2);
        k[3 * i] = s, k[3 * i + 1] = s * 0.7f, k[3 * i + 2] = s;
    }
    char j[8192];
    size_t o = 0;
#define JF(...) o += (size_t)snprintf(j + o, sizeof j - o, __VA_ARGS__)
    double ext = side * 2.5;
    JF("{\"asset\":{\"version\":\"2.0\",\"generator\":\"xisuan tests/gen_gltf field\"},\"scene\":0,");
    JF("\"extensionsUsed\":[\"EXT_mesh_gpu_instancing\",\"KHR_materials_emissive_strength\"],");
    JF("\"extensionsRequired\":[\"EXT_mesh_gpu_instancing\"],\"scenes\":[{\"nodes\":[0,1,2,3]}],\"nodes\":[");
    JF("{\"mesh\":0,\"extensions\":{\"EXT_mesh_gpu_instancing\":{\"attributes\":{\"TRANSLATION\":4,"
       "\"ROTATION\":5,\"SCALE\":6}}}},");
    JF("{\"mesh\":1,\"scale\":[%.3f,1,%.3f]},", ext, ext);
    JF("{\"mesh\":2,\"translation\":[0,%.3f,0],\"scale\":[%.3f,1,%.3f],\"rotation\":[1,0,0,0]},", ext,
       ext * 0.3, ext * 0.3);
    JF("{\"camera\":0,\"translation\":[0,%.3f,%.3f],\"rotation\":[-0.2588,0,0,0.9659]}],", ext * 0.6, ext * 1.6);
    JF("\"cameras\":[{\"type\":\"perspective\",\"perspective\":{\"yfov\":0.8,\"znear\":0.01}}],");
    JF("\"materials\":[{\"pbrMetallicRoughness\":{\"baseColorFactor\":[0.8,0.3,0.2,1]}},"
       "{\"pbrMetallicRoughness\":{\"baseColorFactor\":[0.7,0.7,0.7,1]}},"
       "{\"emissiveFactor\":[1,1,1],\"extensions\":{\"KHR_materials_emissive_strength\":{\"emissiveStrength\":4}}}],");
    JF("\"meshes\":[{\"primitives\":[{\"attributes\":{\"POSITION\":0},\"indices\":1,\"material\":0}]},"
       "{\"primitives\":[{\"attributes\":{\"POSITION\":2},\"indices\":3,\"material\":1}]},"
       "{\"primitives\":[{\"attributes\":{\"POSITION\":2},\"indices\":3,\"material\":2}]}],");
    JF("\"buffers\":[{\"byteLength\":%zu}],\"bufferViews\":[", bin_len);
    size_t offs[7] = {0, sp, sp + si, sp + si + qp, sp + si + qp + qi, sp + si + qp + qi + tr,
                      sp + si + qp + qi + tr + ro};
    size_t lens[7] = {sp, si, qp, qi, tr, ro, sc};
    for (int v = 0; v < 7; ++v)
        JF("%s{\"buffer\":0,\"byteOffset\":%zu,\"byteLength\":%zu}", v ? "," : "", offs[v], lens[v]);
    JF("],\"accessors\":[{\"bufferView\":0,\"componentType\":5126,\"count\":%zu,\"type\":\"VEC3\","
       "\"min\":[-1,-1,-1],\"max\":[1,1,1]},", nv);
    JF("{\"bufferView\":1,\"componentType\":5125,\"count\":%zu,\"type\":\"SCALAR\"},", nt * 3);
    JF("{\"bufferView\":2,\"componentType\":5126,\"count\":4,\"type\":\"VEC3\",\"min\":[-1,0,-1],"
       "\"max\":[1,0,1]},");
    JF("{\"bufferView\":3,\"componentType\":5125,\"count\":6,\"type\":\"SCALAR\"},");
    JF("{\"bufferView\":4,\"componentType\":5126,\"count\":%zu,\"type\":\"VEC3\"},", n);
    JF("{\"bufferView\":5,\"componentType\":5126,\"count\":%zu,\"type\":\"VEC4\"},", n);
    JF("{\"bufferView\":6,\"componentType\":5126,\"count\":%zu,\"type\":\"VEC3\"}]}", n);
#undef JF
    int rc = write_glb(out, j, o, bin, bin_len);
    printf("meshes 3 instances %zu triangles %zu\n", n + 2, nt * n + 4);
    free(bin);
    return rc;
}


int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[2], "--skinned-tube") == 0)
        return skinned_tube(argv[1], atol(argv[3]));
    if (argc < 4) {
        fprintf(stderr, "usage: gen_gltf OUT.glb SEGMENTS SIDE [unique|glass|thinglass]\n");
        return 2;
    }
    int seg = atoi(argv[2]), side = atoi(argv[3]);
    int unique = argc > 4 && strcmp(argv[4], "unique") == 0;
    int glass = argc > 4 ? (strcmp(argv[4], "glass") == 0 ? 2 : strcmp(argv[4], "thinglass") == 0) : 0;
    int field = argc > 4 && strcmp(argv[4], "field") == 0;
    if (field)
        return write_field(argv[1], seg, side);
    if (seg < 3 || side < 1 || side > 1000) {
        fprintf(stderr, "gen_gltf: bad SEGMENTS or SIDE\n");
        return 2;
    }
    int rings = seg / 2;
    size_t nv = (size_t)(seg + 1) * (size_t)(rings + 1), nt = (size_t)seg * (size_t)rings * 2;
    /* binary: sphere positions, sphere indices, quad positions, quad indices */
    size_t sp_bytes = nv * 12, si_bytes = nt * 12, qp_bytes = 4 * 12, qi_bytes = 6 * 4;
    size_t bin_len = sp_bytes + si_bytes + qp_bytes + qi_bytes;
    unsigned char *bin = calloc(1, bin_len);
    float *p = (float *)bin;
    for (int r = 0; r <= rings; ++r)
        for (int s = 0; s <= seg; ++s) {
            double th = M_PI * r / rings, ph = 2 * M_PI * s / seg;
            *p++ = (float)(sin(th) * cos(ph));
            *p++ = (float)cos(th);
            *p++ = (float)(sin(th) * sin(ph));
        }
    uint32_t *ix = (uint32_t *)(bin + sp_bytes);
    for (int r = 0; r < rings; ++r)
        for (int s = 0; s < seg; ++s) {
            uint32_t a = (uint32_t)(r * (seg + 1) + s), b = a + (uint32_t)seg + 1;
            *ix++ = a, *ix++ = b, *ix++ = a + 1;
            *ix++ = a + 1, *ix++ = b, *ix++ = b + 1;
        }
    float quad[12] = {-1, 0, -1, 1, 0, -1, 1, 0, 1, -1, 0, 1};
    uint32_t qidx[6] = {0, 2, 1, 0, 3, 2};
    memcpy(bin + sp_bytes + si_bytes, quad, sizeof quad);
    memcpy(bin + sp_bytes + si_bytes + qp_bytes, qidx, sizeof qidx);

    size_t jcap = 4096 + (size_t)side * side * 400;
    char *j = malloc(jcap);
    size_t o = 0;
#define J(...) o += (size_t)snprintf(j + o, jcap - o, __VA_ARGS__)
    int nspheres = side * side, nmesh_spheres = unique ? nspheres : 1;
    J("{\"asset\":{\"version\":\"2.0\",\"generator\":\"xisuan tests/gen_gltf\"},\"scene\":0,");
    J("\"scenes\":[{\"nodes\":[");
    for (int i = 0; i < nspheres + 3; ++i)
        J("%s%d", i ? "," : "", i);
    J("]}],\"nodes\":[");
    for (int i = 0; i < nspheres; ++i) {
        double x = (i % side - (side - 1) / 2.0) * 2.5, z = (i / side - (side - 1) / 2.0) * 2.5;
        J("{\"mesh\":%d,\"translation\":[%.3f,1,%.3f]},", unique ? i : 0, x, z);
    }
    double ext = side * 2.5;
    J("{\"mesh\":%d,\"scale\":[%.3f,1,%.3f]},", nmesh_spheres, ext, ext);
    J("{\"mesh\":%d,\"translation\":[0,%.3f,0],\"scale\":[%.3f,1,%.3f],\"rotation\":[1,0,0,0]},",
      nmesh_spheres + 1, ext, ext * 0.3, ext * 0.3);
    J("{\"camera\":0,\"translation\":[0,%.3f,%.3f],\"rotation\":[-0.2588,0,0,0.9659]}],", ext * 0.6, ext * 1.6);
    J("\"cameras\":[{\"type\":\"perspective\",\"perspective\":{\"yfov\":0.8,\"znear\":0.01}}],");
    if (glass)
        J("\"materials\":[{\"pbrMetallicRoughness\":{\"baseColorFactor\":[1,1,1,1],\"metallicFactor\":0,"
          "\"roughnessFactor\":0.05},\"extensions\":{\"KHR_materials_transmission\":{\"transmissionFactor\":1},"
          "\"KHR_materials_ior\":{\"ior\":1.5}%s}},",
          glass == 2 ? ",\"KHR_materials_volume\":{\"thicknessFactor\":1,\"attenuationDistance\":0.5,"
                       "\"attenuationColor\":[1,0.2,0.2]}" : "");
    else
        J("\"materials\":[{\"pbrMetallicRoughness\":{\"baseColorFactor\":[0.8,0.3,0.2,1]}},");
    J("{\"pbrMetallicRoughness\":{\"baseColorFactor\":[0.7,0.7,0.7,1]}},"
      "{\"emissiveFactor\":[1,1,1],\"extensions\":{\"KHR_materials_emissive_strength\":{\"emissiveStrength\":4}}}],");
    J("\"extensionsUsed\":[\"KHR_materials_emissive_strength\"%s],\"meshes\":[",
      glass ? ",\"KHR_materials_transmission\",\"KHR_materials_ior\",\"KHR_materials_volume\"" : "");
    for (int i = 0; i < nmesh_spheres; ++i)
        J("{\"primitives\":[{\"attributes\":{\"POSITION\":0},\"indices\":1,\"material\":0}]},");
    J("{\"primitives\":[{\"attributes\":{\"POSITION\":2},\"indices\":3,\"material\":1}]},");
    J("{\"primitives\":[{\"attributes\":{\"POSITION\":2},\"indices\":3,\"material\":2}]}],");
    J("\"buffers\":[{\"byteLength\":%zu}],\"bufferViews\":[", bin_len);
    J("{\"buffer\":0,\"byteOffset\":0,\"byteLength\":%zu},", sp_bytes);
    J("{\"buffer\":0,\"byteOffset\":%zu,\"byteLength\":%zu},", sp_bytes, si_bytes);
    J("{\"buffer\":0,\"byteOffset\":%zu,\"byteLength\":%zu},", sp_bytes + si_bytes, qp_bytes);
    J("{\"buffer\":0,\"byteOffset\":%zu,\"byteLength\":%zu}],", sp_bytes + si_bytes + qp_bytes, qi_bytes);
    J("\"accessors\":[{\"bufferView\":0,\"componentType\":5126,\"count\":%zu,\"type\":\"VEC3\",\"min\":[-1,-1,-1],\"max\":[1,1,1]},", nv);
    J("{\"bufferView\":1,\"componentType\":5125,\"count\":%zu,\"type\":\"SCALAR\"},", nt * 3);
    J("{\"bufferView\":2,\"componentType\":5126,\"count\":4,\"type\":\"VEC3\",\"min\":[-1,0,-1],\"max\":[1,0,1]},");
    J("{\"bufferView\":3,\"componentType\":5125,\"count\":6,\"type\":\"SCALAR\"}]}");
    while (o % 4)
        j[o++] = ' ';
    FILE *f = fopen(argv[1], "wb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    size_t total = 12 + 8 + o + 8 + bin_len;
    fwrite("glTF", 1, 4, f);
    put32(f, 2);
    put32(f, (uint32_t)total);
    put32(f, (uint32_t)o);
    put32(f, 0x4E4F534Au);
    fwrite(j, 1, o, f);
    put32(f, (uint32_t)bin_len);
    put32(f, 0x004E4942u);
    fwrite(bin, 1, bin_len, f);
    fclose(f);
    printf("meshes %d instances %d triangles %zu\n", nmesh_spheres + 2, nspheres + 2,
           nt * (size_t)nspheres + 4);
    free(j);
    free(bin);
    return 0;
}
