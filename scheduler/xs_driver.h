/* The driver: rank 0's one loop over the policy, whatever carries the
 * messages.
 *
 * It feeds xs_sched the requests and results that workers send, sends the
 * actions that come out, keeps the report (journal, events, progress), gives
 * up on workers that hold work and stay silent, and drains on a signal. A
 * transport carries the messages: over MPI (rank 0 of a farm,
 * scheduler/driver_mpi.c), or to rank 0's own worker in one process
 * (xs_transport_local); a simulator can bring its own. One thread.
 */
#ifndef XS_DRIVER_H
#define XS_DRIVER_H

#include <stdbool.h>

#include <mpi.h>

#include "io/xs_result.h"
#include "scheduler/xs_job.h"
#include "scheduler/xs_protocol.h"
#include "scheduler/xs_report.h"
#include "scheduler/xs_sched.h"
#include "scheduler/xs_worker.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xs_transport xs_transport;
struct xs_transport {
    int workers;     /* workers 0 .. workers-1 */
    int rank_offset; /* worker w is rank w + rank_offset in messages and the report */
    /* Sends an ASSIGN or END to worker w without waiting for it. */
    xs_result (*send)(xs_transport *t, int worker, const xs_msg *msg, xs_err *err);
    /* The next message from a worker, if one has arrived (*have). An error
     * ends the loop: the protocol broke. */
    xs_result (*poll)(xs_transport *t, xs_msg *msg, int *worker, bool *have, xs_err *err);
    /* At the end: completes the sends still in flight, or drops them when
     * abandon (a worker will never answer). */
    xs_result (*finish)(xs_transport *t, bool abandon, xs_err *err);
    void (*destroy)(xs_transport *t);
    /* The time (seconds): MPI_Wtime, or a simulation's virtual clock. NULL:
     * the report's clock. */
    double (*now)(void *self);
    /* Every worker renders PART and MERGE items (a tile's sample chunks, and
     * their merge), so the policy may split tiles at the tail. */
    bool parts;
    /* Each worker's speed before it has results, relative (NULL: equal;
     * borrowed): its device's peak FLOP/s over the workers' mean. */
    const double *speed_prior;
};

/* Runs the job's policy over the transport's workers, worker w sending
 * prefetch[w] requests at the start, until the work is done, failed or
 * drained. Returns the final state; err is set when the protocol broke (an
 * MPI error, a malformed message), and then no rank may be left waiting: the
 * caller aborts. */
xs_sched_state xs_driver_run(const xs_job *job, xs_transport *t, const int *prefetch,
                             xs_job_report *report, xs_err *err);

/* Rank 0's transport over MPI: rank r is worker r - 1; answers go out with
 * MPI_Isend from pooled buffers, so rank 0 never blocks on a busy worker. */
xs_result xs_transport_mpi_create(MPI_Comm comm, xs_transport **out, xs_err *err);
/* One process: worker 0 is w, run in the loop's own thread when polled. */
xs_result xs_transport_local_create(xs_worker *w, int prefetch, xs_transport **out, xs_err *err);
void xs_transport_destroy(xs_transport *t); /* accepts NULL */

/* Rank 0 drains on SIGTERM and SIGUSR1; workers ignore both (rank 0 tells
 * them when to stop). */
void xs_install_signal_handlers(bool scheduler);
/* The drain signal received so far (0: none). */
int xs_drain_requested(void);
/* Forgets it: `xisuan join` drains a render whose lease was lost and goes on
 * with the next lease in the same process. */
void xs_drain_reset(void);

#ifdef __cplusplus
}
#endif
#endif
