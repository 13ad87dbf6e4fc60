/* Placement plans on hwloc XML topologies: each case builds a node (a
 * synthetic hwloc topology exported to XML, with NVIDIA GPUs added as PCI
 * devices under their packages), plans a number of ranks on it, and checks
 * the exact binding: GPU, cores, PUs, NUMA nodes, warnings.
 * `test_placement --write NAME FILE` writes a node's XML (tests/jobs.sh
 * feeds it to `xisuan info --topology`). */
#include "scheduler/xs_placement.h"
#include "tests/test_util.h"

#include <hwloc.h>
#include <unistd.h>

typedef struct node_spec {
    const char *name;
    const char *synthetic;
    int packages;
    const char *gpu_bus[2][8]; /* per package, in the (shuffled) order they appear */
    const char *allowed;       /* allowed_cpuset of the machine, NULL: all */
} node_spec;

static const node_spec NODES[] = {
    {"2s8g", "pack:2 numa:1 core:8 pu:2", 2,
     {{"0000:3b:00.0", "0000:18:00.0", "0000:5d:00.0", "0000:2a:00.0"},
      {"0000:db:00.0", "0000:9a:00.0", "0000:ab:00.0", "0000:ba:00.0"}}, NULL},
    {"1s4g", "pack:1 numa:1 core:16 pu:1", 1,
     {{"0000:c1:00.0", "0000:01:00.0", "0000:81:00.0", "0000:41:00.0"}}, NULL},
    {"cpu", "pack:2 numa:2 core:4 pu:2", 2, {{NULL}}, NULL},
    /* a 2-socket node where this process may run on package 0 only */
    {"2s8g-pkg0", "pack:2 numa:1 core:8 pu:2", 2,
     {{"0000:3b:00.0", "0000:18:00.0", "0000:5d:00.0", "0000:2a:00.0"},
      {"0000:db:00.0", "0000:9a:00.0", "0000:ab:00.0", "0000:ba:00.0"}}, "0x0000ffff"},
};

static const node_spec *find_node(const char *name)
{
    for (size_t i = 0; i < sizeof NODES / sizeof NODES[0]; ++i)
        if (strcmp(NODES[i].name, name) == 0)
            return &NODES[i];
    return NULL;
}

/* The node as hwloc XML (malloc'd). */
static char *node_xml(const node_spec *n)
{
    hwloc_topology_t t;
    hwloc_topology_init(&t);
    if (hwloc_topology_set_synthetic(t, n->synthetic) != 0 || hwloc_topology_load(t) != 0)
        return NULL;
    char *buf = NULL;
    int len = 0;
    hwloc_topology_export_xmlbuffer(t, &buf, &len, 0);
    size_t cap = (size_t)len + 16384;
    char *out = malloc(cap);
    snprintf(out, cap, "%s", buf);
    hwloc_free_xmlbuffer(t, buf);
    hwloc_topology_destroy(t);
    int gp = 10000;
    for (int p = 0; p < n->packages; ++p) {
        char key[64];
        snprintf(key, sizeof key, "<object type=\"Package\" os_index=\"%d\"", p);
        char *at = strstr(out, key);
        if (!at)
            continue;
        at = strchr(at, '\n') + 1;
        char snip[8192] = "";
        for (int g = 0; g < 8 && n->gpu_bus[p][g]; ++g) {
            const char *b = n->gpu_bus[p][g];
            size_t l = strlen(snip);
            snprintf(snip + l, sizeof snip - l,
                     "<object type=\"Bridge\" gp_index=\"%d\" bridge_type=\"0-1\" depth=\"0\" "
                     "bridge_pci=\"0000:[%.2s-%.2s]\">\n"
                     "<object type=\"PCIDev\" gp_index=\"%d\" pci_busid=\"%s\" "
                     "pci_type=\"0302 [10de:2330] [10de:16c1] a1\" pci_link_speed=\"0.000000\"/>\n"
                     "</object>\n",
                     gp, b + 5, b + 5, gp + 1, b);
            gp += 2;
        }
        size_t sl = strlen(snip);
        memmove(at + sl, at, strlen(at) + 1);
        memcpy(at, snip, sl);
    }
    if (n->allowed) {
        char *a = strstr(out, "allowed_cpuset=\"");
        if (a) {
            a += strlen("allowed_cpuset=\"");
            char *e = strchr(a, '"');
            size_t nl = strlen(n->allowed);
            memmove(a + nl, e, strlen(e) + 1);
            memcpy(a, n->allowed, nl);
        }
    }
    return out;
}

