/* Placement of a node's ranks on GPUs, cores and NUMA nodes with hwloc
 * (scheduler/xs_placement.h says what the plan is). Debian's hwloc has no
 * CUDA plugin, so a GPU is found by its PCI bus id, as CUDA reports it under
 * CUDA_DEVICE_ORDER=PCI_BUS_ID, and its locality is the non-I/O ancestor of
 * that PCI device. */
#include "scheduler/xs_placement.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static xs_result hw_fail(xs_err *err, const char *what)
{
    return xs_err_set(err, XS_ERR_INVALID, "hwloc: %s", what);
}

xs_result xs_place_topology_load(const char *xml, hwloc_topology_t *out, xs_err *err)
{
    hwloc_topology_t t;
    if (hwloc_topology_init(&t) != 0)
        return hw_fail(err, "cannot initialise a topology");
    hwloc_topology_set_io_types_filter(t, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
    /* keep what this process may not use: a GPU's locality stays known */
    hwloc_topology_set_flags(t, HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED);
    if (xml && hwloc_topology_set_xml(t, xml) != 0) {
        hwloc_topology_destroy(t);
        return xs_err_set(err, XS_ERR_INVALID, "--topology %s: not a readable hwloc XML topology", xml);
    }
    if (hwloc_topology_load(t) != 0) {
        hwloc_topology_destroy(t);
        return xml ? xs_err_set(err, XS_ERR_INVALID, "--topology %s: hwloc cannot load it", xml)
                   : hw_fail(err, "cannot discover this machine's topology");
    }
    *out = t;
    return XS_OK;
}

static bool is_nvidia_gpu(hwloc_obj_t o)
{
    unsigned cls = o->attr->pcidev.class_id;
    return o->attr->pcidev.vendor_id == 0x10de && (cls == 0x0300 || cls == 0x0302);
}

static int bus_cmp(const void *a, const void *b)
{
    return strcmp(((const xs_place_gpu *)a)->bus, ((const xs_place_gpu *)b)->bus);
}

void xs_place_gpus_sort(xs_place_gpu *gpus, int count)
{
    if (count > 1)
        qsort(gpus, (size_t)count, sizeof gpus[0], bus_cmp);
}

xs_result xs_place_gpus_from_topology(hwloc_topology_t topo, const char *visible, xs_place_gpu *gpus,
                                      int *count, xs_err *err)
{
    xs_place_gpu all[XS_PLACE_MAX_GPUS];
    int n = 0;
    for (hwloc_obj_t o = hwloc_get_next_pcidev(topo, NULL); o; o = hwloc_get_next_pcidev(topo, o)) {
        if (!is_nvidia_gpu(o) || n == XS_PLACE_MAX_GPUS)
            continue;
        memset(&all[n], 0, sizeof all[n]);
        snprintf(all[n].bus, sizeof all[n].bus, "%04x:%02x:%02x.%01x", o->attr->pcidev.domain,
                 o->attr->pcidev.bus, o->attr->pcidev.dev, o->attr->pcidev.func);
        all[n++].ordinal = -1;
    }
    xs_place_gpus_sort(all, n);
    if (!visible) {
        memcpy(gpus, all, (size_t)n * sizeof all[0]);
        *count = n;
        return XS_OK;
    }
    /* CUDA_VISIBLE_DEVICES: indexes into the bus-ordered list; CUDA stops
     * at the first invalid entry, and so do we */
    int k = 0;
    const char *p = visible;
    while (*p && k < XS_PLACE_MAX_GPUS) {
        char *end = NULL;
        long idx = strtol(p, &end, 10);
        if (end == p || idx < 0 || idx >= n) {
            if (end == p && *p != ',')
                return xs_err_set(err, XS_ERR_INVALID,
                                  "CUDA_VISIBLE_DEVICES='%s': only GPU indexes can be matched to the "
                                  "topology (UUIDs need the CUDA driver)", visible);
            break;
        }
        gpus[k++] = all[idx];
        p = end;
        if (*p == ',')
            ++p;
        else
            break;
    }
    *count = k;
    return XS_OK;
}

static void set_list(char *out, size_t n, hwloc_const_bitmap_t set)
{
    if (hwloc_bitmap_iszero(set))
        snprintf(out, n, "-");
    else
        hwloc_bitmap_list_snprintf(out, n, set);
}

/* Where a GPU sits: its PCI device's first non-I/O ancestor. */
static hwloc_obj_t gpu_locality(hwloc_topology_t topo, const char *bus)
{
    hwloc_obj_t pci = hwloc_get_pcidev_by_busidstring(topo, bus);
    hwloc_obj_t root = hwloc_get_root_obj(topo);
    if (!pci)
        return root;
    hwloc_obj_t a = hwloc_get_non_io_ancestor_obj(topo, pci);
    return a ? a : root;
}

static void describe(hwloc_topology_t topo, hwloc_obj_t o, char *near, size_t nn, char *numa, size_t nm)
{
    char type[32];
    hwloc_obj_type_snprintf(type, sizeof type, o, 0);
    if (o->type == HWLOC_OBJ_MACHINE)
        snprintf(near, nn, "Machine");
    else
        snprintf(near, nn, "%s %u", type, o->logical_index);
    hwloc_bitmap_t ns = hwloc_bitmap_alloc();
    hwloc_cpuset_to_nodeset(topo, o->cpuset, ns);
    set_list(numa, nm, ns);
    hwloc_bitmap_free(ns);
}

static void warn(xs_place_plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(xs_place_plan *p, const char *fmt, ...)
{
    if (p->warn_count == XS_PLACE_MAX_WARN)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->warn[p->warn_count++], sizeof p->warn[0], fmt, ap);
    va_end(ap);
}

/* The cores (whole cores, logical order) of `set` that this process may use;
 * PUs when the topology has no cores. */
static int usable_cores(hwloc_topology_t topo, hwloc_const_cpuset_t set, hwloc_obj_t *out, int max)
{
    hwloc_bitmap_t s = hwloc_bitmap_dup(set);
    hwloc_bitmap_and(s, s, hwloc_topology_get_allowed_cpuset(topo));
    hwloc_obj_type_t type = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE) > 0 ? HWLOC_OBJ_CORE : HWLOC_OBJ_PU;
    int n = 0;
    for (hwloc_obj_t o = hwloc_get_next_obj_inside_cpuset_by_type(topo, s, type, NULL); o && n < max;
         o = hwloc_get_next_obj_inside_cpuset_by_type(topo, s, type, o))
        out[n++] = o;
    /* a core only partly allowed still counts, with its allowed PUs */
    if (n == 0)
        for (hwloc_obj_t o = hwloc_get_next_obj_covering_cpuset_by_type(topo, s, type, NULL); o && n < max;
             o = hwloc_get_next_obj_covering_cpuset_by_type(topo, s, type, o))
            out[n++] = o;
    hwloc_bitmap_free(s);
    return n;
}

