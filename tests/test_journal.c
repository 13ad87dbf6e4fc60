/* The journal (io/journal.c): what a rerun reads back. Records of any length
 * load; a file without a whole header is a new job, not another job's; a
 * different header is refused unless forced; tile and frame records (with the
 * frame file's size and checksum) come back as written; a torn last line is
 * ignored. */
#include "io/xs_journal.h"
#include "test_util.h"
#include <time.h>
#include <sys/wait.h>
#include <signal.h>

#include <stdio.h>
#include <unistd.h>

static char g_path[600];
static const int frames[3] = {1, 2, 7};

static void set_path(const char *name)
{
    snprintf(g_path, sizeof g_path, "%s/%s", getenv("XS_TEST_TMP") ? getenv("XS_TEST_TMP") : "/tmp",
             name);
    unlink(g_path);
}

static xs_journal *open_j(const char *settings, bool force, xs_err *e)
{
    xs_journal *j = NULL;
    xs_err_clear(e);
    xs_journal_open(g_path, 0x1234, settings, force, frames, 3, 4, &j, e);
    return j;
}

static void write_text(const char *text)
{
    FILE *f = fopen(g_path, "w");
    CHECK(f != NULL);
    fputs(text, f);
    fclose(f);
}

static void test_records_round_trip(void)
{
    set_path("journal_rt");
    xs_err e;
    xs_journal *j = open_j("spp=2", false, &e);
    CHECK_MSG(j != NULL, "%s", e.msg);
    CHECK(!xs_journal_resumed(j));
    CHECK(xs_journal_commit_tile(j, 2, 3, 0xabcdef0123456789ull, &e) == XS_OK);
    CHECK(xs_journal_commit_frame(j, 7, 123456789012ull, 0x0fedcba987654321ull, &e) == XS_OK);
    xs_journal_close(j);
    j = open_j("spp=2", false, &e);
    CHECK_MSG(j != NULL, "%s", e.msg);
    CHECK(xs_journal_resumed(j));
    CHECK(xs_journal_tile_hash(j, 1, 3) == 0xabcdef0123456789ull);
    CHECK(xs_journal_tile_hash(j, 1, 2) == 0);
    uint64_t size = 0, hash = 0;
    CHECK(xs_journal_frame_assembled(j, 2, &size, &hash));
    CHECK_MSG(size == 123456789012ull && hash == 0x0fedcba987654321ull, "frame record %llu %llx",
              (unsigned long long)size, (unsigned long long)hash);
    CHECK(!xs_journal_frame_assembled(j, 0, &size, &hash));
    xs_journal_close(j);
}

/* A record longer than any buffer must not end the load: what follows it
 * still resumes. */
static void test_long_record(void)
{
    set_path("journal_long");
    xs_err e;
    xs_journal *j = open_j("spp=2", false, &e);
    CHECK(j != NULL);
    xs_journal_close(j);
    FILE *f = fopen(g_path, "a");
    CHECK(f != NULL);
    fputs("N ", f);
    for (int i = 0; i < 5000; ++i)
        fputc('x', f);
    fputs("\nT 1 2 00000000000000aa\nF 1 10 00000000000000bb\n", f);
    fclose(f);
    j = open_j("spp=2", false, &e);
    CHECK_MSG(j != NULL, "%s", e.msg);
    CHECK(xs_journal_resumed(j));
    CHECK_MSG(xs_journal_tile_hash(j, 0, 2) == 0xaa, "the record after a long line was lost");
    CHECK(xs_journal_frame_assembled(j, 0, NULL, NULL));
    CHECK(xs_journal_loaded_tiles(j) == 1 && xs_journal_loaded_frames(j) == 1);
    xs_journal_close(j);
}

/* A header longer than 1200 bytes (long settings) still matches itself. */
static void test_long_header(void)
{
    set_path("journal_long_header");
    char settings[3000];
    memset(settings, 's', sizeof settings - 1);
    settings[sizeof settings - 1] = '\0';
    xs_err e;
    xs_journal *j = open_j(settings, false, &e);
    CHECK(j != NULL);
    CHECK(xs_journal_commit_tile(j, 1, 0, 5, &e) == XS_OK);
    xs_journal_close(j);
    j = open_j(settings, false, &e);
    CHECK_MSG(j != NULL && xs_journal_resumed(j), "a long header did not resume: %s", e.msg);
    xs_journal_close(j);
    settings[2990] = 't'; /* settings that differ past the first kilobytes */
    j = open_j(settings, false, &e);
    CHECK_MSG(j == NULL && strstr(e.msg, "holds another job"), "a different long header was taken: %s",
              e.msg);
}

/* Empty, torn-header and header-less files are a new job. */
static void test_headerless(void)
{
    const char *texts[] = {"", "xisuan-journal 1 key=00000000000012", "T 1 2 0000000000000001\n"};
    for (int i = 0; i < 3; ++i) {
        set_path("journal_headerless");
        write_text(texts[i]);
        xs_err e;
        xs_journal *j = open_j("spp=2", false, &e);
        CHECK_MSG(j != NULL, "case %d: %s", i, e.msg);
        if (!j)
            continue;
        CHECK(!xs_journal_resumed(j));
        CHECK(xs_journal_tile_hash(j, 0, 2) == 0);
        xs_journal_close(j);
        /* and it now holds a whole header: the next open resumes */
        j = open_j("spp=2", false, &e);
        CHECK(j != NULL && xs_journal_resumed(j));
        xs_journal_close(j);
    }
}

