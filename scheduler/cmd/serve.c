/* `xisuan serve`: the submission service (service/xs_server.h), and the
 * centre's admin commands on its database: studios and clusters, their
 * tokens and quotas. No MPI. */
#include "scheduler/cmd/xs_cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "service/xs_api.h"
#include "service/xs_server.h"
#include "service/xs_spool.h"
#include "service/xs_store.h"

static void serve_usage(FILE *f)
{
    xs_server_config d;
    xs_server_config_defaults(&d);
    fprintf(f,
            "usage: xisuan serve --spool DIR [flags]                   run the service\n"
            "       xisuan serve --spool DIR studio add NAME [quotas] [--token-file F]\n"
            "       xisuan serve --spool DIR studio set NAME [quotas] [--disable|--enable]\n"
            "       xisuan serve --spool DIR cluster add NAME [--token-file F]\n"
            "       xisuan serve --spool DIR token rotate NAME [--token-file F]\n"
            "       xisuan serve --spool DIR list\n"
            "\n"
            "The submission service for studios (docs/service.md): an HTTP API (JSON), its\n"
            "database and files in the spool DIR (shared storage the cluster's nodes see), Slurm\n"
            "jobs through `xisuan submit`, frames leased to clusters. It logs JSON lines and stops\n"
            "cleanly on SIGTERM or SIGINT; started again on the same spool it carries on.\n"
            "\n"
            "  --listen ADDR:PORT        where to serve (port 0: any free one) [%s]\n"
            "  --port-file F             write the port there once listening\n"
            "  --log F                   the JSON-lines log [standard output]\n"
            "  --max-package-bytes N     the largest package or frame (K, M, G, T suffixes) [16G]\n"
            "  --max-chunk-bytes N       the most bytes one upload request carries [256M]\n"
            "  --client-timeout S        close a connection idle this long [%d]\n"
            "  --max-connections N       connections in all [%d]\n"
            "  --max-connections-per-ip N  from one address [%d]\n"
            "  --check-timeout S         the package check's time limit [%.0f]\n"
            "  --launcher srun|mpirun    how Slurm jobs start their ranks [%s]\n"
            "  --partition P             the Slurm partition [the default]\n"
            "  --default-time T          a job's Slurm time limit when it gives none [%s]\n"
            "  --max-nodes N             the most nodes a job may ask for [%d]\n"
            "  --poll S                  how often Slurm jobs are looked at [%.1f]\n"
            "  --lease-ttl S             a lease not renewed for this long is lost [%.0f]\n"
            "  --lease-target S          a lease holds at most this much of a cluster's work [%.0f]\n"
            "  --lease-max-frames N      the most frames in one lease [%d]\n"
            "  --lease-max-failures N    failed leases before the job fails [%d]\n"
            "\n"
            "quotas (studio add/set): --quota-bytes N [1T], --quota-jobs N [16],\n"
            "  --quota-gpu-hours H [1000], --account A (the Slurm account charged) []\n"
            "Tokens are printed once (or written to --token-file, mode 0600); the database keeps\n"
            "only a salted hash.\n",
            d.listen, d.client_timeout_s, d.max_connections, d.max_connections_per_ip,
            d.check_timeout_s, d.launcher, d.default_time, d.max_nodes, d.poll_s, d.lease_ttl_s,
            d.lease_target_s, d.lease_max_frames, d.lease_max_failures);
}

/* "123", "64K", "256M", "16G", "1T" (binary multiples) */
static bool parse_bytes(const char *v, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || errno || !(x >= 0))
        return false;
    double m = 1;
    if (*end == 'K' || *end == 'k')
        m = 1024.0, ++end;
    else if (*end == 'M' || *end == 'm')
        m = 1024.0 * 1024, ++end;
    else if (*end == 'G' || *end == 'g')
        m = 1024.0 * 1024 * 1024, ++end;
    else if (*end == 'T' || *end == 't')
        m = 1024.0 * 1024 * 1024 * 1024, ++end;
    if (*end || x * m > 9.0e18)
        return false;
    *out = (int64_t)(x * m);
    return true;
}

static bool parse_num(const char *v, double lo, double hi, double *out)
{
    char *end = NULL;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || errno || !isfinite(x) || x < lo || x > hi)
        return false;
    *out = x;
    return true;
}

