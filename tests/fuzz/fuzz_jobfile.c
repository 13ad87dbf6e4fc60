/* libFuzzer target: JSON job files (scheduler/job_file.c) on fresh options:
 * strict parsing, every field's range checks, the limits object. */
#include "scheduler/xs_options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static xs_options o; /* 50 KB: not on the stack */
    xs_options_defaults(&o);
    xs_err e;
    xs_options_apply_job(&o, "fuzz.json", "/nonexistent", (const char *)data, size, &e);
    return 0;
}
