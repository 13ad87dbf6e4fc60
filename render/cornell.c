/* The built-in Cornell box, from the measurements published by the Cornell
 * Program of Computer Graphics (https://www.graphics.cornell.edu/online/box/data.html):
 * geometry and camera in millimetres as measured. Reflectances and the light's
 * radiance are the usual RGB reductions of the measured spectra (the same
 * values as ../shared/scenes/CornellBox: white 0.725 0.71 0.68, red 0.63 0.065
 * 0.05, green 0.14 0.45 0.091, light radiance 17 12 4). The light is lowered
 * 0.1 mm below the ceiling so the two planes never coincide, and emits
 * downwards only.
 */
#include "render/xs_scene.h"

#include <pthread.h>
#include <string.h>

enum { MAT_WHITE, MAT_RED, MAT_GREEN, MAT_LIGHT, MAT_COUNT };

/* Quads as 4 corners each, in the order of the published data. */
static const float cornell_quads[][4][3] = {
    /* floor */
    {{552.8f, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 559.2f}, {549.6f, 0.0f, 559.2f}},
    /* light (y 548.8 in the data, see above) */
    {{343.0f, 548.7f, 227.0f}, {343.0f, 548.7f, 332.0f}, {213.0f, 548.7f, 332.0f},
     {213.0f, 548.7f, 227.0f}},
    /* ceiling */
    {{556.0f, 548.8f, 0.0f}, {556.0f, 548.8f, 559.2f}, {0.0f, 548.8f, 559.2f}, {0.0f, 548.8f, 0.0f}},
    /* back wall */
    {{549.6f, 0.0f, 559.2f}, {0.0f, 0.0f, 559.2f}, {0.0f, 548.8f, 559.2f}, {556.0f, 548.8f, 559.2f}},
    /* right wall (green) */
    {{0.0f, 0.0f, 559.2f}, {0.0f, 0.0f, 0.0f}, {0.0f, 548.8f, 0.0f}, {0.0f, 548.8f, 559.2f}},
    /* left wall (red) */
    {{552.8f, 0.0f, 0.0f}, {549.6f, 0.0f, 559.2f}, {556.0f, 548.8f, 559.2f}, {556.0f, 548.8f, 0.0f}},
    /* short block */
    {{130.0f, 165.0f, 65.0f}, {82.0f, 165.0f, 225.0f}, {240.0f, 165.0f, 272.0f}, {290.0f, 165.0f, 114.0f}},
    {{290.0f, 0.0f, 114.0f}, {290.0f, 165.0f, 114.0f}, {240.0f, 165.0f, 272.0f}, {240.0f, 0.0f, 272.0f}},
    {{130.0f, 0.0f, 65.0f}, {130.0f, 165.0f, 65.0f}, {290.0f, 165.0f, 114.0f}, {290.0f, 0.0f, 114.0f}},
    {{82.0f, 0.0f, 225.0f}, {82.0f, 165.0f, 225.0f}, {130.0f, 165.0f, 65.0f}, {130.0f, 0.0f, 65.0f}},
    {{240.0f, 0.0f, 272.0f}, {240.0f, 165.0f, 272.0f}, {82.0f, 165.0f, 225.0f}, {82.0f, 0.0f, 225.0f}},
    /* tall block */
    {{423.0f, 330.0f, 247.0f}, {265.0f, 330.0f, 296.0f}, {314.0f, 330.0f, 456.0f}, {472.0f, 330.0f, 406.0f}},
    {{423.0f, 0.0f, 247.0f}, {423.0f, 330.0f, 247.0f}, {472.0f, 330.0f, 406.0f}, {472.0f, 0.0f, 406.0f}},
    {{472.0f, 0.0f, 406.0f}, {472.0f, 330.0f, 406.0f}, {314.0f, 330.0f, 456.0f}, {314.0f, 0.0f, 456.0f}},
    {{314.0f, 0.0f, 456.0f}, {314.0f, 330.0f, 456.0f}, {265.0f, 330.0f, 296.0f}, {265.0f, 0.0f, 296.0f}},
    {{265.0f, 0.0f, 296.0f}, {265.0f, 330.0f, 296.0f}, {423.0f, 330.0f, 247.0f}, {423.0f, 0.0f, 247.0f}},
};
static const unsigned char cornell_quad_material[] = {
    MAT_WHITE, MAT_LIGHT, MAT_WHITE, MAT_WHITE, MAT_GREEN, MAT_RED,
    MAT_WHITE, MAT_WHITE, MAT_WHITE, MAT_WHITE, MAT_WHITE,
    MAT_WHITE, MAT_WHITE, MAT_WHITE, MAT_WHITE, MAT_WHITE,
};
enum { QUADS = (int)(sizeof cornell_quad_material), TRIS = 2 * QUADS };

