/* Rank 0 under MPI: a thin layer over the policy. It receives requests and
 * results from workers (rank r is worker r-1), feeds them to xs_sched, and
 * sends the actions that come out. It never renders. While nothing arrives it
 * backs off (spin, yield, then sleep up to 1 ms) so it leaves the cores to the
 * workers on oversubscribed nodes. Any MPI error ends the loop with a message;
 * the caller then aborts the job, so no rank is left hanging.
 */
#include "scheduler/farm_internal.h"

#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void xs_backoff(int *idle)
{
    int k = (*idle)++;
    if (k < 64)
        return;
    if (k < 256) {
        sched_yield();
        return;
    }
    long ns = 20000L * (k - 255);
    if (ns > 1000000L)
        ns = 1000000L;
    struct timespec ts = {0, ns};
    nanosleep(&ts, NULL);
}

/* Rank 0 never blocks on a worker: every answer goes out with MPI_Isend from
 * its own buffer, and the buffers come back once MPI says they are sent. A
 * blocking MPI_Send was measured to spin in Open MPI's progress loop until the
 * busy worker next entered MPI, costing rank 0 half a core per worker. */
typedef struct send_pool {
    MPI_Request *req;
    xs_msg *msg;
    int *free_list;
    int cap, nfree;
} send_pool;

static xs_result pool_grow(send_pool *p, xs_err *err)
{
    int ncap = p->cap ? p->cap * 2 : 16;
    MPI_Request *r = realloc(p->req, (size_t)ncap * sizeof *r);
    if (r)
        p->req = r;
    xs_msg *m = realloc(p->msg, (size_t)ncap * sizeof *m);
    if (m)
        p->msg = m;
    int *f = realloc(p->free_list, (size_t)ncap * sizeof *f);
    if (f)
        p->free_list = f;
    if (!r || !m || !f)
        return xs_err_set(err, XS_ERR_NOMEM, "rank 0: out of memory for send buffers");
    for (int i = p->cap; i < ncap; ++i) {
        p->req[i] = MPI_REQUEST_NULL;
        p->free_list[p->nfree++] = i;
    }
    p->cap = ncap;
    return XS_OK;
}

/* Returns finished sends' buffers to the free list. */
static xs_result pool_reap(send_pool *p, xs_err *err)
{
    for (int i = 0; i < p->cap; ++i) {
        if (p->req[i] == MPI_REQUEST_NULL)
            continue;
        int done = 0;
        int rc = MPI_Test(&p->req[i], &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS)
            return xs_mpi_fail(err, "rank 0: completing a send to a worker", rc);
        if (done)
            p->free_list[p->nfree++] = i;
    }
    return XS_OK;
}

static void pool_free(send_pool *p)
{
    free(p->req);
    free(p->msg);
    free(p->free_list);
}

/* Sends every pending action without blocking. */
static xs_result flush_actions(MPI_Comm comm, const xs_options *o, xs_sched *s, send_pool *pool,
                               xs_job_report *rep, int *holding, xs_err *err)
{
    xs_sched_action a;
    while (xs_sched_next_action(s, &a)) {
        xs_result r = XS_OK;
        if (pool->nfree == 0 && (r = pool_reap(pool, err)) == XS_OK && pool->nfree == 0)
            r = pool_grow(pool, err);
        if (r != XS_OK)
            return r;
        int slot = pool->free_list[--pool->nfree];
        xs_msg *msg = &pool->msg[slot];
        memset(msg, 0, sizeof *msg);
        msg->type = a.kind == XS_ACT_ASSIGN ? XS_MSG_ASSIGN : XS_MSG_END;
        msg->item = a.item;
        if (a.kind == XS_ACT_ASSIGN) {
            msg->expect_hash = xs_report_expect_hash(rep, o, &a.item);
            xs_report_dispatch(rep, a.worker + 1, &a.item);
            holding[a.worker]++;
        }
        int rc = MPI_Isend(msg, (int)sizeof *msg, MPI_BYTE, a.worker + 1, XS_TAG_DOWN, comm,
                           &pool->req[slot]);
        if (rc != MPI_SUCCESS)
            return xs_mpi_fail(err, "rank 0: sending to a worker", rc);
        rep->messages++;
    }
    return XS_OK;
}

/* ---- signals ------------------------------------------------------------------ */

static volatile sig_atomic_t drain_signal;

