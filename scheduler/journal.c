/* The job journal and event log (see xs_journal.h). */
#include "scheduler/xs_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

struct xs_journal {
    char path[4096];
    int fd;
    int frame_count, tiles;
    int16_t index_of[10000];  /* frame number -> frame index, -1 if not in the job */
    uint64_t **hash;          /* per frame index, NULL until a tile of it is loaded */
    uint8_t *assembled;
    int64_t loaded_tiles;
    int loaded_frames;
    bool resumed;
};

static xs_result append(xs_journal *j, const char *line, xs_err *err)
{
    size_t n = strlen(line), done = 0;
    while (done < n) {
        ssize_t k = write(j->fd, line + done, n - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            int e = errno;
            return xs_err_set(err, XS_ERR_IO, "%s: cannot append: %s", j->path, strerror(e));
        }
        done += (size_t)k;
    }
    if (fdatasync(j->fd) != 0) {
        int e = errno;
        return xs_err_set(err, XS_ERR_IO, "%s: fdatasync failed: %s", j->path, strerror(e));
    }
    return XS_OK;
}

static void load(xs_journal *j, FILE *f)
{
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (!strchr(line, '\n'))
            break; /* a torn last line */
        int frame = -1, tile = -1;
        char hex[32];
        if (sscanf(line, "T %d %d %16s", &frame, &tile, hex) == 3) {
            if (frame < 0 || frame > 9999 || j->index_of[frame] < 0 || tile < 0 || tile >= j->tiles)
                continue; /* a frame this run does not render, or another grid */
            int fi = j->index_of[frame];
            if (!j->hash[fi] && !(j->hash[fi] = calloc((size_t)j->tiles, sizeof(uint64_t))))
                continue;
            uint64_t h = strtoull(hex, NULL, 16);
            if (h == 0)
                h = 1; /* 0 means "none" */
            if (j->hash[fi][tile] == 0)
                j->loaded_tiles++;
            j->hash[fi][tile] = h;
        } else if (sscanf(line, "F %d", &frame) == 1) {
            if (frame >= 0 && frame <= 9999 && j->index_of[frame] >= 0 &&
                !j->assembled[j->index_of[frame]]) {
                j->assembled[j->index_of[frame]] = 1;
                j->loaded_frames++;
            }
        }
    }
}

xs_result xs_journal_open(const char *path, uint64_t key, const char *settings, bool force,
                          const int *frames, int frame_count, int tiles_per_frame,
                          xs_journal **out, xs_err *err)
{
    *out = NULL;
    xs_journal *j = calloc(1, sizeof *j);
    if (!j)
        return xs_err_set(err, XS_ERR_NOMEM, "journal: out of memory");
    snprintf(j->path, sizeof j->path, "%s", path);
    j->fd = -1;
    j->frame_count = frame_count;
    j->tiles = tiles_per_frame;
    memset(j->index_of, 0xff, sizeof j->index_of);
    for (int i = 0; i < frame_count; ++i)
        j->index_of[frames[i]] = (int16_t)i;
    j->hash = calloc((size_t)frame_count, sizeof *j->hash);
    j->assembled = calloc((size_t)frame_count, 1);
    if (!j->hash || !j->assembled) {
        xs_journal_close(j);
        return xs_err_set(err, XS_ERR_NOMEM, "journal: out of memory");
    }
    char header[1200];
    snprintf(header, sizeof header, "xisuan-journal 1 key=%016" PRIx64 " %s\n", key, settings);
    FILE *f = fopen(path, "r");
    bool torn_header = false;
    if (f) {
        char first[1200] = "";
        bool got = fgets(first, sizeof first, f) != NULL;
        bool same = got && strcmp(first, header) == 0;
        /* no complete first line and nothing after it: a crash between the
         * file's creation and its header reaching the disk; nothing was
         * committed, so the job starts afresh over it */
        torn_header = !strchr(first, '\n') && feof(f);
        if (same) {
            load(j, f);
            j->resumed = true;
        }
        fclose(f);
        if (!same && !torn_header) {
            if (!force) {
                char *nl = strchr(first, '\n');
                if (nl)
                    *nl = '\0';
                xs_journal_close(j);
                return xs_err_set(err, XS_ERR_INVALID,
                                  "%s: this output folder holds another job (journal: '%.300s'; "
                                  "this run: 'xisuan-journal 1 key=%016" PRIx64 " %.300s'); use "
                                  "another --job or --out, or --force to start it afresh",
                                  path, first, key, settings);
            }
            char old[4200];
            for (int n = 1; n < 1000; ++n) {
                snprintf(old, sizeof old, "%s.old-%d", path, n);
                if (access(old, F_OK) != 0)
                    break;
            }
            if (rename(path, old) != 0) {
                int e = errno;
                xs_journal_close(j);
                return xs_err_set(err, XS_ERR_IO, "%s: cannot move aside: %s", path, strerror(e));
            }
        }
    }
    /* read-write: a resume reads the last byte back (pread) to end a torn line */
    j->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | (torn_header ? O_TRUNC : 0), 0644);
    if (j->fd < 0) {
        int e = errno;
        xs_journal_close(j);
        return xs_err_set(err, XS_ERR_IO, "%s: cannot open: %s", path, strerror(e));
    }
    xs_result r = XS_OK;
    if (!j->resumed)
        r = append(j, header, err);
    if (r == XS_OK && j->resumed) {
        /* make sure the next record starts on its own line */
        off_t end = lseek(j->fd, 0, SEEK_END);
        char last = '\n';
        if (end > 0 && pread(j->fd, &last, 1, end - 1) == 1 && last != '\n')
            r = append(j, "\n", err);
    }
    if (r != XS_OK) {
        xs_journal_close(j);
        return r;
    }
    *out = j;
    return XS_OK;
}

