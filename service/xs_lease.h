/* How many frames a cluster gets when it asks for work: the lease policy of a
 * job served by several clusters (docs/service.md#leases). Pure: no clock, no
 * database; the service (service/server_jobs.c) measures and asks, tests
 * simulate.
 *
 * A cluster's rate is what the service measured over its earlier leases of
 * the job (frames committed over seconds held, scene loading included). A
 * cluster not yet measured gets one frame, a probe. A measured one gets its
 * fair share of what is left, remaining x rate / (its rate + the others'),
 * so that every cluster's lease ends when the job would end with all of them
 * working; capped by target_s of its work, so leases stay short enough to
 * renew shares as rates change; at least one frame, unless the others alone
 * would finish every remaining frame before this cluster finished one: then
 * none (it waits), and a slow cluster never holds the end of the job.
 */
#ifndef XS_LEASE_H
#define XS_LEASE_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xs_lease_ask {
    int remaining;      /* frames of the job not yet committed */
    int available;      /* of those, frames no live lease holds */
    double rate;        /* this cluster's frames per second; 0: not measured yet */
    double others_rate; /* the other active clusters' measured rates, summed */
    double target_s;    /* how long a lease should last at most */
    int max_frames;     /* a lease's most frames */
} xs_lease_ask;

/* The frames to lease: 0 (wait) to available. */
int xs_lease_size(const xs_lease_ask *a);

#ifdef __cplusplus
}
#endif
#endif
