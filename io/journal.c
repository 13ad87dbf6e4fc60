/* The job journal (see xs_journal.h).
 *
 * Group commit: rank 0's loop only appends records to a buffer (commit_*)
 * and goes on; a writer thread takes everything buffered, writes it with one
 * write() and makes it durable with one fdatasync(), so one sync covers every
 * record that arrived during the previous one. Latency is bounded by one
 * write plus one sync (and a millisecond: the writer looks for records every
 * millisecond rather than being woken by each); throughput no longer by one
 * sync per record. A record
 * counts for resume only once its batch is durable: a kill before that loses
 * the record, and the rerun renders that tile again (or verifies it). A
 * write or sync error is sticky: every later commit and flush returns it. */
#include "io/xs_journal.h"
#include "io/xs_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct xs_journal {
    char path[4096];
    int fd;
    int frame_count, tiles;
    int16_t index_of[10000];  /* frame number -> frame index, -1 if not in the job */
    uint64_t **hash;          /* per frame index, NULL until a tile of it is loaded */
    uint8_t *assembled;
    uint64_t *frame_size, *frame_hash; /* per frame index: the assembled file's (0: unknown) */
    int64_t loaded_tiles;
    int loaded_frames;
    bool resumed;
    /* group commit: records buffered for the writer thread */
    pthread_mutex_t mu;
    pthread_cond_t wake, durable;
    pthread_t writer;
    bool writer_started, stop;
    char *pending;
    size_t pending_len, pending_cap;
    uint64_t enqueued, synced; /* records buffered so far; records durable so far */
    int64_t batches;
    xs_err failure;            /* sticky: the first write or sync error */
    /* frames whose record is buffered (for the durable hook), swapped with the batch */
    int *pending_frames;
    size_t pending_frames_len, pending_frames_cap;
    void (*on_durable)(void *user, const int *frames, size_t n);
    void *on_durable_user;
    long sync_delay_ms;        /* test hook: a slow disk's sync (XS_TEST_FSYNC_DELAY_MS) */
};