static int give_token(const char *token, const char *file, const char *what)
{
    if (!file) {
        printf("%s\n", token);
        return 0;
    }
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, token, strlen(token)) != (ssize_t)strlen(token) || write(fd, "\n", 1) != 1 ||
        fsync(fd) != 0) {
        fprintf(stderr, "xisuan serve: error: --token-file %s: %s\n", file, strerror(errno));
        if (fd >= 0)
            close(fd);
        return 1;
    }
    close(fd);
    printf("xisuan serve: %s: token written to %s\n", what, file);
    return 0;
}

/* studio add|set, cluster add, token rotate, list: on the database directly */
static int admin(const char *spool_dir, int argc, char **argv)
{
    xs_spool sp;
    xs_err err;
    if (xs_spool_init(&sp, spool_dir, &err) != XS_OK) {
        fprintf(stderr, "xisuan serve: error: %s\n", err.msg);
        return 2;
    }
    char db[XS_PATH_MAX];
    snprintf(db, sizeof db, "%s/xisuan.db", sp.root);
    xs_store *st = NULL;
    if (xs_token_init(&err) != XS_OK || xs_store_open(db, &st, &err) != XS_OK) {
        fprintf(stderr, "xisuan serve: error: %s\n", err.msg);
        return 1;
    }
    int status = 0;
    const char *what = argv[0], *verb = argc > 1 ? argv[1] : "", *name = argc > 2 ? argv[2] : NULL;
    if (strcmp(what, "list") == 0 && argc == 1) {
        status = xs_store_principal_print(st, stdout, &err) == XS_OK ? 0 : 1;
        if (status)
            fprintf(stderr, "xisuan serve: error: %s\n", err.msg);
        xs_store_close(st);
        return status;
    }
    const bool studio = strcmp(what, "studio") == 0, cluster = strcmp(what, "cluster") == 0,
               token = strcmp(what, "token") == 0;
    if (!((studio && (strcmp(verb, "add") == 0 || strcmp(verb, "set") == 0)) ||
          (cluster && strcmp(verb, "add") == 0) || (token && strcmp(verb, "rotate") == 0)) ||
        !name) {
        fprintf(stderr, "xisuan serve: error: unknown admin command (see --help)\n");
        xs_store_close(st);
        return 2;
    }
    if (!xs_api_plain_name(name, 64)) {
        fprintf(stderr, "xisuan serve: error: %s: a name is letters, digits, '.', '_', '-' (1 to 63)\n", name);
        xs_store_close(st);
        return 2;
    }
    xs_principal p;
    bool found = false;
    memset(&p, 0, sizeof p);
    if (strcmp(verb, "set") == 0 && (xs_store_principal_by_name(st, name, &p, &found, &err) != XS_OK || !found)) {
        fprintf(stderr, "xisuan serve: error: %s: no such studio\n", name);
        xs_store_close(st);
        return 2;
    }
    if (strcmp(verb, "add") == 0) {
        snprintf(p.name, sizeof p.name, "%s", name);
        p.kind = cluster ? XS_PRINCIPAL_CLUSTER : XS_PRINCIPAL_STUDIO;
        p.quota_bytes = (int64_t)1 << 40;
        p.quota_jobs = 16;
        p.quota_gpu_hours = 1000;
    }
    const char *token_file = NULL;
    for (int i = 3; i < argc; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double x = 0;
        if (strcmp(a, "--token-file") == 0 && v) {
            token_file = v, ++i;
        } else if (studio && strcmp(a, "--quota-bytes") == 0 && v && parse_bytes(v, &p.quota_bytes)) {
            ++i;
        } else if (studio && strcmp(a, "--quota-jobs") == 0 && v && parse_num(v, 0, 1e6, &x)) {
            p.quota_jobs = (int)x, ++i;
        } else if (studio && strcmp(a, "--quota-gpu-hours") == 0 && v && parse_num(v, 0, 1e12, &x)) {
            p.quota_gpu_hours = x, ++i;
        } else if (studio && strcmp(a, "--account") == 0 && v && xs_api_plain_name(v, sizeof p.account)) {
            snprintf(p.account, sizeof p.account, "%s", v), ++i;
        } else if (strcmp(a, "--disable") == 0 && strcmp(verb, "set") == 0) {
            p.disabled = true;
        } else if (strcmp(a, "--enable") == 0 && strcmp(verb, "set") == 0) {
            p.disabled = false;
        } else {
            fprintf(stderr, "xisuan serve: error: %s: unexpected or out of range (see --help)\n", a);
            xs_store_close(st);
            return 2;
        }
    }
    char tok[XS_TOKEN_TEXT];
    xs_result r;
    if (strcmp(verb, "add") == 0)
        r = xs_store_principal_add(st, &p, tok, &err);
    else if (strcmp(verb, "rotate") == 0)
        r = xs_store_principal_rotate(st, name, tok, &err);
    else
        r = xs_store_principal_update(st, &p, &err);
    if (r != XS_OK) {
        fprintf(stderr, "xisuan serve: error: %s\n", err.msg);
        status = r == XS_ERR_INVALID ? 2 : 1;
    } else if (strcmp(verb, "set") != 0) {
        status = give_token(tok, token_file, name);
    } else {
        printf("xisuan serve: studio %s updated\n", name);
    }
    memset(tok, 0, sizeof tok);
    xs_store_close(st);
    return status;
}

