/* `xisuan info`: this node's placement plan without rendering: the GPUs
 * (from CUDA, or from an hwloc XML topology), and for a job of N ranks here
 * which rank takes which GPU, cores and NUMA node, with the warnings a render
 * would print. With --scene PKG, the memory plan a render of that scene
 * would print (render/xs_memplan.h) for N ranks on this node, and whether it
 * fits (exit 2 when it does not). Runs as a plain program (no MPI), so a
 * wrangler can check a node, a topology file or a scene before submitting. */
#include "scheduler/cmd/xs_cmd.h"

#include "render/xs_backend.h"
#include "io/xs_scene_input.h"
#include "render/xs_flops.h"
#include "render/xs_memplan.h"
#include "render/xs_parallel.h"
#include "render/xs_settings.h"
#include "scheduler/xs_placement.h"
#include "scheduler/xs_options.h"
#include "scheduler/xs_placement_rank.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void info_usage(FILE *f)
{
    fputs("usage: xisuan info [--ranks N] [--no-scheduler] [--backend auto|cuda|cpu|embree]\n"
          "                   [--topology FILE.xml] [--json]\n"
          "       xisuan info --scene PKG [--ranks N] [--mem-budget B] [--texture-cache-mib N] ...\n"
          "\n"
          "Prints the placement plan of a job with N ranks on this node (rank 0, the\n"
          "scheduler, included unless --no-scheduler: the node is not the job's first):\n"
          "GPUs in PCI bus order, each rank's GPU, cores, PUs and NUMA node, and warnings.\n"
          "  --ranks N       ranks on this node [$OMPI_COMM_WORLD_LOCAL_SIZE, else\n"
          "                  $SLURM_NTASKS_PER_NODE, else 1]\n"
          "  --topology F    plan for an hwloc XML topology instead of this machine (GPUs:\n"
          "                  its NVIDIA PCI devices, filtered by CUDA_VISIBLE_DEVICES)\n"
          "  --backend B     cpu or embree: plan CPU ranks even where GPUs exist [auto]; with\n"
          "                  --scene, embree adds each rendering rank's own Embree copy\n"
          "  --json          the plan as JSON\n"
          "  --scene PKG     print the memory plan of rendering PKG (.tar.zst, .gltf, .glb) with\n"
          "                  N ranks here instead: what the scene needs, what the node has,\n"
          "                  where it goes; exit 2 when it does not fit. With it:\n"
          "  --mem-budget B  as xisuan render's (rank=SIZE, node=SIZE)\n"
          "  --texture-cache-mib N, --node-share on|off, --tile N, --resolution WxH,\n"
          "  --writers N     as xisuan render's\n",
          f);
}

/* The memory plan of rendering scene with `ranks` ranks on this node (rank
 * 0 schedules when ranks > 1). */
static int scene_plan(const char *scene, int ranks, int backend, const char *const *flags, int nflags)
{
    xs_options *opt = calloc(1, sizeof *opt);
    if (!opt)
        return 1;
    xs_options_defaults(opt);
    xs_err err;
    xs_err_clear(&err);
    char **argv = calloc((size_t)nflags + 2, sizeof *argv);
    int argc = 0;
    argv[argc++] = (char *)scene;
    for (int i = 0; i < nflags; ++i)
        argv[argc++] = (char *)flags[i];
    xs_result r = argv ? xs_options_parse(argc, argv, opt, &err) : XS_ERR_NOMEM;
    free(argv);
    if (backend != XS_BACKEND_AUTO)
        opt->render.backend = backend;
    unsigned char *bytes = NULL;
    size_t len = 0;
    xs_scene_input *in = NULL;
    uint64_t rss = 0, pss = 0;
    xs_process_memory(&rss, &pss);
    if (r == XS_OK)
        r = xs_scene_input_load(opt->scene, &opt->limits, &bytes, &len, &in, &err);
    if (r != XS_OK) {
        fprintf(stderr, "xisuan info: error: %s\n", err.msg);
        free(bytes);
        free(opt);
        return 2;
    }
    xs_options_apply_manifest(opt, &in->manifest);
    xs_mem_scene m;
    xs_memplan_scene(in, len, &opt->render, &m);
    xs_node_memory nm;
    xs_node_memory_read(&nm);
    xs_mem_node_plan p;
    memset(&p, 0, sizeof p);
    p.ranks = ranks;
    p.renderers = ranks > 1 ? ranks - 1 : 1;
    p.shared = opt->node_share;
    p.embree = opt->render.backend == XS_BACKEND_EMBREE;
    p.runtime = rss;
    p.rank_buffers = xs_memplan_rank_buffers(&opt->render, opt->writers > 0 ? opt->writers : 2);
    p.node_has = xs_node_memory_usable(&nm);
    p.node_budget = opt->mem_node;
    p.rank_budget = opt->mem_rank;
    xs_memplan_node(&m, &p);
    p.cache = xs_memplan_cache(&m, &p, opt->tex_cache_bytes);
    xs_memplan_node(&m, &p);
    char a[32], b[32], c[32];
    printf("xisuan %s: memory plan of %s with %d rank(s) on this node (%s total, %s available%s%s):\n", XS_VERSION,
           scene, ranks, xs_mem_str(nm.total, a, sizeof a), xs_mem_str(nm.available, b, sizeof b),
           nm.cgroup_limit ? ", cgroup limit " : "", nm.cgroup_limit ? xs_mem_str(nm.cgroup_limit, c, sizeof c) : "");
    xs_memplan_print(stdout, "  ", &m, &p);
    int status = p.fits ? 0 : 2;
    if (!p.fits)
        fprintf(stderr, "xisuan info: the scene does not fit: %s\n", p.why);
    xs_scene_input_destroy(in);
    free(bytes);
    free(opt);
    return status;
}