static void on_drain_signal(int sig) { drain_signal = sig; }

void xs_install_signal_handlers(bool scheduler)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    /* rank 0 drains; workers ignore the signal and finish what they hold
     * (rank 0 tells them when to stop) */
    sa.sa_handler = scheduler ? on_drain_signal : SIG_IGN;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
}

int xs_drain_requested(void) { return drain_signal; }

static void fail_report(const xs_sched *s)
{
    xs_work_item it;
    int ws[16], n = 0;
    if (!xs_sched_failed_item(s, &it, ws, &n))
        return;
    char ranks[160] = "";
    size_t o = 0;
    for (int i = 0; i < n && o + 8 < sizeof ranks; ++i)
        o += (size_t)snprintf(ranks + o, sizeof ranks - o, "%s%d", i ? ", " : "", ws[i] + 1);
    if (it.kind == XS_WORK_TILE)
        fprintf(stderr, "xisuan: error: frame %d tile %d failed %d time(s) (on ranks %s); no retries left\n",
                it.frame, it.tile, n, ranks);
    else
        fprintf(stderr, "xisuan: error: the assembly of frame %d failed %d time(s) (on ranks %s); no retries left\n",
                it.frame, n, ranks);
}

xs_sched_state xs_master_run(MPI_Comm comm, const xs_options *o, const xs_film *film,
                             xs_job_report *report, xs_err *err)
{
    int size = 1;
    MPI_Comm_size(comm, &size);
    const int workers = size - 1;
    xs_sched *s = NULL;
    if (xs_job_sched_create(o, film, workers, report, &s, err) != XS_OK)
        return XS_SCHED_FAILED;
    xs_sched_state state = XS_SCHED_RUNNING;
    int idle = 0;
    xs_msg msg;
    send_pool pool = {0};
    double *last_heard = malloc((size_t)workers * sizeof *last_heard);
    int *holding = calloc((size_t)workers, sizeof *holding); /* items assigned, not replied */
    if (!last_heard || !holding) {
        free(last_heard), free(holding);
        xs_sched_destroy(s);
        xs_err_set(err, XS_ERR_NOMEM, "rank 0: out of memory");
        return XS_SCHED_FAILED;
    }
    for (int i = 0; i < workers; ++i)
        last_heard[i] = MPI_Wtime();
    double drain_start = 0.0;
    double t_msg = 0.0; /* when the message being handled arrived */
    for (;;) {
        if (flush_actions(comm, o, s, &pool, report, holding, err) != XS_OK) {
            state = XS_SCHED_FAILED;
            break;
        }
        if (t_msg > 0.0) { /* busy: from a message's arrival to its answers sent */
            report->sched_busy_s += MPI_Wtime() - t_msg;
            t_msg = 0.0;
        }
        if ((state = xs_sched_get_state(s)) != XS_SCHED_RUNNING)
            break;
        double now = MPI_Wtime();
        /* a signal: hand out nothing more, wait for the tiles in flight */
        if (xs_drain_requested() && drain_start == 0.0) {
            drain_start = now;
            printf("\nxisuan: signal %d: draining: no new work; waiting up to %.0f s for the "
                   "tiles in flight, then exiting 75 so the job can be requeued\n",
                   (int)xs_drain_requested(), o->grace_s);
            fflush(stdout);
            xs_events_emit(report->events, "drain", "\"signal\": %d, \"grace_s\": %.0f",
                           (int)xs_drain_requested(), o->grace_s);
            xs_sched_drain(s);
            continue;
        }
        if (drain_start > 0.0 && now - drain_start > o->grace_s) {
            fprintf(stderr, "xisuan: grace period over with work still in flight; the journal "
                            "holds every committed tile; exiting for a requeue\n");
            report->gave_up_inflight = true;
            state = XS_SCHED_DRAINED;
            break;
        }
        /* a worker holding work that says nothing for too long is given up on */
        for (int i = 0; i < workers; ++i)
            if (holding[i] > 0 && now - last_heard[i] > o->stall_timeout_s &&
                !xs_sched_is_silent(s, i)) {
                fprintf(stderr, "xisuan: warning: rank %d has said nothing for %.0f s while "
                                "holding %d item(s); handing them to other ranks\n",
                        i + 1, now - last_heard[i], holding[i]);
                xs_events_emit(report->events, "rank_silent", "\"rank\": %d, \"seconds\": %.1f, \"items\": %d",
                               i + 1, now - last_heard[i], holding[i]);
                if (xs_sched_on_silent(s, i, err) != XS_OK) {
                    state = XS_SCHED_FAILED;
                    goto out;
                }
            }
        int flag = 0;
        MPI_Status st;
        int rc = MPI_Iprobe(MPI_ANY_SOURCE, XS_TAG_UP, comm, &flag, &st);
        if (rc != MPI_SUCCESS) {
            xs_mpi_fail(err, "rank 0: probing for worker messages", rc);
            state = XS_SCHED_FAILED;
            break;
        }
        if (!flag) {
            xs_backoff(&idle);
            xs_report_progress(report, s, false);
            continue;
        }
        idle = 0;
        t_msg = MPI_Wtime();
        rc = MPI_Recv(&msg, (int)sizeof msg, MPI_BYTE, st.MPI_SOURCE, XS_TAG_UP, comm,
                      MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) {
            xs_mpi_fail(err, "rank 0: receiving from a worker", rc);
            state = XS_SCHED_FAILED;
            break;
        }
        report->messages++;
        const int w = st.MPI_SOURCE - 1;
        if (w < 0 || w >= workers) {
            xs_err_set(err, XS_ERR_MPI, "rank 0: a message from unknown rank %d", st.MPI_SOURCE);
            state = XS_SCHED_FAILED;
            break;
        }
        last_heard[w] = now;
        if (xs_sched_is_silent(s, w)) {
            printf("xisuan: rank %d answers again\n", st.MPI_SOURCE);
            xs_events_emit(report->events, "rank_back", "\"rank\": %d", st.MPI_SOURCE);
        }
        xs_result r = XS_OK;
        msg.text[sizeof msg.text - 1] = '\0';
        switch (msg.type) {
        case XS_MSG_REQUEST:
            r = xs_sched_on_request(s, w, err);
            break;
        case XS_MSG_DONE:
        case XS_MSG_FAILED: {
            bool ok = msg.type == XS_MSG_DONE;
            holding[w]--;
            if (xs_sched_item_done(s, &msg.item)) {
                xs_events_emit(report->events, "duplicate_result", "\"frame\": %d, \"tile\": %d, \"rank\": %d",
                               msg.item.frame, msg.item.tile, st.MPI_SOURCE);
            } else {
                xs_err jerr;
                xs_err_clear(&jerr);
                if (xs_report_item(report, st.MPI_SOURCE, &msg.item, &msg.report, ok, o, msg.text,
                                   &jerr) != XS_OK) {
                    /* cannot journal: stop handing out work; what is in flight
                     * still comes back so no rank is left waiting */
                    fprintf(stderr, "xisuan: error: %s; stopping the job\n", jerr.msg);
                    report->journal_failed = true;
                    xs_sched_abort(s);
                }
            }
            r = ok ? xs_sched_on_done(s, w, msg.item, err) : xs_sched_on_failed(s, w, msg.item, err);
            if (r == XS_OK)
                r = xs_sched_on_request(s, w, err);
            break;
        }
        default:
            r = xs_err_set(err, XS_ERR_MPI, "rank 0: unknown message type %d from rank %d",
                           msg.type, st.MPI_SOURCE);
        }
        if (r != XS_OK) {
            state = XS_SCHED_FAILED;
            break;
        }
    }
out:
    /* every live worker receives its answers before it leaves, so this
     * returns; sends to a silent worker are not waited for */
    if (err->code == XS_OK && !report->gave_up_inflight) {
        for (int i = 0; i < pool.cap; ++i) {
            if (pool.req[i] == MPI_REQUEST_NULL)
                continue;
            if (xs_sched_silent_count(s) > 0) {
                MPI_Request_free(&pool.req[i]);
                continue;
            }
            int rc = MPI_Wait(&pool.req[i], MPI_STATUS_IGNORE);
            if (rc != MPI_SUCCESS) {
                xs_mpi_fail(err, "rank 0: completing the last sends", rc);
                state = XS_SCHED_FAILED;
                break;
            }
        }
    }
    report->silent_workers = xs_sched_silent_count(s);
    if (state == XS_SCHED_FAILED)
        fail_report(s);
    pool_free(&pool);
    free(last_heard);
    free(holding);
    xs_report_print(report, o, s, state, workers);
    xs_sched_destroy(s);
    return state;
}
