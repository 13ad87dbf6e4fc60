/* The farm simulated: rank 0's real code against simulated workers.
 *
 * xs_simulate runs the same driver loop, policy, report, journal and event
 * log that `xisuan render` runs on rank 0 (scheduler/driver.c), over a
 * transport whose workers exist only in a discrete-event model: classes of
 * workers (speed in cost units per second, prefetch), tile costs drawn from a
 * lognormal or replayed from a real job's events.jsonl, message latency, and
 * workers that fail items, stall or leave. Time is virtual, except rank 0's:
 * the CPU time its loop spends between transport calls is measured and
 * advances the virtual clock, so a rank 0 that cannot keep up slows the farm
 * as it would. One thread.
 */
#ifndef XS_SIMULATE_H
#define XS_SIMULATE_H

#include <stdbool.h>
#include <stdint.h>

#include "io/xs_result.h"
#include "scheduler/xs_job.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { XS_SIM_MAX_CLASSES = 8 };

/* A class of workers. */
typedef struct xs_sim_class {
    char name[32];
    int count;
    double speed;      /* cost units per second (a tile of cost 1 takes 1/speed s) */
    double fail_prob;  /* chance that an item fails (after running) */
    int slots;         /* items it runs at once, sharing its speed (a GPU's launch groups); 0: 1 */
    int prefetch;      /* requests it sends at start; 0: the job's */
} xs_sim_class;

typedef struct xs_sim_desc {
    xs_sim_class classes[XS_SIM_MAX_CLASSES];
    int class_count;
    /* tile costs: lognormal with this mean and sigma of the log, drawn from
     * seed per tile and per (frame, tile), mixed by cost_coherence; or, when replay_costs is set, the seconds of
     * each (frame, tile) of a real job (cycled over frames) */
    double cost_mean, cost_sigma;
    double cost_coherence; /* [0, 1]: 0 every frame draws anew; 1 a tile costs the same in
                              every frame (its log's correlation between frames is this squared) */
    uint64_t seed;
    const double *replay_costs; /* replay_frames x tiles_per_frame, borrowed */
    int replay_frames;
    double assemble_cost; /* an assembly's cost in units */
    double latency_s;     /* one way, each message */
    /* > 0: rank 0's clock moves this much per transport call instead of by
     * the CPU time measured (which is still reported), so a run is
     * reproducible bit for bit */
    double r0_fixed_s;
    /* workers that stall (stop answering, items in hand lost) at a time */
    int stall_worker[16];
    double stall_at[16];
    int stall_count;
    bool keep_bars;       /* record every item for a timeline */
    bool parts;           /* workers render PART and MERGE items (the policy may split tiles) */
    bool speed_priors;    /* the policy starts from each class's speed (as the farm starts
                             from each device's peak FLOP/s), not from equal speeds */
    double merge_cost;    /* a MERGE's cost as a share of its tile's [0.02] */
} xs_sim_desc;

/* One item as it ran (for the timeline). */
typedef struct xs_sim_bar {
    int32_t worker, frame, tile; /* tile -1: an assembly */
    float start, end;
    uint8_t failed, duplicate; /* duplicate: another copy of the item finished first */
    uint8_t kind;              /* xs_work_kind */
    uint8_t copy;              /* a speculative copy (XS_ITEM_COPY) */
} xs_sim_bar;

typedef struct xs_sim_result {
    double makespan_s;       /* virtual time from the start to the driver's end */
    double ideal_s;          /* total work / total speed */
    double busy_share[XS_SIM_MAX_CLASSES]; /* busy time / (workers x makespan), per class */
    double busy_total;       /* the same over every worker, weighted by speed */
    double tail_s;           /* from the first worker's last item to the end */
    double wasted_share;     /* busy time spent on copies that finished second, of all busy time */
    int64_t splits, copies;  /* tiles split into parts; speculative copies handed out */
    int64_t items;           /* results rank 0 handled (done and failed) */
    double items_per_s;      /* items / makespan */
    double r0_cpu_s;         /* rank 0's CPU time in its loop, measured */
    double r0_us_per_item;
    double r0_threads_us_per_item; /* rank 0's other threads (journal, events, tile cleaner), measured */
    int state;               /* xs_sched_state */
    xs_sim_bar *bars;        /* keep_bars: malloc'd */
    int64_t bar_count;
    int workers;
} xs_sim_result;

/* Runs job (its options give the frames, resolution, tile, prefetch,
 * retries, stall timeout; its folder receives the journal and event log)
 * over the simulated farm. */
xs_result xs_simulate(const xs_job *job, const xs_sim_desc *desc, xs_sim_result *out, xs_err *err);
void xs_sim_result_free(xs_sim_result *r);

#ifdef __cplusplus
}
#endif
#endif
