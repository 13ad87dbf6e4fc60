/* The message protocol over MPI (see xs_protocol.h). */
#include "scheduler/xs_protocol.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

size_t xs_msg_size(const xs_msg *msg)
{
    switch (msg->type) {
    case XS_MSG_DONE: return offsetof(xs_msg, text);
    case XS_MSG_FAILED: return offsetof(xs_msg, text) + (size_t)msg->text_len + 1;
    default: return offsetof(xs_msg, report);
    }
}

void xs_msg_set_text(xs_msg *msg, const char *text)
{
    int n = snprintf(msg->text, sizeof msg->text, "%s", text ? text : "");
    msg->text_len = n < 0 ? 0 : (n < (int)sizeof msg->text ? n : (int)sizeof msg->text - 1);
}

xs_result xs_mpi_fail(xs_err *err, const char *what, int rc)
{
    char s[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, s, &len);
    return xs_err_set(err, XS_ERR_MPI, "%s: %s", what, s);
}

xs_result xs_msg_send(MPI_Comm comm, int dest, int tag, const xs_msg *msg, xs_err *err)
{
    int rc = MPI_Send(msg, (int)xs_msg_size(msg), MPI_BYTE, dest, tag, comm);
    return rc == MPI_SUCCESS ? XS_OK : xs_mpi_fail(err, "sending a message", rc);
}

xs_result xs_msg_isend(MPI_Comm comm, int dest, int tag, const xs_msg *msg, MPI_Request *req,
                       xs_err *err)
{
    int rc = MPI_Isend(msg, (int)xs_msg_size(msg), MPI_BYTE, dest, tag, comm, req);
    return rc == MPI_SUCCESS ? XS_OK : xs_mpi_fail(err, "sending a message", rc);
}

xs_result xs_msg_recv(MPI_Comm comm, int source, int tag, xs_msg *msg, int *from, xs_err *err)
{
    MPI_Status st;
    int rc = MPI_Recv(msg, (int)sizeof *msg, MPI_BYTE, source, tag, comm, &st);
    if (rc != MPI_SUCCESS)
        return xs_mpi_fail(err, "receiving a message", rc);
    int got = 0;
    MPI_Get_count(&st, MPI_BYTE, &got);
    *from = st.MPI_SOURCE;
    if ((size_t)got < offsetof(xs_msg, report) ||
        (msg->type == XS_MSG_FAILED && (msg->text_len < 0 || msg->text_len >= XS_MSG_TEXT_MAX)) ||
        (size_t)got != xs_msg_size(msg))
        return xs_err_set(err, XS_ERR_MPI, "a malformed message (%d bytes, type %d) from rank %d",
                          got, (int)msg->type, st.MPI_SOURCE);
    if ((size_t)got < sizeof *msg) /* what did not travel reads as zero */
        memset((char *)msg + got, 0, sizeof *msg - (size_t)got);
    if (msg->type == XS_MSG_FAILED)
        msg->text[msg->text_len] = '\0';
    return XS_OK;
}

xs_result xs_mpi_share_status(MPI_Comm comm, xs_result r, xs_err *err)
{
    int code = (int)r;
    MPI_Bcast(&code, 1, MPI_INT, 0, comm);
    MPI_Bcast(err->msg, (int)sizeof err->msg, MPI_CHAR, 0, comm);
    err->code = (xs_result)code;
    return (xs_result)code;
}

xs_result xs_mpi_bcast_bytes(MPI_Comm comm, unsigned char **bytes, size_t *len, xs_err *err)
{
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    uint64_t n = *len;
    if (MPI_Bcast(&n, 1, MPI_UINT64_T, 0, comm) != MPI_SUCCESS)
        return xs_err_set(err, XS_ERR_MPI, "broadcasting the package size failed");
    if (rank != 0) {
        *bytes = malloc(n ? n : 1);
        *len = n;
    }
    int ok = *bytes != NULL, all = 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm);
    if (!all)
        return xs_err_set(err, XS_ERR_NOMEM, "a rank could not allocate %llu bytes for the package",
                          (unsigned long long)n);
    const uint64_t chunk = 1u << 30;
    for (uint64_t off = 0; off < n; off += chunk) {
        int c = (int)(n - off < chunk ? n - off : chunk);
        if (MPI_Bcast(*bytes + off, c, MPI_BYTE, 0, comm) != MPI_SUCCESS)
            return xs_err_set(err, XS_ERR_MPI, "broadcasting the package failed at byte %llu",
                              (unsigned long long)off);
    }
    return XS_OK;
}

xs_result xs_mpi_agree(MPI_Comm comm, xs_result mine, xs_err *err)
{
    int local = (int)mine, worst = 0;
    if (MPI_Allreduce(&local, &worst, 1, MPI_INT, MPI_MAX, comm) != MPI_SUCCESS)
        return xs_err_set(err, XS_ERR_MPI, "MPI_Allreduce failed while validating");
    if (worst != XS_OK && mine == XS_OK)
        xs_err_set(err, (xs_result)worst, "another rank reported an error (see its message)");
    return (xs_result)worst;
}

long xs_backoff_step(int *idle)
{
    int k = (*idle)++;
    if (k < 64)
        return 0;
    if (k < 256)
        return -1;
    long ns = 20000L * (k - 255);
    return ns > 1000000L ? 1000000L : ns;
}

void xs_backoff(int *idle)
{
    long ns = xs_backoff_step(idle);
    if (ns < 0) {
        sched_yield();
    } else if (ns > 0) {
        struct timespec ts = {0, ns};
        nanosleep(&ts, NULL);
    }
}
