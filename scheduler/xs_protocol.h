/* The farm's message protocol and its MPI transport.
 *
 * Workers talk to rank 0 with one message type, sent as MPI_BYTE (the farm
 * assumes ranks of one architecture, as every cluster has): a worker asks for
 * work (REQUEST), reports an item done (DONE) or failed (FAILED, with the
 * reason; XS_REPORT_LOST when its device is lost), and each reply carries one
 * more request; rank 0 answers every request with ASSIGN (an item) or END.
 * Only the bytes a message uses travel: a request or an answer is 40 bytes, a
 * result 168, a failure 168 plus its text. Also here: the collectives every
 * rank runs while a job starts (status and bytes from rank 0, agreement on
 * failure) and the idle back-off.
 */
#ifndef XS_PROTOCOL_H
#define XS_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mpi.h>

#include "io/xs_result.h"
#include "kernels/xs_types.h"
#include "scheduler/xs_sched.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { XS_TAG_UP = 101, XS_TAG_DOWN = 102 };

typedef enum xs_msg_type {
    XS_MSG_REQUEST = 1, /* worker -> 0: one more item, please */
    XS_MSG_DONE = 2,    /* worker -> 0: item done (and one more request) */
    XS_MSG_FAILED = 3,  /* worker -> 0: item failed, text says why (and one more request) */
    XS_MSG_ASSIGN = 4,  /* 0 -> worker: do this item */
    XS_MSG_END = 5      /* 0 -> worker: no more work for this request */
} xs_msg_type;

enum {
    /* FAILED because the worker's device is lost (a sticky GPU error): the
     * worker takes no more work; rank 0 retires it and hands its items to
     * other ranks without counting a failure against them */
    XS_REPORT_LOST = 1
};

/* What a worker reports of an item it ran. */
typedef struct xs_item_report {
    double seconds;  /* wall time spent on the item */
    double samples;  /* camera samples rendered */
    double kernel_s; /* the tile's kernel time: a GPU's CUDA events, a CPU's render */
    xs_counters counters;
    uint64_t hash;   /* a tile's pixel checksum (XXH3 of its records); a frame's file checksum */
    uint64_t bytes;  /* an assembled frame's file size */
    int32_t kept;    /* 1: a verified tile from an earlier run, not rendered */
    int32_t flags;   /* XS_REPORT_* */
    int32_t scene_frames; /* frame changes of an animated scene this item needed (0 or 1) */
    double scene_s;       /* their seconds: posing, deforming, BVHs, lights, device upload */
} xs_item_report;

enum { XS_MSG_TEXT_MAX = 768 };

typedef struct xs_msg {
    int32_t type;     /* xs_msg_type */
    int32_t text_len; /* FAILED: bytes of text, without its NUL */
    xs_work_item item;
    uint64_t expect_hash; /* ASSIGN of an XS_ITEM_VERIFY tile: the journal's checksum */
    xs_item_report report; /* DONE, FAILED */
    char text[XS_MSG_TEXT_MAX]; /* FAILED: why, NUL-terminated */
} xs_msg;

/* The bytes of msg that travel for its type. */
size_t xs_msg_size(const xs_msg *msg);
/* Sets msg's text (cut to fit) and text_len. */
void xs_msg_set_text(xs_msg *msg, const char *text);

/* Sets err from an MPI error code: "what: MPI's error string". */
xs_result xs_mpi_fail(xs_err *err, const char *what, int rc);

/* Blocking send of msg's used bytes to dest. */
xs_result xs_msg_send(MPI_Comm comm, int dest, int tag, const xs_msg *msg, xs_err *err);
/* Non-blocking send; msg must stay put until *req completes. */
xs_result xs_msg_isend(MPI_Comm comm, int dest, int tag, const xs_msg *msg, MPI_Request *req,
                       xs_err *err);
/* Receives one message from source (or MPI_ANY_SOURCE) into msg, checking
 * that its size fits its type; *from is the sender's rank. Fields the
 * message did not carry are zero. */
xs_result xs_msg_recv(MPI_Comm comm, int source, int tag, xs_msg *msg, int *from, xs_err *err);

/* Rank 0's status and message, shared with every rank (collective). */
xs_result xs_mpi_share_status(MPI_Comm comm, xs_result r, xs_err *err);
/* Rank 0's buffer to every rank, in chunks (MPI counts are int); the others
 * get a malloc'd copy in *bytes (collective). */
xs_result xs_mpi_bcast_bytes(MPI_Comm comm, unsigned char **bytes, size_t *len, xs_err *err);
/* Every rank learns whether any rank failed: the worst result (collective). */
xs_result xs_mpi_agree(MPI_Comm comm, xs_result mine, xs_err *err);

/* Sleeps a little longer each call while nothing happens (reset *idle to 0
 * on progress): spins first, then yields, then sleeps up to 1 ms, so an idle
 * rank leaves the cores to the ranks that render. */
void xs_backoff(int *idle);
/* xs_backoff's step without acting on it: 0 spin, -1 yield, else the
 * nanoseconds to sleep (for a caller that has something better to wait on). */
long xs_backoff_step(int *idle);

#ifdef __cplusplus
}
#endif
#endif
