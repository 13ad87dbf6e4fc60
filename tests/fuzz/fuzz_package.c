/* libFuzzer target: package extraction (io/package.c) under small limits,
 * then manifest and glTF loading of whatever the archive holds
 * (io/scene_input.c). */
#include "io/xs_scene_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xs_scene_limits lim;
    xs_scene_limits_default(&lim);
    lim.pkg.max_entry_bytes = 16u << 20;
    lim.pkg.max_total_bytes = 32u << 20;
    lim.pkg.max_entries = 1000;
    lim.gltf.max_triangles = 1u << 20;
    lim.gltf.max_image_pixels = 1u << 22;
    lim.gltf.max_texture_bytes = 64u << 20;
    lim.max_env_pixels = 1u << 22;
    xs_scene_input *in = NULL;
    xs_err e;
    xs_scene_input_open("fuzz.tar.zst", data, size, &lim, &in, &e);
    xs_scene_input_destroy(in);
    return 0;
}