void xs_journal_close(xs_journal *j)
{
    if (!j)
        return;
    if (j->fd >= 0)
        close(j->fd);
    for (int i = 0; j->hash && i < j->frame_count; ++i)
        free(j->hash[i]);
    free(j->hash);
    free(j->assembled);
    free(j);
}

uint64_t xs_journal_tile_hash(const xs_journal *j, int fi, int tile)
{
    return j->hash[fi] ? j->hash[fi][tile] : 0;
}
bool xs_journal_frame_assembled(const xs_journal *j, int fi) { return j->assembled[fi] != 0; }
int64_t xs_journal_loaded_tiles(const xs_journal *j) { return j->loaded_tiles; }
int xs_journal_loaded_frames(const xs_journal *j) { return j->loaded_frames; }
bool xs_journal_resumed(const xs_journal *j) { return j->resumed; }

xs_result xs_journal_commit_tile(xs_journal *j, int frame, int tile, uint64_t hash, xs_err *err)
{
    char line[96];
    snprintf(line, sizeof line, "T %d %d %016" PRIx64 "\n", frame, tile, hash);
    return append(j, line, err);
}

xs_result xs_journal_commit_frame(xs_journal *j, int frame, xs_err *err)
{
    char line[32];
    snprintf(line, sizeof line, "F %d\n", frame);
    return append(j, line, err);
}

/* ---- event log ------------------------------------------------------------ */

struct xs_events {
    FILE *f;
    double last_flush;
};

xs_result xs_events_open(const char *path, xs_events **out, xs_err *err)
{
    *out = NULL;
    xs_events *ev = calloc(1, sizeof *ev);
    if (!ev)
        return xs_err_set(err, XS_ERR_NOMEM, "events: out of memory");
    ev->f = fopen(path, "a");
    if (!ev->f) {
        int e = errno;
        free(ev);
        return xs_err_set(err, XS_ERR_IO, "%s: cannot open: %s", path, strerror(e));
    }
    *out = ev;
    return XS_OK;
}

void xs_events_close(xs_events *ev)
{
    if (!ev)
        return;
    fclose(ev->f);
    free(ev);
}

void xs_events_emit(xs_events *ev, const char *type, const char *fields, ...)
{
    if (!ev)
        return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    fprintf(ev->f, "{\"time\": %.3f, \"event\": \"%s\"", (double)tv.tv_sec + tv.tv_usec * 1e-6, type);
    if (fields && *fields) {
        fputs(", ", ev->f);
        va_list ap;
        va_start(ap, fields);
        vfprintf(ev->f, fields, ap);
        va_end(ap);
    }
    fputs("}\n", ev->f);
    /* per-tile events are many: flush them at most twice a second (a reader
     * polling the log sees them soon; resume relies on the journal, not on
     * this); everything else at once */
    double now = (double)tv.tv_sec + tv.tv_usec * 1e-6;
    bool bulk = strcmp(type, "tile_dispatched") == 0 || strcmp(type, "tile_committed") == 0 ||
                strcmp(type, "assembly_dispatched") == 0;
    if (!bulk || now - ev->last_flush > 0.5) {
        fflush(ev->f);
        ev->last_flush = now;
    }
}