static float cornell_positions[TRIS * 9];
static uint32_t cornell_tri_material[TRIS];
static const xs_diffuse_material cornell_materials[MAT_COUNT] = {
    {{0.725f, 0.71f, 0.68f}, {0.0f, 0.0f, 0.0f}, 0u, 0.0f, 1.0f, 1.0f, 0.0f, {0.0f, 0.0f, 0.0f}},
    {{0.63f, 0.065f, 0.05f}, {0.0f, 0.0f, 0.0f}, 0u, 0.0f, 1.0f, 1.0f, 0.0f, {0.0f, 0.0f, 0.0f}},
    {{0.14f, 0.45f, 0.091f}, {0.0f, 0.0f, 0.0f}, 0u, 0.0f, 1.0f, 1.0f, 0.0f, {0.0f, 0.0f, 0.0f}},
    {{0.78f, 0.78f, 0.78f}, {17.0f, 12.0f, 4.0f}, 0u, 0.0f, 1.0f, 1.0f, 0.0f, {0.0f, 0.0f, 0.0f}},
};

/* Fans each quad (a, b, c, d) into (a, b, c) and (a, c, d), once. */
static void cornell_init(void)
{
    for (int q = 0; q < QUADS; ++q) {
        static const int fan[2][3] = {{0, 1, 2}, {0, 2, 3}};
        for (int t = 0; t < 2; ++t) {
            float *p = cornell_positions + (size_t)(q * 2 + t) * 9;
            for (int v = 0; v < 3; ++v)
                memcpy(p + v * 3, cornell_quads[q][fan[t][v]], 3 * sizeof(float));
            cornell_tri_material[q * 2 + t] = cornell_quad_material[q];
        }
    }
}

void xs_cornell_desc(xs_scene_desc *d)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, cornell_init);
    memset(d, 0, sizeof *d);
    d->name = "cornell";
    d->positions = cornell_positions;
    d->materials_of = cornell_tri_material;
    d->tri_count = TRIS;
    d->materials = cornell_materials;
    d->material_count = MAT_COUNT;
    d->background = xs_v3(0.0f, 0.0f, 0.0f);
    d->cam_pos = xs_v3(278.0f, 273.0f, -800.0f);
    d->cam_target = xs_v3(278.0f, 273.0f, 0.0f);
    d->cam_up = xs_v3(0.0f, 1.0f, 0.0f);
    /* focal length 35 mm, film 25 mm: 2 atan(12.5 / 35) */
    d->cam_yfov_deg = 39.3077f;
}

xs_result xs_scene_builtin(const char *name, const xs_scene_build *build, xs_scene **out,
                           xs_err *err)
{
    if (strcmp(name, "cornell") == 0) {
        xs_scene_desc d;
        xs_cornell_desc(&d);
        if (build)
            d.build = *build;
        return xs_scene_create(&d, out, err);
    }
    *out = NULL;
    return xs_err_set(err, XS_ERR_INVALID,
                      "--scene: unknown scene '%s' (built in: cornell; or a .tar.zst, .gltf or "
                      ".glb file)",
                      name);
}