/* Writes n bytes at the end and makes them durable. */
static xs_result write_sync(xs_journal *j, const char *buf, size_t n, xs_err *err)
{
    size_t done = 0;
    while (done < n) {
        ssize_t k = write(j->fd, buf + done, n - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            int e = errno;
            return xs_err_set(err, XS_ERR_IO, "%s: cannot append: %s", j->path, strerror(e));
        }
        done += (size_t)k;
    }
    if (j->sync_delay_ms > 0) {
        struct timespec ts = {j->sync_delay_ms / 1000, (j->sync_delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (fdatasync(j->fd) != 0) {
        int e = errno;
        return xs_err_set(err, XS_ERR_IO, "%s: fdatasync failed: %s", j->path, strerror(e));
    }
    return XS_OK;
}

/* Writes and syncs every buffered batch until asked to stop with nothing left. */
static void *writer_main(void *arg)
{
    xs_journal *j = (xs_journal *)arg;
    char *batch = NULL;
    size_t batch_cap = 0;
    int *frames = NULL;
    size_t frames_cap = 0;
    pthread_mutex_lock(&j->mu);
    for (;;) {
        /* appends do not wake it (a wake costs rank 0's loop a system call
         * per record): it looks every millisecond, or at once for a flush,
         * a full buffer or the end */
        while (j->pending_len == 0 && !j->stop) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&j->wake, &j->mu, &until);
        }
        if (j->pending_len == 0)
            break;
        /* take the buffer; the loop keeps appending to the other one */
        char *t = j->pending;
        size_t tc = j->pending_cap, n = j->pending_len;
        j->pending = batch;
        j->pending_cap = batch_cap;
        j->pending_len = 0;
        batch = t;
        batch_cap = tc;
        int *tf = j->pending_frames;
        size_t tfc = j->pending_frames_cap, nf = j->pending_frames_len;
        j->pending_frames = frames;
        j->pending_frames_cap = frames_cap;
        j->pending_frames_len = 0;
        frames = tf;
        frames_cap = tfc;
        uint64_t upto = j->enqueued;
        bool failed = j->failure.code != XS_OK;
        pthread_mutex_unlock(&j->mu);
        xs_err e;
        xs_err_clear(&e);
        xs_result r = failed ? XS_OK : write_sync(j, batch, n, &e);
        pthread_mutex_lock(&j->mu);
        if (r != XS_OK && j->failure.code == XS_OK)
            j->failure = e;
        bool durable = j->failure.code == XS_OK;
        if (durable) {
            j->synced = upto;
            j->batches++;
        }
        pthread_cond_broadcast(&j->durable);
        if (durable && nf > 0 && j->on_durable) {
            pthread_mutex_unlock(&j->mu);
            j->on_durable(j->on_durable_user, frames, nf);
            pthread_mutex_lock(&j->mu);
        }
    }
    pthread_mutex_unlock(&j->mu);
    free(batch);
    free(frames);
    return NULL;
}

/* Buffers one record for the writer (a frame's: frame >= 0, handed to the
 * durable hook with the batch that holds its record); the first error of an
 * earlier batch comes back here. */
static xs_result append_frame(xs_journal *j, const char *line, int frame, xs_err *err)
{
    size_t n = strlen(line);
    pthread_mutex_lock(&j->mu);
    xs_result r = XS_OK;
    if (j->failure.code != XS_OK) {
        r = xs_err_set(err, j->failure.code, "%s", j->failure.msg);
    } else {
        if (frame >= 0 && j->on_durable) {
            if (j->pending_frames_len == j->pending_frames_cap) {
                size_t nc = j->pending_frames_cap ? j->pending_frames_cap * 2 : 16;
                int *nf = realloc(j->pending_frames, nc * sizeof *nf);
                if (!nf) {
                    pthread_mutex_unlock(&j->mu);
                    return xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", j->path);
                }
                j->pending_frames = nf;
                j->pending_frames_cap = nc;
            }
        }
        if (j->pending_len + n > j->pending_cap) {
            size_t nc = j->pending_cap ? j->pending_cap * 2 : 4096;
            while (nc < j->pending_len + n)
                nc *= 2;
            char *nb = realloc(j->pending, nc);
            if (!nb) {
                pthread_mutex_unlock(&j->mu);
                return xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", j->path);
            }
            j->pending = nb;
            j->pending_cap = nc;
        }
        memcpy(j->pending + j->pending_len, line, n);
        j->pending_len += n;
        j->enqueued++;
        if (frame >= 0 && j->on_durable) /* room was made above */
            j->pending_frames[j->pending_frames_len++] = frame;
        if (j->pending_len >= 256 * 1024)
            pthread_cond_signal(&j->wake);
    }
    pthread_mutex_unlock(&j->mu);
    return r;
}

static xs_result append(xs_journal *j, const char *line, xs_err *err) { return append_frame(j, line, -1, err); }

xs_result xs_journal_flush(xs_journal *j, xs_err *err)
{
    if (!j)
        return XS_OK;
    pthread_mutex_lock(&j->mu);
    uint64_t target = j->enqueued;
    pthread_cond_signal(&j->wake);
    while (j->synced < target && j->failure.code == XS_OK && j->writer_started)
        pthread_cond_wait(&j->durable, &j->mu);
    xs_result r = j->failure.code == XS_OK ? XS_OK
                                           : xs_err_set(err, j->failure.code, "%s", j->failure.msg);
    pthread_mutex_unlock(&j->mu);
    return r;
}

int64_t xs_journal_batches(const xs_journal *j) { return j ? j->batches : 0; }

/* Loads the records after the header; a torn last line (a kill mid-write)
 * ends the load. Records may be of any length. */
static void load(xs_journal *j, FILE *f)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] != '\n')
            break; /* a torn last line */
        int frame = -1, tile = -1;
        unsigned long long size = 0;
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
        } else if (sscanf(line, "F %d", &frame) == 1 && frame >= 0 && frame <= 9999 &&
                   j->index_of[frame] >= 0) {
            int fi = j->index_of[frame];
            if (!j->assembled[fi])
                j->loaded_frames++;
            j->assembled[fi] = 1;
            /* "F frame size hash"; an older "F frame" leaves them unknown (0) */
            if (sscanf(line, "F %d %llu %16s", &frame, &size, hex) == 3) {
                j->frame_size[fi] = size;
                j->frame_hash[fi] = strtoull(hex, NULL, 16);
            } else {
                j->frame_size[fi] = 0;
                j->frame_hash[fi] = 0;
            }
        }
    }
    free(line);
}

