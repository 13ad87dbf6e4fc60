/* `xisuan pack DIR -o OUT.tar.zst`: builds the package in memory, validates it
 * as a render would (manifest, glTF, images, environment), and only then
 * writes it, atomically. */
#include "scheduler/cmd/xs_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/xs_file.h"
#include "io/xs_package.h"
#include "io/xs_scene_input.h"
#include "render/xs_animation.h"

int xs_pack_main(int argc, char **argv)
{
    const char *dir = NULL, *out = NULL;
    int level = 9;
    for (int i = 0; i < argc; ++i) {
        if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--level") == 0 && i + 1 < argc) {
            char *end = NULL;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 19) {
                fprintf(stderr, "xisuan pack: error: --level: must be in [1, 19], got '%s'\n", argv[i]);
                return 2;
            }
            level = (int)v;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: xisuan pack DIR -o SCENE.tar.zst [--level N]\n\n"
                   "Packs every regular file under DIR (which must hold manifest.json, see\n"
                   "docs/package.md) into a zstd-compressed tar (level N, default 9), checks that\n"
                   "it renders (manifest, glTF, images, environment) and writes it atomically.\n");
            return 0;
        } else if (argv[i][0] != '-' && !dir) {
            dir = argv[i];
        } else {
            fprintf(stderr, "xisuan pack: error: unexpected argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    if (!dir || !out) {
        fprintf(stderr, "xisuan pack: error: usage: xisuan pack DIR -o SCENE.tar.zst\n");
        return 2;
    }
    size_t n = strlen(out);
    if (n < 8 || strcmp(out + n - 8, ".tar.zst") != 0) {
        fprintf(stderr, "xisuan pack: error: -o: the package name must end in .tar.zst, got '%s'\n", out);
        return 2;
    }
    xs_err err;
    xs_err_clear(&err);
    unsigned char *bytes = NULL;
    size_t len = 0;
    xs_scene_limits lim;
    xs_scene_limits_default(&lim);
    xs_scene_input *in = NULL;
    xs_result r = xs_pkg_build_dir(dir, level, &bytes, &len, &err);
    if (r == XS_OK)
        r = xs_scene_input_open(out, bytes, len, &lim, &in, &err);
    if (r == XS_OK && (r = xs_anim_check(in->gltf, in->manifest.play, &err)) != XS_OK)
        r = xs_err_set(&err, r, "%s: manifest.json: animation.play: %s", out, err.msg);
    if (r == XS_OK) {
        printf("xisuan pack: %s: %zu entries, %llu bytes -> %zu bytes; scene %s: %d mesh(es), "
               "%d instance(s), %llu triangles placed, %d camera(s), %d light(s)\n",
               out, in->pkg->count, (unsigned long long)in->pkg->total_bytes, len,
               in->manifest.scene, in->gltf->mesh_count, in->gltf->instance_count,
               (unsigned long long)in->gltf->tri_count_instanced, in->gltf->camera_count,
               in->gltf->light_count);
        r = xs_file_write_atomic(out, bytes, len, &err);
    }
    xs_scene_input_destroy(in);
    free(bytes);
    if (r != XS_OK) {
        fprintf(stderr, "xisuan pack: error: %s\n", err.msg);
        return r == XS_ERR_INVALID ? 2 : 1;
    }
    return 0;
}