/* Gives `ranks` (k entries) the cores of `cores` (c of them): contiguous
 * shares in order; fewer cores than ranks: one core each, round-robin. */
static void share_cores(hwloc_topology_t topo, xs_place_plan *p, const int *ranks, int k, hwloc_obj_t *cores,
                        int c)
{
    for (int i = 0; i < k; ++i) {
        xs_place_entry *e = &p->e[ranks[i]];
        int b = c >= k ? (int)((long)i * c / k) : i % (c > 0 ? c : 1);
        int en = c >= k ? (int)((long)(i + 1) * c / k) : b + 1;
        hwloc_bitmap_t logical = hwloc_bitmap_alloc();
        for (int j = b; j < en && j < c; ++j) {
            hwloc_bitmap_or(e->cpuset, e->cpuset, cores[j]->cpuset);
            hwloc_bitmap_set(logical, cores[j]->logical_index);
        }
        hwloc_bitmap_and(e->cpuset, e->cpuset, hwloc_topology_get_allowed_cpuset(topo));
        e->core_count = hwloc_bitmap_weight(logical);
        set_list(e->cores, sizeof e->cores, logical);
        set_list(e->pus, sizeof e->pus, e->cpuset);
        hwloc_cpuset_to_nodeset(topo, e->cpuset, e->nodeset);
        set_list(e->numa, sizeof e->numa, e->nodeset);
        hwloc_bitmap_free(logical);
    }
    if (c < k && k > 1 && c > 0)
        warn(p, "%d ranks share %d core(s)%s: more ranks than cores there", k, c,
             k > 0 && p->e[ranks[0]].gpu >= 0 ? " near their GPU" : "");
}

