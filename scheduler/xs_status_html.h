/* `xisuan status OUT/JOB --html FILE`: one self-contained page a wrangler
 * opens from shared storage: the job's progress, its timeline and tile map
 * (inline SVG), per-rank figures, the failures, and each finished frame's
 * preview.
 *
 * Self-contained: inline CSS, no script, no URL of any kind (the SVG is
 * written without its namespace URL, which HTML does not need), previews
 * embedded as data: URIs; a Content-Security-Policy that forbids loading
 * anything but data: images and the inline style keeps it so. Previews wider
 * than XS_HTML_THUMB_WIDTH are box-filtered down to it; once the embedded
 * images reach XS_HTML_EMBED_CAP bytes the rest are named, not embedded,
 * and the page says so. Every text taken from the job's files (job name,
 * settings, error messages, paths) is escaped for HTML. Written atomically.
 */
#ifndef XS_STATUS_HTML_H
#define XS_STATUS_HTML_H

#include "io/xs_result.h"
#include "scheduler/xs_job_log.h"
#include "scheduler/xs_timeline.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { XS_HTML_THUMB_WIDTH = 640, XS_HTML_EMBED_CAP = 16 << 20 };

/* Writes the page for the job in job_dir (its status st and the last run's
 * timeline tl, already read) to path. */
xs_result xs_status_html_write(const char *path, const char *job_dir, const xs_job_log *st,
                               const xs_timeline *tl, xs_err *err);

#ifdef __cplusplus
}
#endif
#endif
