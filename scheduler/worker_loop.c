/* The worker's pull loop under MPI (see xs_worker.h): ranks 1..N-1 keep
 * `prefetch` requests in flight with rank 0, so they never wait on it between
 * tiles. The loop feeds what rank 0 assigns into the worker's pipeline and
 * sends each result as it comes out (a result leaves only once its files are
 * durable); every result carries one more request. While nothing moves (the
 * GPU renders, the writers write) it backs off, spinning, then yielding, then
 * sleeping up to 1 ms. A worker whose device is lost keeps answering: every
 * item it holds or is given comes back FAILED with XS_REPORT_LOST until rank 0
 * has ended all its requests. */
#include "scheduler/xs_worker.h"

#include <stdio.h>
#include <string.h>

/* Sends an item's result to rank 0 (it carries the next request). */
static xs_result send_result(MPI_Comm comm, const xs_worker_result *res, xs_err *err)
{
    xs_msg msg;
    memset(&msg, 0, sizeof msg);
    msg.report = res->rep;
    msg.type = res->r == XS_OK ? XS_MSG_DONE : XS_MSG_FAILED;
    msg.item = res->item;
    if (res->r != XS_OK)
        xs_msg_set_text(&msg, res->text);
    return xs_msg_send(comm, 0, XS_TAG_UP, &msg, err);
}

xs_result xs_worker_run(MPI_Comm comm, xs_worker *w, int prefetch, xs_err *err)
{
    xs_msg msg;
    memset(&msg, 0, sizeof msg);
    msg.type = XS_MSG_REQUEST;
    for (int i = 0; i < prefetch; ++i)
        if (xs_msg_send(comm, 0, XS_TAG_UP, &msg, err) != XS_OK)
            return XS_ERR_MPI;
    int outstanding = prefetch, idle = 0;
    bool said_lost = false;
    xs_worker_result res[16];
    while (outstanding > 0 || xs_worker_held(w) > 0) {
        bool moved = false;
        /* every answer that has arrived */
        for (;;) {
            int flag = 0;
            MPI_Status st;
            int rc = MPI_Iprobe(0, XS_TAG_DOWN, comm, &flag, &st);
            if (rc != MPI_SUCCESS)
                return xs_mpi_fail(err, "worker: probing for rank 0's answers", rc);
            if (!flag)
                break;
            int from = 0;
            xs_result r = xs_msg_recv(comm, 0, XS_TAG_DOWN, &msg, &from, err);
            if (r != XS_OK)
                return r;
            outstanding--;
            moved = true;
            if (msg.type == XS_MSG_ASSIGN && (r = xs_worker_push(w, &msg.item, msg.expect_hash, err)) != XS_OK)
                return r;
        }
        bool progress = false;
        int n = xs_worker_pump(w, res, (int)(sizeof res / sizeof res[0]), &progress);
        for (int i = 0; i < n; ++i) {
            xs_result r = send_result(comm, &res[i], err);
            if (r != XS_OK)
                return r;
            outstanding++; /* every reply carries one more request */
        }
        if (xs_worker_lost(w) && !said_lost) {
            fprintf(stderr, "xisuan: rank %d: %s\n", w->rank, w->backend->lost_why);
            fflush(stderr);
            said_lost = true;
        }
        if (moved || progress)
            idle = 0;
        else
            xs_worker_backoff(w, &idle);
    }
    return XS_OK;
}