void xs_place_plan_free(xs_place_plan *p)
{
    if (!p->e)
        return;
    for (int i = 0; i < p->count; ++i) {
        if (p->e[i].cpuset)
            hwloc_bitmap_free(p->e[i].cpuset);
        if (p->e[i].nodeset)
            hwloc_bitmap_free(p->e[i].nodeset);
    }
    free(p->e);
    p->e = NULL;
}

xs_result xs_place_plan_make(hwloc_topology_t topo, int local_size, int scheduler, const xs_place_gpu *gpus,
                             int gpu_count, const int *fixed_gpu, xs_place_plan *p, xs_err *err)
{
    memset(p, 0, sizeof *p);
    if (local_size < 1 || local_size > 4096)
        return xs_err_set(err, XS_ERR_INVALID, "placement: %d ranks on a node is out of range [1, 4096]",
                          local_size);
    if (gpu_count < 0 || gpu_count > XS_PLACE_MAX_GPUS)
        return xs_err_set(err, XS_ERR_INVALID, "placement: %d GPUs is out of range", gpu_count);
    p->count = local_size;
    p->e = calloc((size_t)local_size, sizeof *p->e);
    int *group = malloc((size_t)local_size * sizeof *group);
    int maxc = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU) + 1;
    hwloc_obj_t *cores = malloc((size_t)maxc * sizeof *cores);
    if (!p->e || !group || !cores) {
        free(group), free(cores), free(p->e);
        p->e = NULL;
        return xs_err_set(err, XS_ERR_NOMEM, "placement: out of memory");
    }
    p->packages = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
    p->numa_nodes = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
    p->cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
    p->pus = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
    p->gpu_count = gpu_count;
    hwloc_obj_t loc[XS_PLACE_MAX_GPUS];
    for (int g = 0; g < gpu_count; ++g) {
        p->gpus[g] = gpus[g];
        loc[g] = gpu_locality(topo, gpus[g].bus);
        describe(topo, loc[g], p->gpus[g].near, sizeof p->gpus[g].near, p->gpus[g].numa, sizeof p->gpus[g].numa);
        if (!hwloc_get_pcidev_by_busidstring(topo, gpus[g].bus))
            warn(p, "GPU %s is not in the hwloc topology: its locality is unknown", gpus[g].bus);
    }
    /* roles and GPUs */
    int worker = 0;
    for (int r = 0; r < local_size; ++r) {
        xs_place_entry *e = &p->e[r];
        e->local_rank = r;
        e->gpu = -1;
        snprintf(e->cores, sizeof e->cores, "-");
        snprintf(e->pus, sizeof e->pus, "-");
        snprintf(e->numa, sizeof e->numa, "-");
        if (r == scheduler) {
            e->role = XS_ROLE_SCHEDULER;
            continue;
        }
        e->cpuset = hwloc_bitmap_alloc();
        e->nodeset = hwloc_bitmap_alloc();
        if (gpu_count > 0) {
            e->role = XS_ROLE_GPU;
            e->gpu = fixed_gpu ? fixed_gpu[r] : worker % gpu_count;
            if (e->gpu < 0 || e->gpu >= gpu_count)
                e->gpu = worker % gpu_count;
        } else {
            e->role = XS_ROLE_CPU;
        }
        ++worker;
    }
    const hwloc_const_cpuset_t allowed = hwloc_topology_get_allowed_cpuset(topo);
    if (gpu_count == 0) {
        int k = 0;
        for (int r = 0; r < local_size; ++r)
            if (p->e[r].role == XS_ROLE_CPU)
                group[k++] = r;
        int c = usable_cores(topo, allowed, cores, maxc);
        share_cores(topo, p, group, k, cores, c);
    } else {
        /* GPUs sharing: name them */
        for (int g = 0; g < gpu_count; ++g) {
            char list[128] = "";
            int users = 0;
            for (int r = 0; r < local_size; ++r)
                if (p->e[r].gpu == g) {
                    size_t l = strlen(list);
                    snprintf(list + l, sizeof list - l, "%s%d", users ? ", " : "", r);
                    ++users;
                }
            if (users > 1)
                warn(p, "GPU %s is shared by local ranks %s (%d ranks on it): each gets a share of it",
                     p->gpus[g].bus, list, users);
        }
        /* per locality domain: the ranks whose GPU sits there share its cores */
        bool done[XS_PLACE_MAX_GPUS] = {false};
        int fk = 0;
        int *farr = malloc((size_t)local_size * sizeof *farr);
        if (!farr) {
            free(group), free(cores);
            xs_place_plan_free(p);
            return xs_err_set(err, XS_ERR_NOMEM, "placement: out of memory");
        }
        for (int g = 0; g < gpu_count; ++g) {
            if (done[g])
                continue;
            int k = 0;
            for (int h = g; h < gpu_count; ++h)
                if (hwloc_bitmap_isequal(loc[h]->cpuset, loc[g]->cpuset))
                    done[h] = true;
            for (int r = 0; r < local_size; ++r)
                if (p->e[r].gpu >= 0 && hwloc_bitmap_isequal(loc[p->e[r].gpu]->cpuset, loc[g]->cpuset))
                    group[k++] = r;
            if (k == 0)
                continue;
            int c = usable_cores(topo, loc[g]->cpuset, cores, maxc);
            if (c == 0) { /* this process may not run near the GPU */
                for (int i = 0; i < k; ++i)
                    farr[fk++] = group[i];
                continue;
            }
            share_cores(topo, p, group, k, cores, c);
        }
        if (fk > 0) {
            int c = usable_cores(topo, allowed, cores, maxc);
            share_cores(topo, p, farr, fk, cores, c);
            for (int i = 0; i < fk; ++i) {
                xs_place_entry *e = &p->e[farr[i]];
                e->far = true;
                warn(p, "local rank %d: GPU %s is near %s, but this process may not run there; bound to "
                        "PUs %s, far from its GPU",
                     e->local_rank, p->gpus[e->gpu].bus, p->gpus[e->gpu].near, e->pus);
            }
        }
        free(farr);
    }
    free(group), free(cores);
    return XS_OK;
}

