/* `xisuan pack DIR -o OUT.tar.zst`: builds the package in memory, validates it
 * as a render would (manifest, glTF, images, environment), and only then
 * writes it, atomically. Texture images become pages (io/xs_texpage.h): each
 * image a material uses is decoded once, made into its MIP pyramid, cut into
 * pages, and each page compressed alone into the page store after the tar;
 * the image files themselves leave the tar (the pages stand for them), so a
 * render reads the tar part alone and every page on demand. --textures
 * embed keeps the images in the tar instead (every rank decodes them whole).
 * `xisuan pack --check SCENE.tar.zst` runs the same checks on a package that
 * exists (the submission service runs it on each upload), reads every page
 * of a paged package against its checksum, and writes nothing. */
#include "scheduler/cmd/xs_cmd.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/xs_file.h"
#include "io/xs_package.h"
#include "io/xs_scene_input.h"
#include "io/xs_texpage.h"
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
    if (r == XS_OK && in->pages) {
        /* every page read back against its checksum */
        static uint32_t texels[XS_TEXPAGE_TEXELS];
        for (uint64_t p = 0; r == XS_OK && p < in->pages->page_count; ++p)
            r = xs_texstore_read(in->pages, p, texels, NULL, NULL, &err);
        if (r == XS_OK)
            printf("xisuan pack: %s: %u texture image(s) in %llu pages (%.1f MiB decompressed, %.1f MiB stored), "
                   "every page checked\n",
                   path, in->pages->image_count, (unsigned long long)in->pages->page_count,
                   (double)in->pages->texel_bytes / 1048576.0, (double)in->pages->stored_bytes / 1048576.0);
    }
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

/* The image sink of a paged pack: each image a material uses, decoded and
 * paged, one at a time; the bytes it came from are remembered so its file
 * leaves the tar. */
typedef struct pack_pages {
    xs_texstore_writer *w;
    uint64_t max_pixels;
    const void **seen;
    size_t nseen, cap;
} pack_pages;

static xs_result page_image(void *user, int image, const unsigned char *data, size_t len, bool srgb,
                            const char *label, xs_err *err)
{
    pack_pages *pp = (pack_pages *)user;
    xs_image8 img = {0};
    xs_result r = xs_image_decode(label, data, len, pp->max_pixels, &img, err);
    if (r == XS_OK)
        r = xs_texstore_writer_add(pp->w, image, &img, srgb, label, err);
    free(img.rgba8);
    if (r == XS_OK && pp->nseen == pp->cap) {
        size_t nc = pp->cap ? pp->cap * 2 : 16;
        const void **ns = realloc(pp->seen, nc * sizeof *ns);
        if (!ns)
            return xs_err_set(err, XS_ERR_NOMEM, "out of memory");
        pp->seen = ns;
        pp->cap = nc;
    }
    if (r == XS_OK)
        pp->seen[pp->nseen++] = data;
    return r;
}

static bool was_paged(const pack_pages *pp, const void *data)
{
    for (size_t i = 0; i < pp->nseen; ++i)
        if (pp->seen[i] == data)
            return true;
    return false;
}

static void print_summary(const char *out, const xs_scene_input *in, size_t len)
{
    printf("xisuan pack: %s: %zu entries, %llu bytes -> %zu bytes; scene %s: %d mesh(es), "
           "%d instance(s), %llu triangles placed, %d camera(s), %d light(s)\n",
           out, in->pkg->count, (unsigned long long)in->pkg->total_bytes, len, in->manifest.scene,
           in->gltf->mesh_count, in->gltf->instance_count, (unsigned long long)in->gltf->tri_count_instanced,
           in->gltf->camera_count, in->gltf->light_count);
}

