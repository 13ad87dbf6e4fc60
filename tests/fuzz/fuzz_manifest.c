/* libFuzzer target: manifest.json parsing (io/manifest.c). */
#include "io/xs_manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xs_manifest m;
    xs_err e;
    xs_manifest_parse("fuzz.json", (const char *)data, size, &m, &e);
    return 0;
}
