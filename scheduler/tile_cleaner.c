/* The tile cleaner (see xs_tile_cleaner.h): a queue of frames and a thread
 * that removes their tile files. A frame is cleaned once; the flags of
 * cleaned frames (by frame index) let a stray tile go at once. */
#include "scheduler/xs_tile_cleaner.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct xs_tile_cleaner {
    const xs_job *job;
    pthread_t thread;
    bool started, stop;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    int *queue; /* frame numbers */
    size_t len, cap;
    uint8_t *cleaned; /* per frame index: its tiles are gone (set before the thread starts on it) */
    int64_t removed, failed;
};

static bool unlink_counted(xs_tile_cleaner *c, const char *path)
{
    if (unlink(path) == 0)
        return true;
    if (errno != ENOENT) {
        c->failed++;
        fprintf(stderr, "xisuan: warning: cannot remove %s: %s\n", path, strerror(errno));
    }
    return false;
}

static void clean_frame(xs_tile_cleaner *c, int frame)
{
    const xs_job *job = c->job;
    const int T = xs_film_tile_count(&job->film);
    char path[XS_PATH_MAX];
    int64_t n = 0;
    for (int t = 0; t < T; ++t)
        if (xs_job_tile_path(&job->layout, frame, t, path, sizeof path, NULL) == XS_OK && unlink_counted(c, path))
            n++;
    if (xs_job_tile_dir(&job->layout, frame, path, sizeof path, NULL) == XS_OK) {
        if (rmdir(path) == 0)
            n++;
        else if (errno != ENOENT && errno != ENOTEMPTY && errno != EEXIST)
            c->failed++;
        /* one sync of the tiles folder for the frame's removals */
        char *slash = strrchr(path, '/');
        if (slash) {
            *slash = '\0';
            int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (fd >= 0) {
                (void)fsync(fd);
                close(fd);
            }
        }
    }
    pthread_mutex_lock(&c->mu);
    c->removed += n;
    pthread_mutex_unlock(&c->mu);
}

static void *cleaner_main(void *arg)
{
    xs_tile_cleaner *c = (xs_tile_cleaner *)arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (c->len == 0 && !c->stop)
            pthread_cond_wait(&c->wake, &c->mu);
        if (c->len == 0)
            break;
        int frame = c->queue[--c->len];
        pthread_mutex_unlock(&c->mu);
        clean_frame(c, frame);
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

xs_result xs_tile_cleaner_create(const xs_job *job, xs_tile_cleaner **out, xs_err *err)
{
    *out = NULL;
    xs_tile_cleaner *c = calloc(1, sizeof *c);
    if (!c || !(c->cleaned = calloc((size_t)job->opt->frame_count, 1))) {
        free(c);
        return xs_err_set(err, XS_ERR_NOMEM, "tile cleaner: out of memory");
    }
    c->job = job;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->wake, NULL);
    if (pthread_create(&c->thread, NULL, cleaner_main, c) != 0) {
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->wake);
        free(c->cleaned);
        free(c);
        return xs_err_set(err, XS_ERR_INTERNAL, "tile cleaner: cannot start its thread");
    }
    c->started = true;
    *out = c;
    return XS_OK;
}

void xs_tile_cleaner_frames(xs_tile_cleaner *c, const int *frames, size_t n)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < n; ++i) {
        int fi = xs_job_frame_index(c->job, frames[i]);
        if (fi < 0 || c->cleaned[fi])
            continue;
        if (c->len == c->cap) {
            size_t nc = c->cap ? c->cap * 2 : 64;
            int *nq = realloc(c->queue, nc * sizeof *nq);
            if (!nq)
                break; /* out of memory: the frame keeps its tiles (they are only files) */
            c->queue = nq;
            c->cap = nc;
        }
        c->cleaned[fi] = 1;
        c->queue[c->len++] = frames[i];
    }
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->mu);
}

void xs_tile_cleaner_on_durable(void *user, const int *frames, size_t n)
{
    xs_tile_cleaner_frames((xs_tile_cleaner *)user, frames, n);
}

void xs_tile_cleaner_stray(xs_tile_cleaner *c, int frame, int tile)
{
    if (!c)
        return;
    int fi = xs_job_frame_index(c->job, frame);
    pthread_mutex_lock(&c->mu);
    bool cleaned = fi >= 0 && c->cleaned[fi];
    pthread_mutex_unlock(&c->mu);
    char path[XS_PATH_MAX];
    /* when its frame is queued but not yet cleaned, this unlink and the
     * frame's race harmlessly: whichever comes second finds nothing */
    if (cleaned && xs_job_tile_path(&c->job->layout, frame, tile, path, sizeof path, NULL) == XS_OK &&
        unlink(path) == 0) {
        pthread_mutex_lock(&c->mu);
        c->removed++;
        pthread_mutex_unlock(&c->mu);
    }
    /* the late writer made the frame's tile folder again: it goes too when
     * empty (another late copy still writing there keeps it, and its own
     * stray removes it) */
    if (cleaned && xs_job_tile_dir(&c->job->layout, frame, path, sizeof path, NULL) == XS_OK)
        (void)rmdir(path);
}

void xs_tile_cleaner_destroy(xs_tile_cleaner *c, int64_t *removed, int64_t *failed)
{
    if (removed)
        *removed = 0;
    if (failed)
        *failed = 0;
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->mu);
    if (c->started)
        pthread_join(c->thread, NULL);
    if (removed)
        *removed = c->removed;
    if (failed)
        *failed = c->failed;
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->wake);
    free(c->queue);
    free(c->cleaned);
    free(c);
}