/* Another job's journal: refused, both settings named; --force moves it aside. */
static void test_other_job(void)
{
    set_path("journal_other");
    xs_err e;
    xs_journal *j = open_j("spp=2 tile=64", false, &e);
    CHECK(j != NULL);
    CHECK(xs_journal_commit_tile(j, 1, 1, 9, &e) == XS_OK);
    xs_journal_close(j);
    j = open_j("spp=8 tile=64", false, &e);
    CHECK(j == NULL);
    CHECK_MSG(strstr(e.msg, "spp=2 tile=64") && strstr(e.msg, "spp=8 tile=64") &&
                  strstr(e.msg, "--force"), "%s", e.msg);
    j = open_j("spp=8 tile=64", true, &e);
    CHECK_MSG(j != NULL && !xs_journal_resumed(j), "--force: %s", e.msg);
    CHECK(xs_journal_tile_hash(j, 0, 1) == 0);
    xs_journal_close(j);
    char old[700];
    snprintf(old, sizeof old, "%s.old-1", g_path);
    CHECK_MSG(access(old, F_OK) == 0, "the other job's journal was not kept as %s", old);
    unlink(old);
}

/* A torn last record (a kill mid-write) is ignored; the next record starts
 * on its own line. */
static void test_torn_tail(void)
{
    set_path("journal_torn");
    xs_err e;
    xs_journal *j = open_j("spp=2", false, &e);
    CHECK(j != NULL);
    xs_journal_close(j);
    FILE *f = fopen(g_path, "a");
    fputs("T 1 0 00000000000000aa\nT 1 1 0000", f);
    fclose(f);
    j = open_j("spp=2", false, &e);
    CHECK(j != NULL && xs_journal_resumed(j));
    CHECK(xs_journal_tile_hash(j, 0, 0) == 0xaa && xs_journal_tile_hash(j, 0, 1) == 0);
    CHECK(xs_journal_commit_tile(j, 1, 3, 0xcc, &e) == XS_OK);
    xs_journal_close(j);
    j = open_j("spp=2", false, &e);
    CHECK(j != NULL && xs_journal_tile_hash(j, 0, 3) == 0xcc);
    xs_journal_close(j);
}

/* Group commit under SIGKILL: a record whose batch was written survives a
 * kill of the process (the tile it names was durable before it was
 * committed); a record still buffered in memory is lost, so the rerun finds
 * that tile uncommitted and renders it again; nothing written is lost and
 * the file holds no torn line. The child's journal syncs slowly
 * (XS_TEST_FSYNC_DELAY_MS), so the kill lands while the first batch is being
 * made durable and the second record waits in memory. */
static void test_kill_before_durable(void)
{
    set_path("journal_kill");
    xs_err e;
    xs_journal *j = open_j("spp=2", false, &e);
    CHECK(j != NULL);
    xs_journal_close(j);
    int ready[2];
    CHECK(pipe(ready) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("XS_TEST_FSYNC_DELAY_MS", "5000", 1);
        xs_err ce;
        xs_journal *cj = open_j("spp=2", false, &ce);
        if (!cj)
            _exit(3);
        xs_journal_commit_tile(cj, 1, 0, 0xa1, &ce); /* batch 1: written, then a 5 s sync */
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL); /* the writer took batch 1 and sleeps in its sync */
        xs_journal_commit_tile(cj, 1, 1, 0xa2, &ce); /* buffered behind it */
        if (write(ready[1], "x", 1) != 1)
            _exit(4);
        for (;;)
            pause();
    }
    CHECK(pid > 0);
    char c;
    CHECK(read(ready[0], &c, 1) == 1);
    kill(pid, SIGKILL);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    close(ready[0]);
    close(ready[1]);
    j = open_j("spp=2", false, &e);
    CHECK(j != NULL && xs_journal_resumed(j));
    CHECK_MSG(xs_journal_tile_hash(j, 0, 0) == 0xa1, "the written record was lost");
    CHECK_MSG(xs_journal_tile_hash(j, 0, 1) == 0, "a record never written survived the kill");
    CHECK(xs_journal_commit_tile(j, 1, 1, 0xa2, &e) == XS_OK); /* the rerun commits it again */
    xs_journal_close(j);
    j = open_j("spp=2", false, &e);
    CHECK(j != NULL && xs_journal_tile_hash(j, 0, 1) == 0xa2 && xs_journal_loaded_tiles(j) == 2);
    xs_journal_close(j);
}

int main(int argc, char **argv)
{
    static const xs_test_case cases[] = {
        {"records_round_trip", test_records_round_trip},
        {"long_record", test_long_record},
        {"long_header", test_long_header},
        {"headerless", test_headerless},
        {"other_job", test_other_job},
        {"torn_tail", test_torn_tail},
        {"kill_before_durable", test_kill_before_durable},
    };
    return xs_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
