/* An output folder's lock: one job writes a folder at a time.
 *
 * An advisory POSIX record lock (fcntl F_SETLK, which NFS and Lustre pass to
 * their lock servers) on a lock file, held for as long as the lock object
 * lives and released by the kernel when the holder dies, so a killed job
 * never blocks the next one. The holder writes its host, pid and start time
 * into the file; a second starter is refused at once with them.
 */
#ifndef XS_LOCK_H
#define XS_LOCK_H

#include "io/xs_result.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xs_lock xs_lock;

/* Takes the lock on path (created when missing). Refused (XS_ERR_INVALID)
 * while another process holds it: the message names path and the holder
 * ("host, pid, since"). */
xs_result xs_lock_acquire(const char *path, xs_lock **out, xs_err *err);
void xs_lock_release(xs_lock *lock); /* accepts NULL */

#ifdef __cplusplus
}
#endif
#endif
