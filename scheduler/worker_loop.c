/* The worker's pull loop under MPI (see xs_worker.h): ranks 1..N-1 keep
 * `prefetch` requests in flight with rank 0, so they never wait on it between
 * tiles; a back end with several slots (a GPU) gets its next tiles started
 * before the oldest one is ended and written. */
#include "scheduler/xs_worker.h"

#include <stdlib.h>
#include <string.h>

/* Sends an item's result to rank 0 (it carries the next request). */
static xs_result send_result(MPI_Comm comm, const xs_work_item *it, xs_result r, const xs_item_report *rep,
                             const xs_err *e, xs_err *err)
{
    xs_msg msg;
    memset(&msg, 0, sizeof msg);
    msg.report = *rep;
    msg.type = r == XS_OK ? XS_MSG_DONE : XS_MSG_FAILED;
    msg.item = *it;
    if (r != XS_OK)
        xs_msg_set_text(&msg, e->msg);
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
    int outstanding = prefetch;
    /* local queue: at most `prefetch` items can be held at once */
    xs_work_item *queue = malloc((size_t)prefetch * sizeof *queue);
    uint64_t *hashes = malloc((size_t)prefetch * sizeof *hashes);
    if (!queue || !hashes) {
        free(queue);
        free(hashes);
        return xs_err_set(err, XS_ERR_NOMEM, "worker: out of memory");
    }
    /* tiles in flight on the back end, oldest first */
    int fifo[XS_MAX_SLOTS], fhead = 0, flen = 0;
    int qhead = 0, qlen = 0, idle = 0;
    xs_result result = XS_OK;
    while (qlen > 0 || outstanding > 0 || flen > 0) {
        /* take every answer that has arrived; wait for one only when there
         * is nothing to start and nothing in flight */
        for (;;) {
            int flag = 0;
            MPI_Status st;
            int rc = MPI_Iprobe(0, XS_TAG_DOWN, comm, &flag, &st);
            if (rc != MPI_SUCCESS) {
                result = xs_mpi_fail(err, "worker: probing for rank 0's answers", rc);
                goto done;
            }
            if (!flag) {
                if (qlen > 0 || flen > 0 || outstanding == 0)
                    break;
                xs_backoff(&idle);
                continue;
            }
            idle = 0;
            int from = 0;
            if ((result = xs_msg_recv(comm, 0, XS_TAG_DOWN, &msg, &from, err)) != XS_OK)
                goto done;
            outstanding--;
            if (msg.type == XS_MSG_ASSIGN) {
                if (qlen == prefetch) {
                    result = xs_err_set(err, XS_ERR_INTERNAL, "worker: queue overflow");
                    goto done;
                }
                hashes[(qhead + qlen) % prefetch] = msg.expect_hash;
                queue[(qhead + qlen++) % prefetch] = msg.item;
            }
            if (outstanding == 0 && qlen == 0)
                break;
        }
        /* start what the back end has room for (a GPU holds several tiles);
         * a tile of another frame of an animated scene waits until the
         * tiles in flight are done (the scene is posed for one frame) */
        while (qlen > 0 && xs_worker_free_slot(w) >= 0 && !xs_worker_must_drain(w, &queue[qhead])) {
            xs_work_item it = queue[qhead];
            uint64_t expect = hashes[qhead];
            qhead = (qhead + 1) % prefetch;
            qlen--;
            xs_err e;
            xs_err_clear(&e);
            xs_item_report rep;
            int slot = -1;
            xs_result r = xs_worker_begin(w, &it, expect, &rep, &slot, &e);
            if (r == XS_OK && slot >= 0) {
                fifo[(fhead + flen++) % XS_MAX_SLOTS] = slot;
                continue;
            }
            if ((result = send_result(comm, &it, r, &rep, &e, err)) != XS_OK)
                goto done;
            outstanding++; /* every reply carries one more request */
        }
        /* end the oldest tile in flight: the others keep the device busy
         * while this one is compressed and written */
        if (flen > 0) {
            int slot = fifo[fhead];
            fhead = (fhead + 1) % XS_MAX_SLOTS;
            flen--;
            xs_work_item it = w->flight[slot].item;
            xs_err e;
            xs_err_clear(&e);
            xs_item_report rep;
            xs_result r = xs_worker_finish(w, slot, &rep, &e);
            if ((result = send_result(comm, &it, r, &rep, &e, err)) != XS_OK)
                goto done;
            outstanding++;
        }
    }
done:
    free(queue);
    free(hashes);
    return result;
}
