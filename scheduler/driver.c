/* The driver loop (see xs_driver.h), the drain signals, and the transport of
 * a single process, where rank 0 is its own worker. */
#include "scheduler/xs_driver.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- signals ----------------------------------------------------------------- */

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

void xs_drain_reset(void) { drain_signal = 0; }

/* ---- the loop ------------------------------------------------------------------ */

static void fail_report(const xs_sched *s, int rank_offset)
{
    xs_work_item it;
    int ws[16], n = 0;
    if (!xs_sched_failed_item(s, &it, ws, &n))
        return;
    char ranks[160] = "";
    size_t o = 0;
    for (int i = 0; i < n && o + 8 < sizeof ranks; ++i)
        o += (size_t)snprintf(ranks + o, sizeof ranks - o, "%s%d", i ? ", " : "", ws[i] + rank_offset);
    if (it.kind == XS_WORK_TILE)
        fprintf(stderr, "xisuan: error: frame %d tile %d failed %d time(s) (on ranks %s); no retries left\n",
                it.frame, it.tile, n, ranks);
    else if (it.kind == XS_WORK_PART || it.kind == XS_WORK_MERGE)
        fprintf(stderr, "xisuan: error: frame %d tile %d: its %s failed %d time(s) (on ranks %s); no retries left\n",
                it.frame, it.tile, it.kind == XS_WORK_PART ? "part" : "merge of parts", n, ranks);
    else
        fprintf(stderr, "xisuan: error: the assembly of frame %d failed %d time(s) (on ranks %s); no retries left\n",
                it.frame, n, ranks);
}

/* Sends every pending action. */
static xs_result flush_actions(xs_sched *s, xs_transport *t, xs_job_report *rep, int *holding,
                               xs_err *err)
{
    xs_sched_action a;
    while (xs_sched_next_action(s, &a)) {
        xs_msg msg;
        memset(&msg, 0, offsetof(xs_msg, report));
        msg.type = a.kind == XS_ACT_ASSIGN ? XS_MSG_ASSIGN : XS_MSG_END;
        msg.item = a.item;
        if (a.kind == XS_ACT_ASSIGN) {
            msg.expect_hash = xs_report_expect_hash(rep, &a.item);
            xs_report_dispatch(rep, a.worker + t->rank_offset, &a.item);
            holding[a.worker]++;
        }
        xs_result r = t->send(t, a.worker, &msg, err);
        if (r != XS_OK)
            return r;
        rep->messages++;
    }
    return XS_OK;
}

/* A result: recorded (unless another copy of the item came first), then the
 * policy's event and the request it carries. A failure that says the
 * worker's device is lost retires the worker instead: its items go to
 * others, no failure is counted. */
static xs_result on_result(xs_sched *s, xs_transport *t, xs_job_report *rep, int w, const xs_msg *msg,
                           xs_err *err)
{
    const int rank = w + t->rank_offset;
    const bool ok = msg->type == XS_MSG_DONE;
    if (!ok && (msg->report.flags & XS_REPORT_LOST)) {
        if (!xs_sched_is_retired(s, w))
            xs_report_retired(rep, rank, &msg->item, msg->text);
        xs_result r = xs_sched_on_lost(s, w, msg->item, err);
        return r == XS_OK ? xs_sched_on_request(s, w, err) : r;
    }
    if (xs_sched_item_done(s, &msg->item)) {
        if (ok)
            xs_report_duplicate(rep, rank, &msg->item, &msg->report);
    } else {
        xs_err jerr;
        xs_err_clear(&jerr);
        if (xs_report_item(rep, rank, &msg->item, &msg->report, ok, msg->text, &jerr) != XS_OK) {
            /* cannot journal: stop handing out work; what is in flight still
             * comes back so no rank is left waiting */
            fprintf(stderr, "xisuan: error: %s; stopping the job\n", jerr.msg);
            rep->journal_failed = true;
            xs_sched_abort(s);
        }
    }
    /* the time a kept (verified) tile took says nothing of the worker's
     * speed; a frame change of an animated scene (posing, its BVHs, the
     * device's copy) is the worker's cost, once per frame, not the tile's */
    double secs = msg->report.kept ? -1.0 : msg->report.seconds;
    if (secs > 0.0 && msg->report.scene_s > 0.0)
        secs = secs > msg->report.scene_s ? secs - msg->report.scene_s : 0.0;
    xs_result r = ok ? xs_sched_on_done_timed(s, w, msg->item, secs, err) : xs_sched_on_failed(s, w, msg->item, err);
    return r == XS_OK ? xs_sched_on_request(s, w, err) : r;
}