int xs_serve_main(int argc, char **argv)
{
    xs_server_config c;
    xs_server_config_defaults(&c);
    const char *spool = NULL;
    for (int i = 0; i < argc; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double x = 0;
        int64_t b = 0;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            serve_usage(stdout);
            return 0;
        }
        if (a[0] != '-') {
            if (!spool) {
                fprintf(stderr, "xisuan serve: error: --spool DIR comes first (see --help)\n");
                return 2;
            }
            return admin(spool, argc - i, argv + i);
        }
        bool ok = v != NULL;
#define NUM(flag, lo, hi, dst) else if (strcmp(a, flag) == 0) { ok = ok && parse_num(v, lo, hi, &x); if (ok) (dst) = x; }
        if (strcmp(a, "--spool") == 0)
            spool = v;
        else if (strcmp(a, "--listen") == 0)
            c.listen = v;
        else if (strcmp(a, "--port-file") == 0)
            c.port_file = v;
        else if (strcmp(a, "--log") == 0)
            c.log_path = v;
        else if (strcmp(a, "--launcher") == 0)
            ok = ok && (strcmp(v, "srun") == 0 || strcmp(v, "mpirun") == 0), c.launcher = v;
        else if (strcmp(a, "--partition") == 0)
            ok = ok && xs_api_plain_name(v, 64), c.partition = v;
        else if (strcmp(a, "--default-time") == 0)
            ok = ok && xs_api_slurm_time(v, &x), c.default_time = v;
        else if (strcmp(a, "--max-package-bytes") == 0)
            ok = ok && parse_bytes(v, &b) && b > 0, c.max_package_bytes = b;
        else if (strcmp(a, "--max-chunk-bytes") == 0)
            ok = ok && parse_bytes(v, &b) && b > 0, c.max_chunk_bytes = b;
        NUM("--client-timeout", 1, 86400, c.client_timeout_s)
        NUM("--max-connections", 1, 65536, c.max_connections)
        NUM("--max-connections-per-ip", 1, 65536, c.max_connections_per_ip)
        NUM("--check-timeout", 1, 86400, c.check_timeout_s)
        NUM("--max-nodes", 1, 1e6, c.max_nodes)
        NUM("--poll", 0.05, 3600, c.poll_s)
        NUM("--lease-ttl", 0.5, 86400, c.lease_ttl_s)
        NUM("--lease-target", 0.1, 86400 * 7, c.lease_target_s)
        NUM("--lease-max-frames", 1, 10000, c.lease_max_frames)
        NUM("--lease-max-failures", 1, 1000, c.lease_max_failures)
        else {
            fprintf(stderr, "xisuan serve: error: unexpected argument '%s' (see --help)\n", a);
            return 2;
        }
#undef NUM
        if (!ok) {
            fprintf(stderr, "xisuan serve: error: %s: bad or missing value%s%s%s (see --help)\n", a,
                    v ? " '" : "", v ? v : "", v ? "'" : "");
            return 2;
        }
        ++i;
    }
    if (!spool) {
        fprintf(stderr, "xisuan serve: error: --spool DIR: where the service keeps its database and files\n");
        return 2;
    }
    c.spool = spool;
    xs_err err;
    xs_err_clear(&err);
    xs_result r = xs_server_run(&c, &err);
    if (r != XS_OK) {
        fprintf(stderr, "xisuan serve: error: %s\n", err.msg);
        return r == XS_ERR_INVALID ? 2 : 1;
    }
    return 0;
}
