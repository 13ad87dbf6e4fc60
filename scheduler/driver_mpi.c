/* Rank 0's transport over MPI (see xs_driver.h): rank r is worker r - 1.
 *
 * Rank 0 never blocks on a worker: every answer goes out with MPI_Isend from
 * its own buffer, and the buffers come back once MPI says they are sent. A
 * blocking MPI_Send was measured to spin in Open MPI's progress loop until the
 * busy worker next entered MPI, costing rank 0 half a core per worker. Any
 * MPI error ends the driver's loop with a message; the caller then aborts the
 * job, so no rank is left hanging.
 */
#include "scheduler/xs_driver.h"

#include <stdlib.h>
#include <string.h>

typedef struct mpi_transport {
    xs_transport base;
    MPI_Comm comm;
    MPI_Request *req;
    xs_msg *msg;
    int *free_list;
    int cap, nfree;
} mpi_transport;

static xs_result pool_grow(mpi_transport *p, xs_err *err)
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
static xs_result pool_reap(mpi_transport *p, xs_err *err)
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

static xs_result mpi_send(xs_transport *t, int worker, const xs_msg *msg, xs_err *err)
{
    mpi_transport *p = (mpi_transport *)t;
    xs_result r = XS_OK;
    if (p->nfree == 0 && (r = pool_reap(p, err)) == XS_OK && p->nfree == 0)
        r = pool_grow(p, err);
    if (r != XS_OK)
        return r;
    int slot = p->free_list[--p->nfree];
    memcpy(&p->msg[slot], msg, xs_msg_size(msg));
    return xs_msg_isend(p->comm, worker + 1, XS_TAG_DOWN, &p->msg[slot], &p->req[slot], err);
}

static xs_result mpi_poll(xs_transport *t, xs_msg *msg, int *worker, bool *have, xs_err *err)
{
    mpi_transport *p = (mpi_transport *)t;
    *have = false;
    int flag = 0;
    MPI_Status st;
    int rc = MPI_Iprobe(MPI_ANY_SOURCE, XS_TAG_UP, p->comm, &flag, &st);
    if (rc != MPI_SUCCESS)
        return xs_mpi_fail(err, "rank 0: probing for worker messages", rc);
    if (!flag)
        return XS_OK;
    int from = -1;
    xs_result r = xs_msg_recv(p->comm, st.MPI_SOURCE, XS_TAG_UP, msg, &from, err);
    if (r != XS_OK)
        return r;
    if (from < 1 || from > t->workers)
        return xs_err_set(err, XS_ERR_MPI, "rank 0: a message from unknown rank %d", from);
    *worker = from - 1;
    *have = true;
    return XS_OK;
}

static xs_result mpi_finish(xs_transport *t, bool abandon, xs_err *err)
{
    mpi_transport *p = (mpi_transport *)t;
    for (int i = 0; i < p->cap; ++i) {
        if (p->req[i] == MPI_REQUEST_NULL)
            continue;
        if (abandon) {
            MPI_Request_free(&p->req[i]);
            continue;
        }
        int rc = MPI_Wait(&p->req[i], MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS)
            return xs_mpi_fail(err, "rank 0: completing the last sends", rc);
    }
    return XS_OK;
}

static void mpi_destroy(xs_transport *t)
{
    mpi_transport *p = (mpi_transport *)t;
    free(p->req);
    free(p->msg);
    free(p->free_list);
    free(p);
}

xs_result xs_transport_mpi_create(MPI_Comm comm, xs_transport **out, xs_err *err)
{
    *out = NULL;
    int size = 1;
    MPI_Comm_size(comm, &size);
    mpi_transport *p = calloc(1, sizeof *p);
    if (!p)
        return xs_err_set(err, XS_ERR_NOMEM, "rank 0: out of memory");
    p->base.workers = size - 1;
    p->base.rank_offset = 1;
    p->base.send = mpi_send;
    p->base.poll = mpi_poll;
    p->base.finish = mpi_finish;
    p->base.destroy = mpi_destroy;
    p->comm = comm;
    *out = &p->base;
    return XS_OK;
}