xs_sched_state xs_driver_run(const xs_job *job, xs_transport *t, const int *prefetch,
                             xs_job_report *report, xs_err *err)
{
    const xs_options *o = job->opt;
    const int workers = t->workers;
    if (t->now) { /* one clock for the loop and the report */
        report->clock.now = t->now;
        report->clock.user = t;
        report->t_start = report->last_progress = xs_report_now(report);
    }
    xs_sched *s = NULL;
    if (xs_job_sched_create(job, workers, prefetch, t->parts, t->speed_prior, report->journal, &s, err) != XS_OK)
        return XS_SCHED_FAILED;
    /* frames an earlier run finished (records durable): tiles it left behind go */
    for (int i = 0; report->cleaner && i < o->frame_count; ++i) {
        xs_work_item a = {XS_WORK_ASSEMBLE, o->frames[i], -1, 0, 0, 0};
        if (xs_sched_item_done(s, &a))
            xs_tile_cleaner_frames(report->cleaner, &o->frames[i], 1);
    }
    xs_sched_state state = XS_SCHED_RUNNING;
    double *last_heard = malloc((size_t)workers * sizeof *last_heard);
    int *holding = calloc((size_t)workers, sizeof *holding); /* items assigned, not replied */
    if (!last_heard || !holding) {
        free(last_heard), free(holding);
        xs_sched_destroy(s);
        xs_err_set(err, XS_ERR_NOMEM, "rank 0: out of memory");
        return XS_SCHED_FAILED;
    }
    for (int i = 0; i < workers; ++i)
        last_heard[i] = xs_report_now(report);
    int idle = 0;
    double drain_start = 0.0;
    double t_msg = 0.0; /* when the message being handled arrived */
    double last_scan = -1e300; /* the last look for silent workers */
    xs_msg msg;
    for (;;) {
        if (flush_actions(s, t, report, holding, err) != XS_OK) {
            state = XS_SCHED_FAILED;
            break;
        }
        if (t_msg > 0.0) { /* busy: from a message's arrival to its answers sent */
            report->sched_busy_s += xs_report_now(report) - t_msg;
            t_msg = 0.0;
        }
        if ((state = xs_sched_get_state(s)) != XS_SCHED_RUNNING)
            break;
        double now = xs_report_now(report);
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
        /* a worker holding work that says nothing for too long is given up on
         * (looked for at most every second, or a quarter of the timeout:
         * the scan walks every worker) */
        const double scan_every = o->stall_timeout_s < 4.0 ? o->stall_timeout_s / 4.0 : 1.0;
        for (int i = 0; now - last_scan >= scan_every && i < workers; ++i)
            if (holding[i] > 0 && now - last_heard[i] > o->stall_timeout_s &&
                !xs_sched_is_silent(s, i)) {
                fprintf(stderr, "xisuan: warning: rank %d has said nothing for %.0f s while "
                                "holding %d item(s); handing them to other ranks\n",
                        i + t->rank_offset, now - last_heard[i], holding[i]);
                xs_events_emit(report->events, "rank_silent", "\"rank\": %d, \"seconds\": %.1f, \"items\": %d",
                               i + t->rank_offset, now - last_heard[i], holding[i]);
                if (xs_sched_on_silent(s, i, err) != XS_OK) {
                    state = XS_SCHED_FAILED;
                    goto out;
                }
            }
        if (now - last_scan >= scan_every)
            last_scan = now;
        bool have = false;
        int w = -1;
        if (t->poll(t, &msg, &w, &have, err) != XS_OK) {
            state = XS_SCHED_FAILED;
            break;
        }
        if (!have) {
            xs_backoff(&idle);
            xs_report_progress(report, s, false);
            continue;
        }
        idle = 0;
        t_msg = xs_report_now(report);
        xs_sched_set_time(s, t_msg - report->t_start + 1e-6); /* > 0: the policy may speculate */
        report->messages++;
        last_heard[w] = t_msg;
        if (xs_sched_is_silent(s, w)) {
            printf("xisuan: rank %d answers again\n", w + t->rank_offset);
            xs_events_emit(report->events, "rank_back", "\"rank\": %d", w + t->rank_offset);
        }
        xs_result r;
        switch (msg.type) {
        case XS_MSG_REQUEST:
            r = xs_sched_on_request(s, w, err);
            break;
        case XS_MSG_DONE:
        case XS_MSG_FAILED:
            holding[w]--;
            r = on_result(s, t, report, w, &msg, err);
            xs_report_progress(report, s, false);
            break;
        default:
            r = xs_err_set(err, XS_ERR_MPI, "rank 0: unknown message type %d from rank %d",
                           msg.type, w + t->rank_offset);
        }
        if (r != XS_OK) {
            state = XS_SCHED_FAILED;
            break;
        }
    }
out:
    /* every live worker receives its answers before it leaves, so this
     * returns; sends to a silent worker are not waited for */
    if (err->code == XS_OK && !report->gave_up_inflight &&
        t->finish(t, xs_sched_silent_count(s) > 0, err) != XS_OK)
        state = XS_SCHED_FAILED;
    report->silent_workers = xs_sched_silent_count(s);
    /* the journal's last group of records, durable before the job says so */
    xs_err jerr;
    xs_err_clear(&jerr);
    if (xs_journal_flush(report->journal, &jerr) != XS_OK) {
        fprintf(stderr, "xisuan: error: %s; the journal may lack the last tiles (a rerun renders "
                        "them again)\n", jerr.msg);
        report->journal_failed = true;
        if (state == XS_SCHED_COMPLETED)
            state = XS_SCHED_FAILED;
    }
    report->retired_workers = xs_sched_retired_count(s);
    xs_sched_get_progress(s, &report->final);
    if (state == XS_SCHED_FAILED)
        fail_report(s, t->rank_offset);
    if (state == XS_SCHED_FAILED && report->retired_workers + report->silent_workers >= workers &&
        report->retired_workers > 0)
        fprintf(stderr, "xisuan: error: no rank is left to render: %d lost its device%s\n",
                report->retired_workers,
                report->silent_workers ? " and the others stopped answering" : "");
    free(last_heard);
    free(holding);
    xs_report_print(report, s, state, workers);
    xs_sched_destroy(s);
    return state;
}

