/* Threads on the host (see xs_parallel.h). */
#define _GNU_SOURCE
#include "render/xs_parallel.h"

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <unistd.h>

typedef struct par_arg {
    xs_par_fn fn;
    void *ctx;
    uint32_t begin, end;
    int part;
} par_arg;

static void *par_run(void *a)
{
    par_arg *p = (par_arg *)a;
    p->fn(p->ctx, p->begin, p->end, p->part);
    return NULL;
}

void xs_parallel_for(int parts, uint32_t n, xs_par_fn fn, void *ctx)
{
    parts = parts < 1 ? 1 : (parts > 64 ? 64 : parts);
    par_arg a[64];
    pthread_t th[64];
    bool started[64];
    for (int p = 0; p < parts; ++p) {
        a[p].fn = fn;
        a[p].ctx = ctx;
        a[p].begin = (uint32_t)((uint64_t)n * (uint64_t)p / (uint64_t)parts);
        a[p].end = (uint32_t)((uint64_t)n * (uint64_t)(p + 1) / (uint64_t)parts);
        a[p].part = p;
    }
    for (int p = 1; p < parts; ++p)
        started[p] = pthread_create(&th[p], NULL, par_run, &a[p]) == 0;
    par_run(&a[0]);
    for (int p = 1; p < parts; ++p) {
        if (started[p])
            pthread_join(th[p], NULL);
        else
            par_run(&a[p]);
    }
}

int xs_cpu_count_affinity(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return xs_cpu_count_online();
    int n = CPU_COUNT(&set);
    return n > 0 ? n : 1;
}

int xs_cpu_count_online(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
