/* Replays saved fuzz inputs through a fuzz target under plain ctest (and
 * under ASan/UBSan in the sanitizer build): every regular file under the
 * given files and folders, optionally only names ending in one of the
 * --ext suffixes. Exits 0 when every input ran (a crash fails the test) and
 * there were at least --min N of them (default 1): a missing folder (a
 * "not found" path) or a corpus that shrank fails instead of passing on
 * fewer inputs. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *exts[8];
static int nexts, ran;

static int wanted(const char *name)
{
    if (nexts == 0)
        return 1;
    size_t n = strlen(name);
    for (int i = 0; i < nexts; ++i) {
        size_t k = strlen(exts[i]);
        if (n >= k && strcmp(name + n - k, exts[i]) == 0)
            return 1;
    }
    return 0;
}

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, got);
    free(buf);
    ran++;
    return 0;
}

static int walk(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: not found\n", path);
        return 1;
    }
    if (S_ISREG(st.st_mode))
        return wanted(path) ? run_file(path) : 0;
    DIR *d = opendir(path);
    if (!d)
        return 1;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
        rc |= walk(sub);
    }
    closedir(d);
    return rc;
}

int main(int argc, char **argv)
{
    /* options first, so --ext filters every path whatever the order */
    long min_inputs = 1;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--ext") == 0 && i + 1 < argc && nexts < 8)
            exts[nexts++] = argv[++i];
        else if (strcmp(argv[i], "--min") == 0 && i + 1 < argc)
            min_inputs = strtol(argv[++i], NULL, 10);
    }
    int rc = 0;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--ext") == 0 || strcmp(argv[i], "--min") == 0) {
            ++i;
            continue;
        }
        rc |= walk(argv[i]);
    }
    printf("replayed %d inputs (at least %ld expected)\n", ran, min_inputs);
    if (ran < min_inputs) {
        fprintf(stderr, "replay: %d inputs, fewer than the %ld expected: a corpus folder is missing or "
                "shrank (the glTF one reads Debian's assimp-testmodels: scripts/deps.sh)\n", ran,
                min_inputs);
        return 1;
    }
    return rc != 0;
}
