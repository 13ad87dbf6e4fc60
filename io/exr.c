/* EXR tiles and frames through OpenEXR Core.
 *
 * A tile file is a tiled EXR whose data window is the tile's rectangle in
 * frame coordinates and whose tile size is the job's tile size, so it holds
 * exactly one chunk: tile (0, 0). The frame file has the full frame as data
 * window and the same tile size, so the chunk of scheduler tile (tx, ty) is
 * byte-for-byte the chunk of EXR tile (tx, ty): assembly copies compressed
 * chunks (exr_read_chunk -> exr_write_tile_chunk) and never decompresses.
 * Channels are R, G, B, A as 32-bit float. Files are written under a
 * temporary name and committed atomically (io/fsutil.c).
 */
#include "io/xs_exr.h"
#include "io/xs_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openexr.h>

/* Messages from OpenEXR Core land here instead of stderr; reads from memory
 * take their bytes from here too (the context has one user pointer). */
typedef struct exr_msgbuf {
    char msg[512];
    const unsigned char *mem;
    size_t mem_len;
    int fd;          /* the file being written, -1: none */
    int write_errno; /* why a write failed (ENOSPC, EIO, ...), 0: none */
    /* A tile file is small: its bytes are gathered here and written with one
     * call, then fsync'd on fd before it is closed (OpenEXR Core writes a
     * header attribute by attribute: some 80 writes a tile otherwise). A
     * frame is written through as it streams (its memory stays a tile row). */
    bool buffered;
    unsigned char *wbuf;
    size_t wlen, wcap;
} exr_msgbuf;

static int64_t mem_read(exr_const_context_t ctxt, void *user, void *buf, uint64_t sz,
                        uint64_t offset, exr_stream_error_func_ptr_t error_cb)
{
    (void)ctxt, (void)error_cb;
    const exr_msgbuf *b = (const exr_msgbuf *)user;
    if (offset >= b->mem_len)
        return 0;
    uint64_t n = b->mem_len - offset < sz ? b->mem_len - offset : sz;
    memcpy(buf, b->mem + offset, (size_t)n);
    return (int64_t)n;
}

static int64_t mem_size(exr_const_context_t ctxt, void *user)
{
    (void)ctxt;
    return (int64_t)((const exr_msgbuf *)user)->mem_len;
}

/* OpenEXR Core calls the error handler while it holds the context's lock, so
 * the handler must not call back into the library (exr_get_user_data takes
 * that lock: a deadlock on the first write error, seen on a full disk). Each
 * thread works on one context at a time, so a thread-local pointer finds the
 * buffer. */
static _Thread_local exr_msgbuf *current_msgbuf;

static void exr_error_cb(exr_const_context_t ctxt, exr_result_t code, const char *msg)
{
    (void)ctxt;
    exr_msgbuf *b = current_msgbuf;
    if (b)
        snprintf(b->msg, sizeof b->msg, "%s", msg ? msg : exr_get_default_error_message(code));
}

static exr_context_initializer_t exr_init(exr_msgbuf *buf)
{
    current_msgbuf = buf;
    exr_context_initializer_t init = EXR_DEFAULT_CONTEXT_INITIALIZER;
    buf->msg[0] = '\0';
    buf->mem = NULL;
    buf->mem_len = 0;
    buf->fd = -1;
    buf->write_errno = 0;
    buf->buffered = false;
    buf->wbuf = NULL;
    buf->wlen = buf->wcap = 0;
    init.error_handler_fn = exr_error_cb;
    init.user_data = buf;
    return init;
}

static xs_result exr_fail(xs_err *err, const char *path, const char *what, exr_result_t rc,
                          const exr_msgbuf *buf)
{
    if (buf->write_errno) /* the operating system's reason (a full disk), not the library's */
        return xs_err_set(err, XS_ERR_IO, "%s: %s: %s", path, what, strerror(buf->write_errno));
    return xs_err_set(err, XS_ERR_EXR, "%s: %s: %s", path, what,
                      buf->msg[0] ? buf->msg : exr_get_default_error_message(rc));
}

/* Writes for OpenEXR Core into our own descriptor, so that a failed write
 * keeps its errno (OpenEXR's own stream reports only "Error writing"). */
