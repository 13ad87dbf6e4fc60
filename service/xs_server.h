/* `xisuan serve`: the submission service a render centre runs on a cluster's
 * login node for its studios (docs/service.md).
 *
 * An HTTP API (JSON) served by libmicrohttpd, one thread per connection, with
 * bounds on connections (in all and per client address), idle time and body
 * sizes; the database (xs_store.h) and the spool (xs_spool.h); a runner
 * thread (xs_runner.h) that submits Slurm jobs and follows them. Every
 * request but the health check carries a token (xs_token.h); studios see
 * only their own uploads and jobs, clusters only the lease API. State lives in
 * the database and the spool, so the service can be stopped (or killed) and
 * started again without losing a job, an upload or a lease.
 */
#ifndef XS_SERVER_H
#define XS_SERVER_H

#include <stdint.h>

#include "io/xs_result.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xs_server_config {
    const char *spool;          /* the spool folder, on storage the cluster's nodes share */
    const char *listen;         /* address:port ("127.0.0.1:8470"; port 0: any free port) */
    const char *port_file;      /* when set, the bound port is written there */
    const char *log_path;       /* NULL: standard output */
    const char *self;           /* the xisuan that checks packages and submits jobs */
    int64_t max_package_bytes;  /* the largest upload */
    int64_t max_chunk_bytes;    /* the most bytes one upload request may carry */
    int client_timeout_s;       /* an idle connection is closed after this */
    int max_connections, max_connections_per_ip;
    double check_timeout_s;     /* the package check's time limit */
    /* Slurm (the runner) */
    const char *launcher;       /* srun or mpirun, as `xisuan submit --launcher` */
    const char *partition;      /* NULL: the cluster's default */
    const char *default_time;   /* a job's time limit when it gives none */
    int max_nodes;
    double poll_s;              /* how often the runner looks at its jobs */
    /* leases (docs/service.md#leases) */
    double lease_ttl_s, lease_target_s;
    int lease_max_frames, lease_max_failures;
} xs_server_config;

/* The defaults that `xisuan serve --help` shows. */
void xs_server_config_defaults(xs_server_config *c);

/* Opens the database and spool, serves until SIGTERM or SIGINT, and stops
 * cleanly (connections closed, runner joined, database closed). */
xs_result xs_server_run(const xs_server_config *cfg, xs_err *err);

#ifdef __cplusplus
}
#endif
#endif
