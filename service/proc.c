/* Running another program (see xs_proc.h). */
#define _GNU_SOURCE /* pipe2: the pipe is close-on-exec from birth, unseen by other threads' children */
#include "service/xs_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

xs_result xs_proc_run(char *const argv[], double timeout_s, xs_proc_result *res, xs_err *err)
{
    res->status = -1;
    res->timed_out = false;
    res->len = 0;
    res->out[0] = '\0';
    int fd[2];
    if (pipe2(fd, O_CLOEXEC) != 0)
        return xs_err_set(err, XS_ERR_IO, "%s: pipe: %s", argv[0], strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fd[1], 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    /* its own process group, so a time-out kills what it started too */
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&at, 0);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    pid_t pid = 0;
    int rc = strchr(argv[0], '/') ? posix_spawn(&pid, argv[0], &fa, &at, argv, environ)
                                  : posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(fd[1]);
    if (rc != 0) {
        close(fd[0]);
        return xs_err_set(err, XS_ERR_IO, "%s: cannot start: %s", argv[0], strerror(rc));
    }
    const double deadline = mono() + timeout_s;
    bool open_pipe = true;
    while (open_pipe) {
        double left = deadline - mono();
        if (left <= 0) {
            res->timed_out = true;
            kill(-pid, SIGKILL);
            break;
        }
        struct pollfd p = {.fd = fd[0], .events = POLLIN};
        int k = poll(&p, 1, (int)(left * 1000) + 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            continue;
        char buf[4096];
        ssize_t got = read(fd[0], buf, sizeof buf);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            open_pipe = false;
            break;
        }
        size_t room = sizeof res->out - 1 - res->len;
        size_t take = (size_t)got < room ? (size_t)got : room;
        memcpy(res->out + res->len, buf, take);
        res->len += take;
        res->out[res->len] = '\0';
    }
    close(fd[0]);
    int st = 0;
    for (;;) {
        pid_t w = waitpid(pid, &st, res->timed_out ? 0 : WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            break;
        if (w == 0) { /* output closed but still running: wait out the deadline */
            if (mono() > deadline) {
                res->timed_out = true;
                kill(-pid, SIGKILL);
            } else {
                struct timespec ts = {0, 20 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
        }
    }
    res->status = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
    return XS_OK;
}
