/* The lease policy (see xs_lease.h). */
#include "service/xs_lease.h"

#include <math.h>

int xs_lease_size(const xs_lease_ask *a)
{
    if (a->available <= 0 || a->max_frames <= 0)
        return 0;
    if (!(a->rate > 0.0))
        return 1; /* a probe: one frame measures the cluster */
    /* the others would finish everything left before this one finishes a frame */
    if (a->others_rate > 0.0 && (double)a->remaining / a->others_rate < 1.0 / a->rate)
        return 0;
    double share = (double)a->remaining * a->rate / (a->rate + (a->others_rate > 0 ? a->others_rate : 0));
    double by_time = ceil(a->rate * (a->target_s > 0 ? a->target_s : 1.0));
    double n = floor(share);
    if (n > by_time)
        n = by_time;
    if (n < 1.0)
        n = 1.0;
    if (n > a->available)
        n = a->available;
    if (n > a->max_frames)
        n = a->max_frames;
    return (int)n;
}