static int64_t file_write(exr_const_context_t ctxt, void *user, const void *buffer, uint64_t sz,
                          uint64_t offset, exr_stream_error_func_ptr_t error_cb)
{
    exr_msgbuf *b = (exr_msgbuf *)user;
    if (b->buffered) {
        if (offset > SIZE_MAX / 2 || sz > SIZE_MAX / 2 - offset) {
            b->write_errno = EFBIG;
        } else if (offset + sz > b->wcap) {
            size_t cap = b->wcap ? b->wcap : 65536;
            while (cap < offset + sz)
                cap *= 2;
            unsigned char *n = realloc(b->wbuf, cap);
            if (!n)
                b->write_errno = ENOMEM;
            else {
                memset(n + b->wcap, 0, cap - b->wcap);
                b->wbuf = n;
                b->wcap = cap;
            }
        }
        if (b->write_errno) {
            if (error_cb)
                error_cb(ctxt, EXR_ERR_WRITE_IO, "%s", strerror(b->write_errno));
            return -1;
        }
        memcpy(b->wbuf + offset, buffer, (size_t)sz);
        if (offset + sz > b->wlen)
            b->wlen = (size_t)(offset + sz);
        return (int64_t)sz;
    }
    uint64_t done = 0;
    while (done < sz) {
        ssize_t k = pwrite(b->fd, (const unsigned char *)buffer + done, (size_t)(sz - done),
                           (off_t)(offset + done));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            b->write_errno = k < 0 ? errno : EIO;
            if (error_cb)
                error_cb(ctxt, EXR_ERR_WRITE_IO, "%s", strerror(b->write_errno));
            return -1;
        }
        done += (uint64_t)k;
    }
    return (int64_t)sz;
}

/* Creates tmp and starts an OpenEXR write context on it through file_write. */
static exr_result_t start_write(exr_context_t *ctxt, const char *tmp, exr_msgbuf *mb,
                                exr_context_initializer_t *init)
{
    mb->fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (mb->fd < 0) {
        mb->write_errno = errno;
        return EXR_ERR_FILE_ACCESS;
    }
    init->write_fn = file_write;
    return exr_start_write(ctxt, tmp, EXR_WRITE_FILE_DIRECTLY, init);
}

/* Ends a write context and closes the file (after a failure too). */
static exr_result_t finish_write(exr_context_t *ctxt, exr_msgbuf *mb)
{
    exr_result_t rc = *ctxt ? exr_finish(ctxt) : EXR_ERR_SUCCESS;
    if (mb->buffered && mb->fd >= 0 && rc == EXR_ERR_SUCCESS) {
        /* the gathered bytes in one write, then durable before the close */
        mb->buffered = false;
        if (file_write(NULL, mb, mb->wbuf, mb->wlen, 0, NULL) < 0 || fsync(mb->fd) != 0) {
            if (!mb->write_errno)
                mb->write_errno = errno;
            rc = EXR_ERR_WRITE_IO;
        }
    }
    free(mb->wbuf);
    mb->wbuf = NULL;
    mb->wlen = mb->wcap = 0;
    if (mb->fd >= 0 && close(mb->fd) != 0 && rc == EXR_ERR_SUCCESS) {
        mb->write_errno = errno;
        rc = EXR_ERR_WRITE_IO;
    }
    mb->fd = -1;
    return rc;
}

#define EXR_TRY(call, what)                                                                    \
    do {                                                                                       \
        exr_result_t rc_ = (call);                                                             \
        if (rc_ != EXR_ERR_SUCCESS) {                                                          \
            result = exr_fail(err, path, what, rc_, &mb);                                      \
            goto fail;                                                                         \
        }                                                                                      \
    } while (0)

static exr_compression_t to_exr_compression(xs_exr_compression c)
{
    switch (c) {
    case XS_EXR_ZIP: return EXR_COMPRESSION_ZIP;
    case XS_EXR_PIZ: return EXR_COMPRESSION_PIZ;
    case XS_EXR_NONE: break;
    }
    return EXR_COMPRESSION_NONE;
}

/* The file stores channels in alphabetical order; a pixel record holds them
 * in the layout's order. Offset of name in the record, or -1. */