static hwloc_topology_t load_node(const char *name)
{
    const node_spec *n = find_node(name);
    char *xml = node_xml(n);
    char path[512];
    const char *dir = getenv("XS_TEST_TMP");
    /* one file per process: ctest runs the cases that share a node in parallel */
    snprintf(path, sizeof path, "%s/topo-%s-%ld.xml", dir ? dir : "/tmp", name, (long)getpid());
    FILE *f = fopen(path, "w");
    if (!f || !xml)
        return NULL;
    fputs(xml, f);
    fclose(f);
    free(xml);
    hwloc_topology_t t = NULL;
    xs_err e;
    xs_err_clear(&e);
    if (xs_place_topology_load(path, &t, &e) != XS_OK)
        fprintf(stderr, "%s\n", e.msg);
    remove(path);
    return t;
}

typedef struct want {
    int role, gpu;
    const char *bus, *cores, *pus, *numa;
    bool far;
} want;

static void check_plan(const char *node, const char *visible, int ranks, int scheduler, const want *w,
                       int nwarn)
{
    hwloc_topology_t t = load_node(node);
    CHECK(t != NULL);
    if (!t)
        return;
    xs_place_gpu gpus[XS_PLACE_MAX_GPUS];
    int ng = 0;
    xs_err e;
    xs_err_clear(&e);
    CHECK(xs_place_gpus_from_topology(t, visible, gpus, &ng, &e) == XS_OK);
    xs_place_plan p;
    CHECK(xs_place_plan_make(t, ranks, scheduler, gpus, ng, NULL, &p, &e) == XS_OK);
    xs_place_plan_print(stderr, &p, node);
    for (int r = 0; r < ranks; ++r) {
        const xs_place_entry *x = &p.e[r];
        CHECK_MSG(x->role == w[r].role, "%s rank %d role %d", node, r, x->role);
        CHECK_MSG(x->gpu == w[r].gpu, "%s rank %d gpu %d want %d", node, r, x->gpu, w[r].gpu);
        if (w[r].bus)
            CHECK_MSG(x->gpu >= 0 && strcmp(p.gpus[x->gpu].bus, w[r].bus) == 0, "%s rank %d bus", node, r);
        CHECK_MSG(strcmp(x->cores, w[r].cores) == 0, "%s rank %d cores %s want %s", node, r, x->cores,
                  w[r].cores);
        CHECK_MSG(strcmp(x->pus, w[r].pus) == 0, "%s rank %d pus %s want %s", node, r, x->pus, w[r].pus);
        CHECK_MSG(strcmp(x->numa, w[r].numa) == 0, "%s rank %d numa %s want %s", node, r, x->numa,
                  w[r].numa);
        CHECK_MSG(x->far == w[r].far, "%s rank %d far", node, r);
    }
    CHECK_MSG(p.warn_count == nwarn, "%s: %d warnings, want %d", node, p.warn_count, nwarn);
    xs_place_plan_free(&p);
    hwloc_topology_destroy(t);
}

enum { S = XS_ROLE_SCHEDULER, G = XS_ROLE_GPU, C = XS_ROLE_CPU };

/* 2 sockets x 8 cores x 2 PUs, 4 GPUs per socket: the scheduler and 8 GPU
 * ranks; GPUs in PCI bus order, 2 cores each next to their GPU. */
static void two_socket_eight_gpus(void)
{
    const want w[9] = {
        {S, -1, NULL, "-", "-", "-", false},
        {G, 0, "0000:18:00.0", "0-1", "0-3", "0", false},
        {G, 1, "0000:2a:00.0", "2-3", "4-7", "0", false},
        {G, 2, "0000:3b:00.0", "4-5", "8-11", "0", false},
        {G, 3, "0000:5d:00.0", "6-7", "12-15", "0", false},
        {G, 4, "0000:9a:00.0", "8-9", "16-19", "1", false},
        {G, 5, "0000:ab:00.0", "10-11", "20-23", "1", false},
        {G, 6, "0000:ba:00.0", "12-13", "24-27", "1", false},
        {G, 7, "0000:db:00.0", "14-15", "28-31", "1", false},
    };
    check_plan("2s8g", NULL, 9, 0, w, 0);
    /* Slurm gave this job GPUs 4 and 5: both on socket 1, its 8 cores split */
    const want v[3] = {
        {S, -1, NULL, "-", "-", "-", false},
        {G, 0, "0000:9a:00.0", "8-11", "16-23", "1", false},
        {G, 1, "0000:ab:00.0", "12-15", "24-31", "1", false},
    };
    check_plan("2s8g", "4,5", 3, 0, v, 0);
}