static const char *role_name(int role)
{
    return role == XS_ROLE_SCHEDULER ? "scheduler" : role == XS_ROLE_GPU ? "gpu" : "cpu";
}

void xs_place_plan_print(FILE *f, const xs_place_plan *p, const char *node)
{
    fprintf(f, "node %s: %d package(s), %d NUMA node(s), %d core(s), %d PU(s), %d GPU(s), %d rank(s)\n",
            node, p->packages, p->numa_nodes, p->cores, p->pus, p->gpu_count, p->count);
    for (int g = 0; g < p->gpu_count; ++g)
        fprintf(f, "  gpu %d  %s  near %s (NUMA %s)%s%s\n", g, p->gpus[g].bus, p->gpus[g].near,
                p->gpus[g].numa, p->gpus[g].name[0] ? "  " : "", p->gpus[g].name);
    fprintf(f, "  %-5s %-9s %-4s %-13s %-16s %-16s %s\n", "rank", "role", "gpu", "pci", "cores",
            "pus", "numa");
    for (int r = 0; r < p->count; ++r) {
        const xs_place_entry *e = &p->e[r];
        char g[8] = "-";
        if (e->gpu >= 0)
            snprintf(g, sizeof g, "%d", e->gpu);
        fprintf(f, "  %-5d %-9s %-4s %-13s %-16s %-16s %s%s\n", e->local_rank, role_name(e->role), g,
                e->gpu >= 0 ? p->gpus[e->gpu].bus : "-",
                e->role == XS_ROLE_SCHEDULER ? "(unbound)" : e->cores, e->pus, e->numa,
                e->far ? "  FAR from its GPU" : "");
    }
    for (int i = 0; i < p->warn_count; ++i)
        fprintf(f, "  warning: %s\n", p->warn[i]);
}