static int channel_offset(const char *name, const char *const *names, int n)
{
    for (int i = 0; i < n; ++i)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

/* Defines the single tiled part shared by tile and frame files. */
static exr_result_t define_part(exr_context_t ctxt, const xs_exr_layout *l, exr_attr_box2i_t dw)
{
    int part = 0;
    exr_result_t rc = exr_add_part(ctxt, NULL, EXR_STORAGE_TILED, &part);
    if (rc) return rc;
    rc = exr_initialize_required_attr_simple(ctxt, part, l->frame_width, l->frame_height,
                                             to_exr_compression(l->compression));
    if (rc) return rc;
    if ((rc = exr_set_data_window(ctxt, part, &dw))) return rc;
    if ((rc = exr_set_lineorder(ctxt, part, EXR_LINEORDER_RANDOM_Y))) return rc;
    if ((rc = exr_set_tile_descriptor(ctxt, part, (uint32_t)l->tile_size, (uint32_t)l->tile_size,
                                      EXR_TILE_ONE_LEVEL, EXR_TILE_ROUND_DOWN)))
        return rc;
    for (int c = 0; c < l->channel_count; ++c)
        if ((rc = exr_add_channel(ctxt, part, l->channels[c], EXR_PIXEL_FLOAT,
                                  EXR_PERCEPTUALLY_LINEAR, 1, 1)))
            return rc;
    if (l->compression == XS_EXR_ZIP)
        if ((rc = exr_set_zip_compression_level(ctxt, part, l->zip_level))) return rc;
    if (l->attr_job && (rc = exr_attr_set_string(ctxt, part, "xisuan.job", l->attr_job))) return rc;
    if (l->attr_software && (rc = exr_attr_set_string(ctxt, part, "software", l->attr_software)))
        return rc;
    if ((rc = exr_attr_set_int(ctxt, part, "xisuan.frame", l->attr_frame))) return rc;
    if ((rc = exr_attr_set_int(ctxt, part, "xisuan.spp", l->attr_spp))) return rc;
    char seed[16];
    snprintf(seed, sizeof seed, "%u", (unsigned)l->attr_seed);
    if ((rc = exr_attr_set_string(ctxt, part, "xisuan.seed", seed))) return rc;
    return EXR_ERR_SUCCESS;
}

static xs_result check_layout(const char *path, const xs_exr_layout *l, xs_err *err)
{
    if (l->frame_width < 1 || l->frame_height < 1 || l->tile_size < 1)
        return xs_err_set(err, XS_ERR_INVALID, "%s: invalid frame layout %dx%d tile %d", path,
                          l->frame_width, l->frame_height, l->tile_size);
    if (l->channel_count < 1 || l->channel_count > XS_EXR_MAX_CHANNELS)
        return xs_err_set(err, XS_ERR_INVALID, "%s: %d channels (1 to %d)", path, l->channel_count,
                          XS_EXR_MAX_CHANNELS);
    if (l->compression == XS_EXR_ZIP && (l->zip_level < 0 || l->zip_level > 9))
        return xs_err_set(err, XS_ERR_INVALID, "%s: zip level must be in [0, 9], got %d", path,
                          l->zip_level);
    return XS_OK;
}

xs_result xs_exr_write_tile(const char *path, const xs_exr_layout *layout, int x0, int y0, int w,
                            int h, const float *rgba, xs_err *err)
{
    const char *const *names = layout->channels;
    const int nch = layout->channel_count;
    xs_result result = check_layout(path, layout, err);
    if (result != XS_OK)
        return result;
    if (w < 1 || h < 1 || w > layout->tile_size || h > layout->tile_size)
        return xs_err_set(err, XS_ERR_INVALID, "%s: tile %dx%d does not fit tile size %d", path, w,
                          h, layout->tile_size);
    char tmp[PATH_MAX];
    if ((result = xs_tmp_path(path, tmp, sizeof tmp, err)) != XS_OK)
        return result;

    exr_msgbuf mb;
    exr_context_initializer_t init = exr_init(&mb);
    exr_context_t ctxt = NULL;
    exr_encode_pipeline_t enc = EXR_ENCODE_PIPELINE_INITIALIZER;
    int enc_live = 0;
    exr_attr_box2i_t dw = {.min = {.x = x0, .y = y0}, .max = {.x = x0 + w - 1, .y = y0 + h - 1}};

    mb.buffered = true; /* one write, fsync'd on its descriptor (finish_write) */
    EXR_TRY(start_write(&ctxt, tmp, &mb, &init), "cannot create file");
    EXR_TRY(define_part(ctxt, layout, dw), "cannot define header");
    EXR_TRY(exr_write_header(ctxt), "cannot write header");

    exr_chunk_info_t cinfo;
    EXR_TRY(exr_write_tile_chunk_info(ctxt, 0, 0, 0, 0, 0, &cinfo), "cannot locate tile chunk");
    EXR_TRY(exr_encoding_initialize(ctxt, 0, &cinfo, &enc), "cannot start encoding");
    enc_live = 1;
    for (int c = 0; c < enc.channel_count; ++c) {
        exr_coding_channel_info_t *ch = &enc.channels[c];
        int off = channel_offset(ch->channel_name, names, nch);
        if (off < 0) {
            result = xs_err_set(err, XS_ERR_INTERNAL, "%s: unexpected channel %s", path, ch->channel_name);
            goto fail;
        }
        ch->encode_from_ptr = (const uint8_t *)(rgba + off);
        ch->user_pixel_stride = nch * (int32_t)sizeof(float);
        ch->user_line_stride = w * nch * (int32_t)sizeof(float);
        ch->user_bytes_per_element = (int16_t)sizeof(float);
        ch->user_data_type = EXR_PIXEL_FLOAT;
    }
    EXR_TRY(exr_encoding_choose_default_routines(ctxt, 0, &enc), "cannot choose encoder");
    EXR_TRY(exr_encoding_run(ctxt, 0, &enc), "cannot encode tile");
    exr_encoding_destroy(ctxt, &enc);
    enc_live = 0;
    EXR_TRY(finish_write(&ctxt, &mb), "cannot finish file");
    return xs_commit_synced_file(tmp, path, !layout->defer_dir_sync, err);

fail:
    if (enc_live)
        exr_encoding_destroy(ctxt, &enc);
    mb.buffered = false; /* nothing gathered is written */
    finish_write(&ctxt, &mb);
    unlink(tmp);
    return result;
}

/* Reads the single chunk of a tile file after checking it has the layout the
 * frame expects. *data is malloc'd. */
static xs_result read_tile_chunk(const char *path, const xs_exr_layout *l, int x0, int y0, int w,
                                 int h, void **data, uint64_t *size, xs_err *err)
{
    const int nch = l->channel_count;
    xs_result result = XS_OK;
    exr_msgbuf mb;
    exr_context_initializer_t init = exr_init(&mb);
    exr_context_t ctxt = NULL;
    void *buf = NULL;
    EXR_TRY(exr_start_read(&ctxt, path, &init), "cannot open tile");

    exr_storage_t st;
    EXR_TRY(exr_get_storage(ctxt, 0, &st), "cannot read storage type");
    exr_attr_box2i_t dw;
    EXR_TRY(exr_get_data_window(ctxt, 0, &dw), "cannot read dataWindow");
    exr_compression_t comp;
    EXR_TRY(exr_get_compression(ctxt, 0, &comp), "cannot read compression");
    uint32_t tx = 0, ty = 0;
    exr_tile_level_mode_t lm;
    exr_tile_round_mode_t rm;
    EXR_TRY(exr_get_tile_descriptor(ctxt, 0, &tx, &ty, &lm, &rm), "cannot read tiles");
    const exr_attr_chlist_t *chl = NULL;
    EXR_TRY(exr_get_channels(ctxt, 0, &chl), "cannot read channels");
    if (st != EXR_STORAGE_TILED || comp != to_exr_compression(l->compression) ||
        (int)tx != l->tile_size || (int)ty != l->tile_size || lm != EXR_TILE_ONE_LEVEL ||
        dw.min.x != x0 || dw.min.y != y0 || dw.max.x != x0 + w - 1 || dw.max.y != y0 + h - 1 ||
        chl->num_channels != nch) {
        result = xs_err_set(err, XS_ERR_INVALID,
                            "%s: tile header does not match the job (expected tiled %dx%d at "
                            "(%d,%d), tile size %d, %d channels, same compression)",
                            path, w, h, x0, y0, l->tile_size, nch);
        goto fail;
    }
    for (int c = 0; c < nch; ++c)
        if (chl->entries[c].pixel_type != EXR_PIXEL_FLOAT) {
            result = xs_err_set(err, XS_ERR_INVALID, "%s: channel %s is not 32-bit float", path,
                                chl->entries[c].name.str);
            goto fail;
        }
    exr_chunk_info_t ci;
    EXR_TRY(exr_read_tile_chunk_info(ctxt, 0, 0, 0, 0, 0, &ci), "cannot locate tile chunk");
    if (ci.packed_size == 0 || ci.packed_size > ci.unpacked_size + 4096) {
        result = xs_err_set(err, XS_ERR_INVALID, "%s: implausible chunk size %llu", path,
                            (unsigned long long)ci.packed_size);
        goto fail;
    }
    buf = malloc(ci.packed_size);
    if (!buf) {
        result = xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    EXR_TRY(exr_read_chunk(ctxt, 0, &ci, buf), "cannot read tile chunk");
    exr_finish(&ctxt);
    *data = buf;
    *size = ci.packed_size;
    return XS_OK;
fail:
    free(buf);
    if (ctxt)
        exr_finish(&ctxt);
    return result;
}

static const char *const rgba_names[4];
static xs_result read_channels(const char *path, const unsigned char *mem, size_t mem_len,
                               const char *const *names, int n, int required, uint64_t max_pixels,
                               xs_image *out, xs_err *err);

/* The RGBA of a tile file into a band of the frame's preview: rows of W
 * pixels, the tile at column x0. */
static xs_result tile_into_band(const char *tp, float *band, int W, int x0, xs_err *err)
{
    xs_image img;
    xs_result r = read_channels(tp, NULL, 0, rgba_names, 4, 3, 0, &img, err);
    if (r != XS_OK)
        return r;
    for (int y = 0; y < img.height; ++y)
        memcpy(band + ((size_t)y * (size_t)W + (size_t)x0) * 4, img.rgba + (size_t)y * (size_t)img.width * 4,
               (size_t)img.width * 4 * sizeof(float));
    xs_image_free(&img);
    return XS_OK;
}

xs_result xs_exr_assemble_frame(const char *path, const xs_exr_layout *layout,
                                const xs_job_layout *job, int frame, const char *preview,
                                uint64_t *size, uint64_t *hash, xs_err *err)
{
    xs_result result = check_layout(path, layout, err);
    if (result != XS_OK)
        return result;
    char tmp[PATH_MAX];
    if ((result = xs_tmp_path(path, tmp, sizeof tmp, err)) != XS_OK)
        return result;
    const int T = layout->tile_size;
    const int ntx = (layout->frame_width + T - 1) / T;
    const int nty = (layout->frame_height + T - 1) / T;

    xs_png_stream *png = NULL;
    float *band = NULL; /* the preview's pixels of one row of tiles */
    if (preview) {
        band = malloc((size_t)T * (size_t)layout->frame_width * 4 * sizeof(float));
        if (!band)
            return xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory for the preview", preview);
        if ((result = xs_png_stream_open(preview, layout->frame_width, layout->frame_height, &png, err)) !=
            XS_OK) {
            free(band);
            return result;
        }
    }
    exr_msgbuf mb;
    exr_context_initializer_t init = exr_init(&mb);
    exr_context_t ctxt = NULL;
    exr_attr_box2i_t dw = {.min = {.x = 0, .y = 0},
                           .max = {.x = layout->frame_width - 1, .y = layout->frame_height - 1}};
    EXR_TRY(start_write(&ctxt, tmp, &mb, &init), "cannot create file");
    EXR_TRY(define_part(ctxt, layout, dw), "cannot define header");
    EXR_TRY(exr_write_header(ctxt), "cannot write header");

    for (int ty = 0; ty < nty; ++ty) {
        for (int tx = 0; tx < ntx; ++tx) {
            const int x0 = tx * T, y0 = ty * T;
            const int w = (x0 + T <= layout->frame_width) ? T : layout->frame_width - x0;
            const int h = (y0 + T <= layout->frame_height) ? T : layout->frame_height - y0;
            char tp[XS_PATH_MAX];
            void *chunk = NULL;
            uint64_t chunk_size = 0;
            if ((result = xs_job_tile_path(job, frame, ty * ntx + tx, tp, sizeof tp, err)) != XS_OK)
                goto fail;
            result = read_tile_chunk(tp, layout, x0, y0, w, h, &chunk, &chunk_size, err);
            current_msgbuf = &mb; /* the tile's read had its own */
            if (result != XS_OK)
                goto fail;
            exr_result_t rc = exr_write_tile_chunk(ctxt, 0, tx, ty, 0, 0, chunk, chunk_size);
            free(chunk);
            if (rc != EXR_ERR_SUCCESS) {
                result = exr_fail(err, path, "cannot write tile chunk", rc, &mb);
                goto fail;
            }
            if (png) {
                result = tile_into_band(tp, band, layout->frame_width, x0, err);
                current_msgbuf = &mb;
                if (result != XS_OK)
                    goto fail;
            }
        }
        if (png) {
            const int rows = (ty + 1) * T <= layout->frame_height ? T : layout->frame_height - ty * T;
            if ((result = xs_png_stream_rows(png, band, rows, err)) != XS_OK)
                goto fail;
        }
    }
    EXR_TRY(finish_write(&ctxt, &mb), "cannot finish file");
    /* the file's own bytes, from the page cache, before it is made durable */
    if ((result = xs_file_hash(tmp, size, hash, err)) != XS_OK)
        goto fail;
    if ((result = xs_commit_file(tmp, path, err)) != XS_OK)
        goto fail;
    free(band);
    /* the preview after the frame: a preview never stands for a frame that is not there */
    return png ? xs_png_stream_commit(png, err) : XS_OK;
fail:
    finish_write(&ctxt, &mb);
    unlink(tmp);
    xs_png_stream_abort(png);
    free(band);
    return result;
}

/* Reads the channels `names` (n of them) into records of n floats; missing
 * channels are 0 (A: 1). required: how many leading names must be present. */
static xs_result read_channels(const char *path, const unsigned char *mem, size_t mem_len,
                               const char *const *names, int n, int required, uint64_t max_pixels,
                               xs_image *out, xs_err *err)
{
    xs_result result = XS_OK;
    memset(out, 0, sizeof *out);
    exr_msgbuf mb;
    exr_context_initializer_t init = exr_init(&mb);
    if (mem) {
        mb.mem = mem;
        mb.mem_len = mem_len;
        init.read_fn = mem_read;
        init.size_fn = mem_size;
    }
    exr_context_t ctxt = NULL;
    exr_decode_pipeline_t dec = EXR_DECODE_PIPELINE_INITIALIZER;
    int dec_live = 0;
    float *pix = NULL;
    EXR_TRY(exr_start_read(&ctxt, path, &init), "cannot open");
    exr_storage_t st;
    EXR_TRY(exr_get_storage(ctxt, 0, &st), "cannot read storage type");
    if (st != EXR_STORAGE_TILED && st != EXR_STORAGE_SCANLINE) {
        result = xs_err_set(err, XS_ERR_INVALID, "%s: deep images are not supported", path);
        goto fail;
    }
    exr_attr_box2i_t dw;
    EXR_TRY(exr_get_data_window(ctxt, 0, &dw), "cannot read dataWindow");
    const int64_t W = (int64_t)dw.max.x - dw.min.x + 1, H = (int64_t)dw.max.y - dw.min.y + 1;
    if (W < 1 || H < 1 || W * H > (int64_t)1 << 31) {
        result = xs_err_set(err, XS_ERR_INVALID, "%s: dataWindow: unsupported size %lldx%lld",
                            path, (long long)W, (long long)H);
        goto fail;
    }
    if (max_pixels && (uint64_t)(W * H) > max_pixels) {
        result = xs_err_set(err, XS_ERR_INVALID,
                            "%s: dataWindow: %lldx%lld pixels (%.1f Mpixels) exceeds the limit of "
                            "%.1f Mpixels", path, (long long)W, (long long)H, (double)(W * H) * 1e-6,
                            (double)max_pixels * 1e-6);
        goto fail;
    }
    pix = malloc((size_t)(W * H) * (size_t)n * sizeof(float));
    if (!pix) {
        result = xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    for (int64_t i = 0; i < W * H; ++i)
        for (int c = 0; c < n; ++c)
            pix[i * n + c] = strcmp(names[c], "A") == 0 ? 1.0f : 0.0f;
    int32_t nchunks = 0;
    EXR_TRY(exr_get_chunk_count(ctxt, 0, &nchunks), "cannot read chunk count");

    /* Walk every chunk of level 0 (tiled) or every scanline block. */
    int ntx = 1, nty = 1, lines = 1, tw = 0, th = 0;
    if (st == EXR_STORAGE_TILED) {
        uint32_t txs, tys;
        exr_tile_level_mode_t lm;
        exr_tile_round_mode_t rm;
        EXR_TRY(exr_get_tile_descriptor(ctxt, 0, &txs, &tys, &lm, &rm), "cannot read tiles");
        tw = (int)txs;
        th = (int)tys;
        ntx = (int)((W + tw - 1) / tw);
        nty = (int)((H + th - 1) / th);
    } else {
        EXR_TRY(exr_get_scanlines_per_chunk(ctxt, 0, &lines), "cannot read scanlines per chunk");
        nty = (int)((H + lines - 1) / lines);
    }
    for (int cy = 0; cy < nty; ++cy) {
        for (int cx = 0; cx < ntx; ++cx) {
            exr_chunk_info_t ci;
            if (st == EXR_STORAGE_TILED)
                EXR_TRY(exr_read_tile_chunk_info(ctxt, 0, cx, cy, 0, 0, &ci), "cannot locate tile");
            else
                EXR_TRY(exr_read_scanline_chunk_info(ctxt, 0, dw.min.y + cy * lines, &ci),
                        "cannot locate scanlines");
            if (!dec_live) {
                EXR_TRY(exr_decoding_initialize(ctxt, 0, &ci, &dec), "cannot start decoding");
                dec_live = 1;
            } else {
                EXR_TRY(exr_decoding_update(ctxt, 0, &ci, &dec), "cannot continue decoding");
            }
            /* chunk origin in the image: tiles report tile indices, scanline
             * blocks their first line */
            const int64_t px = st == EXR_STORAGE_TILED ? (int64_t)cx * tw : 0;
            const int64_t py = st == EXR_STORAGE_TILED ? (int64_t)cy * th : ci.start_y - dw.min.y;
            int have = 0;
            for (int c = 0; c < dec.channel_count; ++c) {
                exr_coding_channel_info_t *ch = &dec.channels[c];
                int off = channel_offset(ch->channel_name, names, n);
                if (off < 0) {
                    ch->decode_to_ptr = NULL;
                    continue;
                }
                have += off < required;
                ch->decode_to_ptr = (uint8_t *)(pix + ((py * W + px) * n + off));
                ch->user_pixel_stride = n * (int32_t)sizeof(float);
                ch->user_line_stride = (int32_t)(W * n * (int64_t)sizeof(float));
                ch->user_bytes_per_element = (int16_t)sizeof(float);
                ch->user_data_type = EXR_PIXEL_FLOAT;
            }
            if (have != required) {
                result = required == 3
                             ? xs_err_set(err, XS_ERR_INVALID, "%s: channels: R, G and B are required", path)
                             : xs_err_set(err, XS_ERR_INVALID, "%s: channels: expected the job's %d channels",
                                          path, required);
                goto fail;
            }
            EXR_TRY(exr_decoding_choose_default_routines(ctxt, 0, &dec), "cannot choose decoder");
            EXR_TRY(exr_decoding_run(ctxt, 0, &dec), "cannot decode chunk");
        }
    }
    (void)nchunks;
    exr_decoding_destroy(ctxt, &dec);
    exr_finish(&ctxt);
    out->x0 = dw.min.x;
    out->y0 = dw.min.y;
    out->width = (int)W;
    out->height = (int)H;
    out->channels = n;
    out->rgba = pix;
    return XS_OK;
fail:
    if (dec_live)
        exr_decoding_destroy(ctxt, &dec);
    if (ctxt)
        exr_finish(&ctxt);
    free(pix);
    return result;
}

static const char *const rgba_names[4] = {"R", "G", "B", "A"};

xs_result xs_exr_read_rgba(const char *path, xs_image *out, xs_err *err)
{
    return read_channels(path, NULL, 0, rgba_names, 4, 3, 0, out, err);
}

xs_result xs_exr_read_rgba_memory(const char *label, const void *data, size_t len,
                                  uint64_t max_pixels, xs_image *out, xs_err *err)
{
    return read_channels(label, (const unsigned char *)data, len, rgba_names, 4, 3, max_pixels, out,
                         err);
}

xs_result xs_exr_read_record(const char *path, const char *const *channels, int channel_count,
                             xs_image *out, xs_err *err)
{
    return read_channels(path, NULL, 0, channels, channel_count, channel_count, 0, out, err);
}

xs_result xs_exr_read_record_memory(const char *label, const void *data, size_t len,
                                    const char *const *channels, int channel_count, xs_image *out,
                                    xs_err *err)
{
    return read_channels(label, (const unsigned char *)data, len, channels, channel_count,
                         channel_count, 1u << 24, out, err);
}