/* 1 socket x 16 cores, 4 GPUs: 4 GPU ranks with 4 cores each. */
static void one_socket_four_gpus(void)
{
    const want w[5] = {
        {S, -1, NULL, "-", "-", "-", false},
        {G, 0, "0000:01:00.0", "0-3", "0-3", "0", false},
        {G, 1, "0000:41:00.0", "4-7", "4-7", "0", false},
        {G, 2, "0000:81:00.0", "8-11", "8-11", "0", false},
        {G, 3, "0000:c1:00.0", "12-15", "12-15", "0", false},
    };
    check_plan("1s4g", NULL, 5, 0, w, 0);
}

/* 6 GPU ranks on 4 GPUs: round-robin, two GPUs shared (a warning each); the
 * socket's 16 cores split six ways. */
static void more_ranks_than_gpus(void)
{
    const want w[7] = {
        {S, -1, NULL, "-", "-", "-", false},
        {G, 0, "0000:01:00.0", "0-1", "0-1", "0", false},
        {G, 1, "0000:41:00.0", "2-4", "2-4", "0", false},
        {G, 2, "0000:81:00.0", "5-7", "5-7", "0", false},
        {G, 3, "0000:c1:00.0", "8-9", "8-9", "0", false},
        {G, 0, "0000:01:00.0", "10-12", "10-12", "0", false},
        {G, 1, "0000:41:00.0", "13-15", "13-15", "0", false},
    };
    check_plan("1s4g", NULL, 7, 0, w, 2);
}

/* No GPUs: 2 sockets x 2 NUMA x 4 cores x 2 PUs. The scheduler and two CPU
 * ranks get a socket each; five ranks without a scheduler split 16 cores. */
static void cpu_only(void)
{
    const want w[3] = {
        {S, -1, NULL, "-", "-", "-", false},
        {C, -1, NULL, "0-7", "0-15", "0-1", false},
        {C, -1, NULL, "8-15", "16-31", "2-3", false},
    };
    check_plan("cpu", NULL, 3, 0, w, 0);
    const want v[5] = {
        {C, -1, NULL, "0-2", "0-5", "0", false},
        {C, -1, NULL, "3-5", "6-11", "0-1", false},
        {C, -1, NULL, "6-8", "12-17", "1-2", false},
        {C, -1, NULL, "9-11", "18-23", "2", false},
        {C, -1, NULL, "12-15", "24-31", "3", false},
    };
    check_plan("cpu", NULL, 5, -1, v, 0);
}

/* The process may run on socket 0 only: ranks whose GPU sits on socket 1
 * are bound to socket 0's cores, flagged far, with a warning each. */
static void far_from_gpu(void)
{
    const want w[4] = {
        {S, -1, NULL, "-", "-", "-", false},
        {G, 0, "0000:18:00.0", "0-7", "0-15", "0", false},
        {G, 1, "0000:9a:00.0", "0-3", "0-7", "0", true},
        {G, 2, "0000:ab:00.0", "4-7", "8-15", "0", true},
    };
    check_plan("2s8g-pkg0", "0,4,5", 4, 0, w, 2);
}

/* Bad input: a UUID in CUDA_VISIBLE_DEVICES, a missing file. */
static void bad_input(void)
{
    hwloc_topology_t t = load_node("1s4g");
    CHECK(t != NULL);
    xs_place_gpu gpus[XS_PLACE_MAX_GPUS];
    int ng = 0;
    xs_err e;
    xs_err_clear(&e);
    CHECK(xs_place_gpus_from_topology(t, "GPU-5f6c", gpus, &ng, &e) == XS_ERR_INVALID);
    CHECK(strstr(e.msg, "CUDA_VISIBLE_DEVICES") != NULL);
    CHECK(xs_place_gpus_from_topology(t, "1,9,2", gpus, &ng, &e) == XS_OK && ng == 1);
    hwloc_topology_destroy(t);
    hwloc_topology_t u = NULL;
    CHECK(xs_place_topology_load("/nonexistent/topo.xml", &u, &e) == XS_ERR_INVALID);
    CHECK(strstr(e.msg, "/nonexistent/topo.xml") != NULL);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--write") == 0) {
        const node_spec *n = find_node(argv[2]);
        char *xml = n ? node_xml(n) : NULL;
        FILE *f = xml ? fopen(argv[3], "w") : NULL;
        if (!f)
            return 1;
        fputs(xml, f);
        fclose(f);
        free(xml);
        return 0;
    }
    static const xs_test_case cases[] = {
        {"two_socket_eight_gpus", two_socket_eight_gpus},
        {"one_socket_four_gpus", one_socket_four_gpus},
        {"more_ranks_than_gpus", more_ranks_than_gpus},
        {"cpu_only", cpu_only},
        {"far_from_gpu", far_from_gpu},
        {"bad_input", bad_input},
    };
    return xs_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
