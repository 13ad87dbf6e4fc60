/* A minimal test harness: CHECK prints the failing expression with its place
 * and marks the test failed; each test binary runs one named case per call so
 * ctest lists every case on its own. */
#ifndef XS_TEST_UTIL_H
#define XS_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int xs_test_failures;

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);           \
            xs_test_failures++;                                                                \
        }                                                                                      \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                   \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);           \
            fprintf(stderr, __VA_ARGS__);                                                      \
            fputc('\n', stderr);                                                               \
            xs_test_failures++;                                                                \
        }                                                                                      \
    } while (0)

typedef struct xs_test_case {
    const char *name;
    void (*fn)(void);
} xs_test_case;

/* Runs the case named argv[1] (or all cases when none is named). */
static int xs_test_main(int argc, char **argv, const xs_test_case *cases, size_t n)
{
    int ran = 0;
    for (size_t i = 0; i < n; ++i) {
        if (argc > 1 && strcmp(argv[1], cases[i].name) != 0)
            continue;
        int before = xs_test_failures;
        cases[i].fn();
        printf("%s: %s\n", cases[i].name, xs_test_failures == before ? "ok" : "FAILED");
        ran++;
    }
    if (ran == 0) {
        fprintf(stderr, "no test case named '%s'\n", argc > 1 ? argv[1] : "");
        return 2;
    }
    return xs_test_failures ? 1 : 0;
}

#endif
