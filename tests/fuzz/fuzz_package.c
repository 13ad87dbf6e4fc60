/* libFuzzer target: package extraction (io/package.c) under small limits,
 * then manifest and glTF loading of whatever the archive holds
 * (io/scene_input.c). */
#include "io/xs_scene_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xs_pkg_limits lim;
    xs_pkg_limits_default(&lim);
    lim.max_entry_bytes = 16u << 20;
    lim.max_total_bytes = 32u << 20;
    lim.max_entries = 1000;
    xs_gltf_limits gl;
    xs_gltf_limits_default(&gl);
    gl.max_triangles = 1u << 20;
    gl.max_image_pixels = 1u << 22;
    xs_scene_input *in = NULL;
    xs_err e;
    xs_scene_input_open("fuzz.tar.zst", data, size, &lim, &gl, &in, &e);
    xs_scene_input_destroy(in);
    return 0;
}
