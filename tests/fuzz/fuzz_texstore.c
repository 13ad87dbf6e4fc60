/* libFuzzer target: the page store at the end of a package (io/texpage.c):
 * the footer, the index and every page (at most 4096) read and checked, as
 * `xisuan pack --check` does with an upload. The bytes go to a temporary
 * file: a store is read from its file with pread. */
#include "io/xs_texpage.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/xs-fuzz-texstore-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        unlink(path);
        return 0;
    }
    close(fd);
    xs_texstore *s = NULL;
    xs_err e;
    if (xs_texstore_open(path, &s, &e) == XS_OK) {
        static uint32_t texels[XS_TEXPAGE_TEXELS];
        for (uint64_t p = 0; p < s->page_count && p < 4096; ++p)
            xs_texstore_read(s, p, texels, NULL, NULL, &e);
        for (uint32_t i = 0; i < s->image_count; ++i)
            (void)xs_texstore_find(s, s->images[i].image);
    }
    xs_texstore_close(s);
    unlink(path);
    return 0;
}
