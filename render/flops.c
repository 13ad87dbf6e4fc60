/* The FLOP model and peak FLOP rates behind `xisuan bench`'s utilisation
 * (docs/benchmarks.md derives every constant). Counted FLOPs are the
 * kernel's own counters times a per-operation count read off the kernel
 * source; each count covers only the work every such operation does, so
 * the counted rate is a lower bound of the arithmetic really done. Peaks:
 * GPU = SMs x FP32 lanes per SM x clock x 2 (an FMA is two FLOPs); CPU =
 * cores x FP32 FLOPs per cycle for the widest vector FMA the core has x
 * its maximum clock. */
#include "render/xs_flops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double xs_counted_flops(const xs_counters *c)
{
    return (double)c->node_visits * XS_FLOPS_NODE + (double)c->tri_tests * XS_FLOPS_TRI +
           (double)c->inst_visits * XS_FLOPS_INSTANCE + (double)c->shade_events * XS_FLOPS_SHADE;
}

double xs_gpu_peak_flops(const xs_gpu_info *g)
{
    return (double)g->sm_count * (double)g->fp32_lanes_per_sm * g->clock_hz * 2.0;
}

/* Maximum clock of CPU 0 in Hz: cpufreq's cpuinfo_max_freq, else the
 * "cpu MHz" of /proc/cpuinfo (the current clock), else 0. */
static double cpu_clock_hz(const char **source)
{
    FILE *f = fopen("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", "r");
    double khz = 0.0;
    if (f) {
        if (fscanf(f, "%lf", &khz) != 1)
            khz = 0.0;
        fclose(f);
        if (khz > 0.0) {
            *source = "cpufreq max";
            return khz * 1e3;
        }
    }
    f = fopen("/proc/cpuinfo", "r");
    char line[512];
    double mhz = 0.0;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "cpu MHz", 7) == 0) {
            const char *colon = strchr(line, ':');
            if (colon)
                mhz = atof(colon + 1);
            break;
        }
    if (f)
        fclose(f);
    *source = "/proc/cpuinfo cpu MHz";
    return mhz * 1e6;
}

double xs_cpu_peak_flops(int cores, char *desc, size_t desc_len)
{
    int per_cycle = 8; /* SSE: a 4-wide add and a 4-wide multiply per cycle */
    const char *isa = "SSE";
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        per_cycle = 64, isa = "AVX-512 FMA x2"; /* 2 FMA units x 16 lanes x 2 */
    else if (__builtin_cpu_supports("fma") && __builtin_cpu_supports("avx2"))
        per_cycle = 32, isa = "AVX2 FMA x2"; /* 2 FMA units x 8 lanes x 2 */
    else if (__builtin_cpu_supports("avx"))
        per_cycle = 16, isa = "AVX";
#endif
    const char *src = "";
    double hz = cpu_clock_hz(&src);
    if (desc)
        snprintf(desc, desc_len, "%d core(s) x %d FP32 FLOP/cycle (%s) x %.2f GHz (%s)", cores, per_cycle,
                 isa, hz * 1e-9, src);
    return (double)cores * (double)per_cycle * hz;
}