/* The file's first line when it is a complete journal header (malloc'd), or
 * NULL: an empty file, or one killed before its header was whole. */
static char *read_header(FILE *f)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    if (n <= 0 || line[n - 1] != '\n' || strncmp(line, "xisuan-journal ", 15) != 0) {
        free(line);
        return NULL;
    }
    return line;
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
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->wake, NULL);
    pthread_cond_init(&j->durable, NULL);
    const char *sd = getenv("XS_TEST_FSYNC_DELAY_MS");
    j->sync_delay_ms = sd ? strtol(sd, NULL, 10) : 0;
    if (j->sync_delay_ms < 0 || j->sync_delay_ms > 10000)
        j->sync_delay_ms = 0;
    j->frame_count = frame_count;
    j->tiles = tiles_per_frame;
    memset(j->index_of, 0xff, sizeof j->index_of);
    for (int i = 0; i < frame_count; ++i)
        j->index_of[frames[i]] = (int16_t)i;
    j->hash = calloc((size_t)frame_count, sizeof *j->hash);
    j->assembled = calloc((size_t)frame_count, 1);
    j->frame_size = calloc((size_t)frame_count, sizeof *j->frame_size);
    j->frame_hash = calloc((size_t)frame_count, sizeof *j->frame_hash);
    int hn = snprintf(NULL, 0, "xisuan-journal 1 key=%016" PRIx64 " %s\n", key, settings);
    char *header = hn > 0 ? malloc((size_t)hn + 1) : NULL;
    if (header)
        snprintf(header, (size_t)hn + 1, "xisuan-journal 1 key=%016" PRIx64 " %s\n", key, settings);
    if (!j->hash || !j->assembled || !j->frame_size || !j->frame_hash || !header) {
        free(header);
        xs_journal_close(j);
        return xs_err_set(err, XS_ERR_NOMEM, "journal: out of memory");
    }
    xs_result r = XS_OK;
    FILE *f = fopen(path, "r");
    if (f) {
        char *first = read_header(f);
        if (first && strcmp(first, header) == 0) {
            load(j, f);
            j->resumed = true;
        } else if (first && !force) {
            char *nl = strchr(first, '\n');
            if (nl)
                *nl = '\0';
            r = xs_err_set(err, XS_ERR_INVALID,
                           "%s: this output folder holds another job (journal: '%.300s'; this run: "
                           "'xisuan-journal 1 key=%016" PRIx64 " %.300s'); use another --job or "
                           "--out, or --force to start it afresh",
                           path, first, key, settings);
        } else if (first) { /* --force: keep the other job's journal beside */
            char old[4200];
            for (int n = 1; n < 1000; ++n) {
                snprintf(old, sizeof old, "%s.old-%d", path, n);
                if (access(old, F_OK) != 0)
                    break;
            }
            if (rename(path, old) != 0) {
                int e = errno;
                r = xs_err_set(err, XS_ERR_IO, "%s: cannot move aside: %s", path, strerror(e));
            }
        } /* no whole header (empty, or killed while it was written): a new job */
        free(first);
        fclose(f);
    }
    /* test hook: widen the window between reading the folder's journal and
     * writing a new one, so a test can start a second job inside it (the
     * folder's lock, taken before, must refuse that job) */
    const char *delay = getenv("XS_TEST_JOURNAL_DELAY_MS");
    if (delay && r == XS_OK && !j->resumed) {
        long ms = strtol(delay, NULL, 10);
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        if (ms > 0 && ms < 60000)
            nanosleep(&ts, NULL);
    }
    /* a new journal appears whole, with its header, or not at all */
    if (r == XS_OK && !j->resumed)
        r = xs_file_write_atomic(path, header, strlen(header), err);
    if (r == XS_OK) {
        j->fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC); /* read: its last byte */
        if (j->fd < 0) {
            int e = errno;
            r = xs_err_set(err, XS_ERR_IO, "%s: cannot open: %s", path, strerror(e));
        }
    }
    if (r == XS_OK && j->resumed) {
        /* make sure the next record starts on its own line */
        off_t end = lseek(j->fd, 0, SEEK_END);
        char last = '\n';
        if (end > 0 && pread(j->fd, &last, 1, end - 1) == 1 && last != '\n')
            r = write_sync(j, "\n", 1, err);
    }
    if (r == XS_OK) {
        if (pthread_create(&j->writer, NULL, writer_main, j) == 0)
            j->writer_started = true;
        else
            r = xs_err_set(err, XS_ERR_IO, "%s: cannot start the journal's writer thread", path);
    }
    free(header);
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
    if (j->writer_started) { /* what is buffered is written before the thread ends */
        pthread_mutex_lock(&j->mu);
        j->stop = true;
        pthread_cond_signal(&j->wake);
        pthread_mutex_unlock(&j->mu);
        pthread_join(j->writer, NULL);
    }
    free(j->pending);
    free(j->pending_frames);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->wake);
    pthread_cond_destroy(&j->durable);
    if (j->fd >= 0)
        close(j->fd);
    for (int i = 0; j->hash && i < j->frame_count; ++i)
        free(j->hash[i]);
    free(j->hash);
    free(j->assembled);
    free(j->frame_size);
    free(j->frame_hash);
    free(j);
}

