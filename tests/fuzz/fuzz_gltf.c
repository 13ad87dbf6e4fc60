/* libFuzzer target: the glTF loader (io/gltf.c, io/gltf_anim.c) on .gltf
 * JSON or .glb bytes. External files resolve to a fixed 64-byte buffer, so
 * buffer, accessor and image checks run against real bytes. What loads is
 * then animated (render/animation.c): every animation sampled before, inside
 * and after its keyframes, and every skin's joint matrices taken, so what
 * the loader lets through is what the renderer can evaluate. */
#include "io/xs_gltf.h"
#include "render/xs_animation.h"

#include <stdlib.h>

static const unsigned char fixed[64] = {0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 0, 1, 0, 2, 0};

static xs_result fetch(void *user, const char *path, const unsigned char **d, size_t *n, xs_err *e)
{
    (void)user, (void)path, (void)e;
    *d = fixed;
    *n = sizeof fixed;
    return XS_OK;
}

static void animate(const xs_gltf_scene *s)
{
    xs_anim *a = NULL;
    xs_err e;
    if (s->node_count == 0 || xs_anim_create(s, "", &a, &e) != XS_OK)
        return;
    double t0, t1;
    xs_anim_range(a, &t0, &t1);
    const double ts[] = {-1.0, t0, 0.5 * (t0 + t1), t1, t1 + 1e6};
    for (int k = 0; k < 5; ++k) {
        xs_anim_pose(a, ts[k]);
        for (int i = 0; i < s->skin_count; ++i) {
            float *m = malloc((size_t)xs_anim_joint_count(a, i) * 16 * sizeof *m);
            if (m)
                xs_anim_joint_matrices(a, i, m);
            free(m);
        }
    }
    xs_anim_destroy(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xs_gltf_limits gl;
    xs_gltf_limits_default(&gl);
    gl.max_triangles = 1u << 20;
    gl.max_image_pixels = 1u << 22;
    gl.max_keyframes = 1u << 20;
    xs_gltf_scene *s = NULL;
    xs_err e;
    if (xs_gltf_load("fuzz.gltf", data, size, fetch, NULL, &gl, &s, &e) == XS_OK)
        animate(s);
    xs_gltf_destroy(s);
    return 0;
}
