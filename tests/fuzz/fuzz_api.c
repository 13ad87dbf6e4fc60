/* libFuzzer target: the service's request parsing that is ours
 * (service/api.c, service/token.c): routes, the JSON bodies of uploads, jobs
 * (and the job file built from them, checked as a render checks it) and
 * leases, Range and number headers, Slurm time limits, tokens. Every parser
 * sees every input. */
#include <stdlib.h>
#include <string.h>

#include "service/xs_api.h"
#include "service/xs_token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 17)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    xs_err err;
    /* "METHOD URL" */
    char method[16] = "GET";
    const char *url = text;
    const char *sp = memchr(text, ' ', size < 15 ? size : 15);
    if (sp) {
        memcpy(method, text, (size_t)(sp - text));
        method[sp - text] = '\0';
        url = sp + 1;
    }
    xs_route r;
    xs_api_route(method, url, &r);
    xs_upload_request u;
    xs_api_upload_request(text, size, &u, &err);
    xs_job_request j;
    if (xs_api_job_request(text, size, "1:00:00", &j, &err) == XS_OK) {
        char *file = NULL;
        if (xs_api_job_file(text, size, &j, "/spool/p.tar.zst", "/spool/out", j.frames, &file, &err) == XS_OK)
            free(file);
    }
    xs_lease_request l;
    xs_api_lease_request(text, size, &l, &err);
    char why[256];
    xs_api_lease_end(text, size, why, sizeof why, &err);
    int64_t start = 0, count = 0, v = 0;
    xs_api_range(text, (int64_t)size * 7919, &start, &count);
    xs_api_uint(text, INT64_MAX / 2, &v);
    double t = 0;
    xs_api_slurm_time(text, &t);
    const char *secret = NULL;
    xs_token_parse(text, &v, &secret);
    static int frames[XS_API_FRAMES_MAX];
    int n = 0;
    xs_api_frames(text, frames, &n, &err);
    free(text);
    return 0;
}