int xs_info_main(int argc, char **argv)
{
    int ranks = 0;
    bool sched = true, json = false;
    const char *topo_xml = NULL;
    int backend = XS_BACKEND_AUTO;
    const char *scene = NULL;
    const char *plan_flags[32];
    int nplan = 0;
    for (int i = 0; i < argc; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--scene") == 0 && v) {
            scene = v;
            ++i;
        } else if (v && nplan + 2 <= 32 &&
                   (strcmp(a, "--mem-budget") == 0 || strcmp(a, "--texture-cache-mib") == 0 ||
                    strcmp(a, "--node-share") == 0 || strcmp(a, "--tile") == 0 ||
                    strcmp(a, "--resolution") == 0 || strcmp(a, "--writers") == 0)) {
            plan_flags[nplan++] = a;
            plan_flags[nplan++] = v;
            ++i;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            info_usage(stdout);
            return 0;
        } else if (strcmp(a, "--no-scheduler") == 0) {
            sched = false;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--ranks") == 0 && v) {
            char *end = NULL;
            long n = strtol(v, &end, 10);
            if (!*v || *end || n < 1 || n > 4096) {
                fprintf(stderr, "xisuan info: error: --ranks: expected an integer in [1, 4096], got '%s'\n", v);
                return 2;
            }
            ranks = (int)n;
            ++i;
        } else if (strcmp(a, "--topology") == 0 && v) {
            topo_xml = v;
            ++i;
        } else if (strcmp(a, "--backend") == 0 && v) {
            xs_err e;
            if (xs_backend_parse(a, v, &backend, &e) != XS_OK) {
                fprintf(stderr, "xisuan info: error: %s\n", e.msg);
                return 2;
            }
            ++i;
        } else {
            fprintf(stderr, "xisuan info: error: %s '%s'\n\n", v || a[0] != '-' ? "unknown flag" : "missing value after", a);
            info_usage(stderr);
            return 2;
        }
    }
    if (ranks == 0) {
        const char *e = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
        if (!e)
            e = getenv("SLURM_NTASKS_PER_NODE");
        ranks = e ? atoi(e) : 1; /* Slurm may say "4(x2)": the leading count */
        if (ranks < 1 || ranks > 4096)
            ranks = 1;
    }
    if (scene)
        return scene_plan(scene, ranks, backend, plan_flags, nplan);
    if (nplan > 0) {
        fprintf(stderr, "xisuan info: error: %s is for the memory plan: give --scene PKG\n", plan_flags[0]);
        return 2;
    }
    xs_err err;
    xs_err_clear(&err);
    hwloc_topology_t topo = NULL;
    if (xs_place_topology_load(topo_xml, &topo, &err) != XS_OK) {
        fprintf(stderr, "xisuan info: error: %s\n", err.msg);
        return 2;
    }
    xs_place_gpu gpus[XS_PLACE_MAX_GPUS];
    int ng = 0;
    char why[256] = "";
    xs_result r = XS_OK;
    const char *source = "";
    if (xs_backend_cpu_only(backend)) {
        source = backend == XS_BACKEND_CPU ? "--backend cpu: GPUs not used" : "--backend embree: GPUs not used";
    } else if (topo_xml) {
        r = xs_place_gpus_from_topology(topo, getenv("CUDA_VISIBLE_DEVICES"), gpus, &ng, &err);
        source = "the topology file's NVIDIA PCI devices";
    } else {
        ng = xs_visible_gpus(gpus, why, sizeof why);
        static char none[320];
        snprintf(none, sizeof none, "nowhere: CUDA sees none (%s)", why);
        source = ng ? "CUDA (CUDA_DEVICE_ORDER=PCI_BUS_ID)" : none;
        if (ng == 0) {
            xs_place_gpu pci[XS_PLACE_MAX_GPUS];
            int np = 0;
            if (xs_place_gpus_from_topology(topo, NULL, pci, &np, NULL) == XS_OK && np > 0 && !json)
                printf("note: %d NVIDIA GPU(s) on the PCI bus, but CUDA sees none (%s): ranks render on the CPU\n",
                       np, why);
        }
        if (backend == XS_BACKEND_CUDA && ng == 0) {
            fprintf(stderr, "xisuan info: error: --backend cuda: no CUDA device (%s)\n", why);
            hwloc_topology_destroy(topo);
            return 1;
        }
    }
    xs_place_plan plan;
    if (r == XS_OK)
        r = xs_place_plan_make(topo, ranks, sched && ranks > 1 ? 0 : -1, gpus, ng, NULL, &plan, &err);
    if (r != XS_OK) {
        fprintf(stderr, "xisuan info: error: %s\n", err.msg);
        hwloc_topology_destroy(topo);
        return 2;
    }
    char host[256] = "";
    if (topo_xml)
        snprintf(host, sizeof host, "%s", topo_xml);
    else if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "this node");
    if (json) {
        xs_place_plan_json(stdout, &plan, host);
    } else {
        printf("xisuan %s: CUDA back end %s; GPUs from %s\n", XS_VERSION,
               xs_cuda_compiled() ? "built in" : "not built (no nvcc at build time)", source);
        if (!topo_xml) {
            char desc[160];
            xs_cpu_peak_flops(xs_cpu_count_affinity(), desc, sizeof desc);
            printf("CPU peak model: %s\n", desc);
        }
        xs_place_plan_print(stdout, &plan, host);
    }
    xs_place_plan_free(&plan);
    hwloc_topology_destroy(topo);
    return 0;
}
