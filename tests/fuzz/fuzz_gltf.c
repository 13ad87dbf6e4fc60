/* libFuzzer target: the glTF loader (io/gltf.c) on .gltf JSON or .glb bytes.
 * External files resolve to a fixed 64-byte buffer, so buffer, accessor and
 * image checks run against real bytes. */
#include "io/xs_gltf.h"

static const unsigned char fixed[64] = {0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 0, 1, 0, 2, 0};

static xs_result fetch(void *user, const char *path, const unsigned char **d, size_t *n, xs_err *e)
{
    (void)user, (void)path, (void)e;
    *d = fixed;
    *n = sizeof fixed;
    return XS_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xs_gltf_limits gl;
    xs_gltf_limits_default(&gl);
    gl.max_triangles = 1u << 20;
    gl.max_image_pixels = 1u << 22;
    xs_gltf_scene *s = NULL;
    xs_err e;
    xs_gltf_load("fuzz.gltf", data, size, fetch, NULL, &gl, &s, &e);
    xs_gltf_destroy(s);
    return 0;
}
