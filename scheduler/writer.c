/* Writer threads (see xs_writer.h): one mutex, a FIFO of tasks to run and a
 * FIFO of finished ones, a condition variable for each direction. Tasks are
 * intrusive (the caller's struct starts with xs_writer_task), so the queues
 * never allocate. */
#include "scheduler/xs_writer.h"

#include <pthread.h>
#include <time.h>
#include <stdlib.h>

typedef struct fifo {
    xs_writer_task *head, *tail;
} fifo;

static void fifo_push(fifo *q, xs_writer_task *t)
{
    t->next = NULL;
    if (q->tail)
        q->tail->next = t;
    else
        q->head = t;
    q->tail = t;
}

static xs_writer_task *fifo_pop(fifo *q)
{
    xs_writer_task *t = q->head;
    if (t) {
        q->head = t->next;
        if (!q->head)
            q->tail = NULL;
        t->next = NULL;
    }
    return t;
}

struct xs_writer {
    pthread_mutex_t lock;
    pthread_cond_t work; /* a task was queued, or stop */
    pthread_cond_t done; /* a task finished */
    fifo todo, finished;
    int pending;         /* submitted, not taken */
    bool stop;
    int threads, started;
    pthread_t *tid;
};

static void *writer_main(void *arg)
{
    xs_writer *w = (xs_writer *)arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        xs_writer_task *t = fifo_pop(&w->todo);
        if (!t) {
            if (w->stop)
                break;
            pthread_cond_wait(&w->work, &w->lock);
            continue;
        }
        pthread_mutex_unlock(&w->lock);
        t->run(t);
        pthread_mutex_lock(&w->lock);
        fifo_push(&w->finished, t);
        pthread_cond_signal(&w->done);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

xs_result xs_writer_create(int threads, xs_writer **out, xs_err *err)
{
    *out = NULL;
    xs_writer *w = calloc(1, sizeof *w);
    if (!w)
        return xs_err_set(err, XS_ERR_NOMEM, "writer threads: out of memory");
    w->threads = threads > 0 ? threads : 0;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->done, NULL);
    if (w->threads > 0 && !(w->tid = calloc((size_t)w->threads, sizeof *w->tid))) {
        xs_writer_destroy(w);
        return xs_err_set(err, XS_ERR_NOMEM, "writer threads: out of memory");
    }
    for (int i = 0; i < w->threads; ++i) {
        if (pthread_create(&w->tid[i], NULL, writer_main, w) != 0) {
            int started = w->started;
            xs_writer_destroy(w);
            return xs_err_set(err, XS_ERR_INTERNAL, "writer threads: could not start thread %d (%d running)",
                              i + 1, started);
        }
        w->started++;
    }
    *out = w;
    return XS_OK;
}

void xs_writer_submit(xs_writer *w, xs_writer_task *t)
{
    if (w->threads == 0) {
        t->run(t);
        fifo_push(&w->finished, t);
        w->pending++;
        return;
    }
    pthread_mutex_lock(&w->lock);
    fifo_push(&w->todo, t);
    w->pending++;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->lock);
}

xs_writer_task *xs_writer_take(xs_writer *w, bool wait)
{
    pthread_mutex_lock(&w->lock);
    xs_writer_task *t = fifo_pop(&w->finished);
    while (!t && wait && w->pending > 0 && w->threads > 0) {
        pthread_cond_wait(&w->done, &w->lock);
        t = fifo_pop(&w->finished);
    }
    if (t)
        w->pending--;
    pthread_mutex_unlock(&w->lock);
    return t;
}

bool xs_writer_wait(xs_writer *w, long max_ns)
{
    if (w->threads == 0)
        return false;
    pthread_mutex_lock(&w->lock);
    bool busy = !w->finished.head && w->pending > 0;
    if (busy) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += max_ns;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&w->done, &w->lock, &ts);
    }
    pthread_mutex_unlock(&w->lock);
    return busy;
}

int xs_writer_pending(const xs_writer *w) { return w->pending; }

int xs_writer_threads(const xs_writer *w) { return w->threads; }

void xs_writer_destroy(xs_writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_broadcast(&w->work);
    pthread_mutex_unlock(&w->lock);
    for (int i = 0; i < w->started; ++i)
        pthread_join(w->tid[i], NULL);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->done);
    pthread_mutex_destroy(&w->lock);
    free(w->tid);
    free(w);
}
