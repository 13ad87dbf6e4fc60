/* `xisuan pack DIR -o OUT.tar.zst`: builds the package in memory, validates it
 * as a render would (manifest, glTF, images, environment), and only then
 * writes it, atomically. `xisuan pack --check SCENE.tar.zst` runs the same
 * checks on a package that exists (the submission service runs it on each
 * upload) and writes nothing. */
#include "scheduler/cmd/xs_cmd.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/xs_file.h"
#include "io/xs_package.h"
#include "io/xs_scene_input.h"
#include "render/xs_animation.h"

static bool is_package_name(const char *p)
{
    size_t n = strlen(p);
    return n > 8 && strcmp(p + n - 8, ".tar.zst") == 0;
}

/* The checks alone: the summary, then one JSON line with the manifest's
 * frames ("" when it names none) for the service. */
static int check_package(const char *path)
{
    xs_err err;
    xs_err_clear(&err);
    xs_scene_limits lim;
    xs_scene_limits_default(&lim);
    unsigned char *bytes = NULL;
    size_t len = 0;
    xs_scene_input *in = NULL;
    if (!is_package_name(path)) {
        fprintf(stderr, "xisuan pack: error: --check: a package's name ends in .tar.zst, got '%s'\n", path);
        return 2;
    }
    xs_result r = xs_scene_input_load(path, &lim, &bytes, &len, &in, &err);
    if (r == XS_OK) {
        printf("xisuan pack: %s: %zu entries, %llu bytes unpacked from %zu; scene %s: %d mesh(es), "
               "%d instance(s), %llu triangles placed, %d camera(s), %d light(s)\n",
               path, in->pkg->count, (unsigned long long)in->pkg->total_bytes, len, in->manifest.scene,
               in->gltf->mesh_count, in->gltf->instance_count,
               (unsigned long long)in->gltf->tri_count_instanced, in->gltf->camera_count,
               in->gltf->light_count);
        if (in->manifest.has_frames)
            printf("{\"frames\": \"%d-%d\"}\n", in->manifest.frame_first, in->manifest.frame_last);
        else
            printf("{\"frames\": \"\"}\n");
    }
    xs_scene_input_destroy(in);
    free(bytes);
    if (r != XS_OK) {
        fprintf(stderr, "xisuan pack: error: %s\n", err.msg);
        return r == XS_ERR_INVALID ? 2 : 1;
    }
    return 0;
}

int xs_pack_main(int argc, char **argv)
{
    const char *dir = NULL, *out = NULL;
    int level = 9;
    if (argc == 2 && strcmp(argv[0], "--check") == 0)
        return check_package(argv[1]);
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
            printf("usage: xisuan pack DIR -o SCENE.tar.zst [--level N]\n"
                   "       xisuan pack --check SCENE.tar.zst\n\n"
                   "Packs every regular file under DIR (which must hold manifest.json, see\n"
                   "docs/package.md) into a zstd-compressed tar (level N, default 9), checks that\n"
                   "it renders (manifest, glTF, images, environment) and writes it atomically.\n"
                   "--check runs the same checks on an existing package and writes nothing.\n");
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