void xs_place_plan_json(FILE *f, const xs_place_plan *p, const char *node)
{
    fprintf(f, "{\"node\": \"%s\", \"packages\": %d, \"numa_nodes\": %d, \"cores\": %d, \"pus\": %d, \"gpus\": [",
            node, p->packages, p->numa_nodes, p->cores, p->pus);
    for (int g = 0; g < p->gpu_count; ++g)
        fprintf(f, "%s{\"index\": %d, \"pci\": \"%s\", \"near\": \"%s\", \"numa\": \"%s\"}", g ? ", " : "", g,
                p->gpus[g].bus, p->gpus[g].near, p->gpus[g].numa);
    fprintf(f, "], \"ranks\": [");
    for (int r = 0; r < p->count; ++r) {
        const xs_place_entry *e = &p->e[r];
        fprintf(f, "%s{\"local_rank\": %d, \"role\": \"%s\", \"gpu\": %d, \"cores\": \"%s\", \"pus\": \"%s\", "
                   "\"numa\": \"%s\", \"far\": %s}",
                r ? ", " : "", e->local_rank, role_name(e->role), e->gpu, e->cores, e->pus, e->numa,
                e->far ? "true" : "false");
    }
    fprintf(f, "], \"warnings\": [");
    for (int i = 0; i < p->warn_count; ++i) {
        fputs(i ? ", \"" : "\"", f);
        for (const char *c = p->warn[i]; *c; ++c)
            if (*c == '"' || *c == '\\')
                fprintf(f, "\\%c", *c);
            else
                fputc(*c, f);
        fputc('"', f);
    }
    fprintf(f, "]}\n");
}

xs_result xs_place_bind(hwloc_topology_t topo, const xs_place_entry *e, xs_err *err)
{
    if (!e->cpuset || hwloc_bitmap_iszero(e->cpuset))
        return XS_OK;
    if (hwloc_set_cpubind(topo, e->cpuset, HWLOC_CPUBIND_PROCESS) != 0)
        return xs_err_set(err, XS_ERR_INVALID, "hwloc: cannot bind local rank %d to PUs %s", e->local_rank,
                          e->pus);
    if (hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE) > 1 &&
        hwloc_set_membind(topo, e->nodeset, HWLOC_MEMBIND_BIND,
                          HWLOC_MEMBIND_PROCESS | HWLOC_MEMBIND_BYNODESET) != 0)
        return xs_err_set(err, XS_ERR_INVALID, "hwloc: cannot bind local rank %d's memory to NUMA %s",
                          e->local_rank, e->numa);
    return XS_OK;
}

int xs_place_bound_cores(void)
{
    hwloc_topology_t t;
    if (hwloc_topology_init(&t) != 0)
        return 0;
    int n = 0;
    if (hwloc_topology_load(t) == 0) {
        hwloc_bitmap_t set = hwloc_bitmap_alloc();
        if (hwloc_get_cpubind(t, set, HWLOC_CPUBIND_PROCESS) == 0) {
            hwloc_obj_type_t type =
                hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE) > 0 ? HWLOC_OBJ_CORE : HWLOC_OBJ_PU;
            for (hwloc_obj_t o = hwloc_get_next_obj_by_type(t, type, NULL); o;
                 o = hwloc_get_next_obj_by_type(t, type, o))
                n += hwloc_bitmap_intersects(o->cpuset, set) ? 1 : 0;
        }
        hwloc_bitmap_free(set);
    }
    hwloc_topology_destroy(t);
    return n;
}