uint64_t xs_journal_tile_hash(const xs_journal *j, int fi, int tile)
{
    return j->hash[fi] ? j->hash[fi][tile] : 0;
}
bool xs_journal_frame_assembled(const xs_journal *j, int fi, uint64_t *size, uint64_t *hash)
{
    if (size)
        *size = j->frame_size[fi];
    if (hash)
        *hash = j->frame_hash[fi];
    return j->assembled[fi] != 0;
}
int64_t xs_journal_loaded_tiles(const xs_journal *j) { return j->loaded_tiles; }
int xs_journal_loaded_frames(const xs_journal *j) { return j->loaded_frames; }
bool xs_journal_resumed(const xs_journal *j) { return j->resumed; }

xs_result xs_journal_commit_tile(xs_journal *j, int frame, int tile, uint64_t hash, xs_err *err)
{
    char line[96];
    snprintf(line, sizeof line, "T %d %d %016" PRIx64 "\n", frame, tile, hash);
    return append(j, line, err);
}

xs_result xs_journal_commit_frame(xs_journal *j, int frame, uint64_t size, uint64_t hash, xs_err *err)
{
    char line[80];
    snprintf(line, sizeof line, "F %d %" PRIu64 " %016" PRIx64 "\n", frame, size, hash);
    return append_frame(j, line, frame, err);
}

void xs_journal_on_durable(xs_journal *j, void (*fn)(void *user, const int *frames, size_t n), void *user)
{
    pthread_mutex_lock(&j->mu);
    j->on_durable = fn;
    j->on_durable_user = user;
    pthread_mutex_unlock(&j->mu);
}