int xs_pack_main(int argc, char **argv)
{
    const char *dir = NULL, *out = NULL;
    int level = 9, page_level = 3;
    bool paged = true;
    if (argc == 2 && strcmp(argv[0], "--check") == 0)
        return check_package(argv[1]);
    for (int i = 0; i < argc; ++i) {
        if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) && i + 1 < argc) {
            out = argv[++i];
        } else if ((strcmp(argv[i], "--level") == 0 || strcmp(argv[i], "--page-level") == 0) && i + 1 < argc) {
            char *end = NULL;
            const char *flag = argv[i];
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 19) {
                fprintf(stderr, "xisuan pack: error: %s: must be in [1, 19], got '%s'\n", flag, argv[i]);
                return 2;
            }
            *(strcmp(flag, "--level") == 0 ? &level : &page_level) = (int)v;
        } else if (strcmp(argv[i], "--textures") == 0 && i + 1 < argc) {
            const char *v = argv[++i];
            if (strcmp(v, "pages") != 0 && strcmp(v, "embed") != 0) {
                fprintf(stderr, "xisuan pack: error: --textures: must be pages or embed, got '%s'\n", v);
                return 2;
            }
            paged = strcmp(v, "pages") == 0;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: xisuan pack DIR -o SCENE.tar.zst [--level N] [--textures pages|embed]\n"
                   "                  [--page-level N]\n"
                   "       xisuan pack --check SCENE.tar.zst\n\n"
                   "Packs every regular file under DIR (which must hold manifest.json, see\n"
                   "docs/package.md) into a zstd-compressed tar (level N, default 9), checks that\n"
                   "it renders (manifest, glTF, images, environment) and writes it atomically.\n"
                   "--textures pages (the default): each texture image a material uses becomes a\n"
                   "  MIP pyramid of 64x64 pages, each compressed alone (zstd level --page-level,\n"
                   "  default 3) into a page store after the tar, and its file leaves the tar:\n"
                   "  renders read pages on demand through a cache of bounded size\n"
                   "  (--texture-cache-mib). Every node must see the package file.\n"
                   "--textures embed: images stay in the tar and every rank decodes them whole.\n"
                   "--check runs the same checks on an existing package, reads every texture page\n"
                   "against its checksum, and writes nothing.\n");
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
    unsigned char *bytes = NULL, *tar = NULL;
    size_t len = 0, tar_len = 0;
    xs_scene_limits lim;
    xs_scene_limits_default(&lim);
    xs_scene_input *in = NULL;
    pack_pages pp = {.max_pixels = lim.gltf.max_image_pixels};
    char tmp[XS_PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.pages-tmp", out);
    xs_result r = xs_pkg_build_dir(dir, level, &bytes, &len, &err);
    if (r == XS_OK && paged && (r = xs_texstore_writer_create(tmp, page_level, &pp.w, &err)) == XS_OK) {
        lim.gltf.image_sink = page_image;
        lim.gltf.image_sink_user = &pp;
    }
    if (r == XS_OK)
        r = xs_scene_input_open(out, bytes, len, &lim, &in, &err);
    if (r == XS_OK && (r = xs_anim_check(in->gltf, in->manifest.play, &err)) != XS_OK)
        r = xs_err_set(&err, r, "%s: manifest.json: animation.play: %s", out, err.msg);
    if (r == XS_OK && (!paged || pp.nseen == 0)) {
        print_summary(out, in, len); /* no texture: a plain package */
        r = xs_file_write_atomic(out, bytes, len, &err);
    } else if (r == XS_OK) {
        /* the tar without the paged images' files, then the pages */
        xs_pkg_entry *keep = calloc(in->pkg->count ? in->pkg->count : 1, sizeof *keep);
        size_t nk = 0, dropped = 0;
        if (!keep)
            r = xs_err_set(&err, XS_ERR_NOMEM, "out of memory");
        for (size_t i = 0; r == XS_OK && i < in->pkg->count; ++i) {
            if (was_paged(&pp, in->pkg->entries[i].data))
                dropped++;
            else
                keep[nk++] = in->pkg->entries[i];
        }
        if (r == XS_OK)
            r = xs_pkg_build(keep, nk, level, &tar, &tar_len, &err);
        free(keep);
        if (r == XS_OK)
            r = xs_texstore_writer_finish(pp.w, tar, tar_len, out, &err);
        if (r == XS_OK) {
            uint64_t pages = 0, texel_bytes = 0, stored = 0;
            xs_texstore_writer_stats(pp.w, &pages, &texel_bytes, &stored);
            print_summary(out, in, tar_len);
            printf("xisuan pack: %s: %zu texture image(s) paged (their %zu file(s) left the tar): %llu pages, "
                   "%.1f MiB decompressed, %.1f MiB stored\n",
                   out, pp.nseen, dropped, (unsigned long long)pages, (double)texel_bytes / 1048576.0,
                   (double)stored / 1048576.0);
        }
        /* the package as a render reads it */
        xs_scene_input *check = NULL;
        unsigned char *cb = NULL;
        size_t cl = 0;
        xs_scene_limits dl;
        xs_scene_limits_default(&dl);
        if (r == XS_OK)
            r = xs_scene_input_load(out, &dl, &cb, &cl, &check, &err);
        xs_scene_input_destroy(check);
        free(cb);
    }
    xs_texstore_writer_destroy(pp.w);
    free(pp.seen);
    xs_scene_input_destroy(in);
    free(bytes);
    free(tar);
    if (r != XS_OK) {
        fprintf(stderr, "xisuan pack: error: %s\n", err.msg);
        return r == XS_ERR_INVALID ? 2 : 1;
    }
    return 0;
}