void xs_transport_destroy(xs_transport *t)
{
    if (t)
        t->destroy(t);
}

/* ---- one process: rank 0 is its own worker ---------------------------------- */

typedef struct local_transport {
    xs_transport base;
    xs_worker *w;
    int requests;                /* initial requests still to send */
    xs_worker_result res[16];    /* results the worker gave, not yet polled */
    int rhead, rlen;
    bool said_lost;
} local_transport;

static xs_result local_send(xs_transport *t, int worker, const xs_msg *msg, xs_err *err)
{
    local_transport *l = (local_transport *)t;
    (void)worker;
    if (msg->type != XS_MSG_ASSIGN)
        return XS_OK; /* an END: the request is answered, nothing to run */
    return xs_worker_push(l->w, &msg->item, msg->expect_hash, err);
}

/* The next message: an initial request, or the next result of the worker's
 * pipeline (pumped here, in the loop's own thread, until one comes out). */
static xs_result local_poll(xs_transport *t, xs_msg *msg, int *worker, bool *have, xs_err *err)
{
    local_transport *l = (local_transport *)t;
    *worker = 0;
    *have = true;
    memset(msg, 0, sizeof *msg);
    if (l->requests > 0) {
        l->requests--;
        msg->type = XS_MSG_REQUEST;
        return XS_OK;
    }
    int idle = 0;
    while (l->rlen == 0) {
        if (xs_worker_held(l->w) == 0) /* nothing assigned, nothing will come: the policy stalled */
            return xs_err_set(err, XS_ERR_INTERNAL, "scheduler stalled with no work assigned");
        bool progress = false;
        l->rhead = 0;
        l->rlen = xs_worker_pump(l->w, l->res, (int)(sizeof l->res / sizeof l->res[0]), &progress);
        if (progress)
            idle = 0;
        else
            xs_backoff(&idle);
    }
    if (xs_worker_lost(l->w) && !l->said_lost) {
        fprintf(stderr, "xisuan: rank 0: %s\n", l->w->backend->lost_why);
        l->said_lost = true;
    }
    const xs_worker_result *r = &l->res[l->rhead++];
    l->rlen--;
    msg->item = r->item;
    msg->report = r->rep;
    msg->type = r->r == XS_OK ? XS_MSG_DONE : XS_MSG_FAILED;
    if (msg->type == XS_MSG_FAILED)
        xs_msg_set_text(msg, r->text);
    return XS_OK;
}

static xs_result local_finish(xs_transport *t, bool abandon, xs_err *err)
{
    (void)t, (void)abandon, (void)err;
    return XS_OK;
}

static void local_destroy(xs_transport *t) { free(t); }

xs_result xs_transport_local_create(xs_worker *w, int prefetch, xs_transport **out, xs_err *err)
{
    *out = NULL;
    local_transport *l = calloc(1, sizeof *l);
    if (!l)
        return xs_err_set(err, XS_ERR_NOMEM, "rank 0: out of memory");
    l->base.workers = 1;
    l->base.rank_offset = 0;
    l->base.send = local_send;
    l->base.poll = local_poll;
    l->base.finish = local_finish;
    l->base.destroy = local_destroy;
    l->w = w;
    l->requests = prefetch;
    *out = &l->base;
    return XS_OK;
}
