/* `xisuan submit SCENE|JOB.json --nodes N --time T ...`: writes an sbatch script
 * for the job (requeue on, SIGUSR1 to the batch shell before the time limit,
 * CPU and GPU binding, launch with `srun --mpi=pmix` or `mpirun`) into the job's
 * output folder and submits it with sbatch (unless --dry-run). The script
 * forwards the signal to xisuan, which drains and exits 75; the script then
 * requeues the job, and the requeued run resumes from the journal. */
#include "scheduler/cmd/xs_cmd.h"

#include "io/xs_file.h"
#include "scheduler/xs_options.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void submit_usage(FILE *f)
{
    fputs("usage: xisuan submit SCENE|JOB.json --nodes N --time T [flags] [-- render flags]\n"
          "\n"
          "Writes OUT/JOB/xisuan-JOB.sbatch and submits it with sbatch. On SIGUSR1 (sent 120 s\n"
          "before the time limit) or SIGTERM the job drains and requeues itself; the requeued\n"
          "run resumes from the journal.\n"
          "\n"
          "  --nodes N            nodes [1]\n"
          "  --gpus-per-node G    GPUs per node; one worker rank per GPU [0: a CPU job]\n"
          "  --ranks-per-node R   worker ranks per node for a CPU job [1]\n"
          "  --cpus-per-rank C    cores per worker rank [8 for GPU ranks, all a node has / R\n"
          "                       otherwise: left to Slurm when 0] [0]\n"
          "  --time T             time limit, as Slurm takes it (e.g. 4:00:00) [required]\n"
          "  --partition P        partition [the cluster's default]\n"
          "  --account A          account to charge\n"
          "  --launcher L         srun (srun --mpi=pmix) or mpirun [srun]\n"
          "  --signal-lead S      seconds before the limit for the drain signal [120]\n"
          "  --out DIR, --job NAME  as for render (a job file gives them otherwise)\n"
          "  --xisuan PATH        the xisuan the job runs [this one]\n"
          "  --dry-run            write and print the script, do not submit\n"
          "  -- FLAGS             passed to xisuan render as they are\n",
          f);
}

static xs_result abs_path(const char *p, char *out, size_t n, xs_err *err)
{
    if (p[0] == '/') {
        snprintf(out, n, "%s", p);
        return XS_OK;
    }
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return xs_err_set(err, XS_ERR_IO, "cannot read the current directory: %s", strerror(errno));
    int k = snprintf(out, n, "%s/%s", cwd, p);
    if (k < 0 || (size_t)k >= n)
        return xs_err_set(err, XS_ERR_INVALID, "%s: path too long", p);
    return XS_OK;
}

/* Slurm's time formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S */
static bool slurm_time_ok(const char *t)
{
    if (!*t || strlen(t) > 16)
        return false;
    for (const char *p = t; *p; ++p)
        if (!((*p >= '0' && *p <= '9') || *p == ':' || *p == '-'))
            return false;
    return t[0] != ':' && t[0] != '-';
}

static bool word_ok(const char *s)
{
    for (const char *p = s; *p; ++p)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.' || *p == ','))
            return false;
    return *s != '\0';
}

/* A shell word in single quotes. */
static void shq(FILE *f, const char *s)
{
    fputc('\'', f);
    for (const char *p = s; *p; ++p) {
        if (*p == '\'')
            fputs("'\\''", f);
        else
            fputc(*p, f);
    }
    fputc('\'', f);
}

int xs_submit_main(int argc, char **argv, const char *self)
{
    int nodes = 1, gpus = 0, rpn = 1, cpus = 0, lead = 120;
    const char *time_limit = NULL, *partition = NULL, *account = NULL, *launcher = "srun";
    const char *input = NULL, *out = NULL, *job = NULL, *xisuan = self;
    bool dry = false;
    int extra_at = argc;
    for (int i = 0; i < argc; ++i) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n = 0;
        char *end = NULL;
#define NUM(lo, hi, dst)                                                                       \
    do {                                                                                       \
        if (!v || (n = strtol(v, &end, 10), *end) || n < (lo) || n > (hi)) {                   \
            fprintf(stderr, "xisuan submit: error: %s: must be an integer in [%d, %d]\n", a,    \
                    (lo), (hi));                                                               \
            return 2;                                                                          \
        }                                                                                      \
        (dst) = (int)n;                                                                        \
        ++i;                                                                                   \
    } while (0)
        if (strcmp(a, "--") == 0) {
            extra_at = i + 1;
            break;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            submit_usage(stdout);
            return 0;
        } else if (strcmp(a, "--nodes") == 0) {
            NUM(1, 100000, nodes);
        } else if (strcmp(a, "--gpus-per-node") == 0) {
            NUM(0, 64, gpus);
        } else if (strcmp(a, "--ranks-per-node") == 0) {
            NUM(1, 4096, rpn);
        } else if (strcmp(a, "--cpus-per-rank") == 0) {
            NUM(0, 4096, cpus);
        } else if (strcmp(a, "--signal-lead") == 0) {
            NUM(10, 65535, lead);
        } else if (strcmp(a, "--dry-run") == 0) {
            dry = true;
        } else if (v && (strcmp(a, "--time") == 0 || strcmp(a, "--partition") == 0 ||
                         strcmp(a, "--account") == 0 || strcmp(a, "--launcher") == 0 ||
                         strcmp(a, "--out") == 0 || strcmp(a, "--job") == 0 ||
                         strcmp(a, "--xisuan") == 0)) {
            const char **dst = a[2] == 't' ? &time_limit : a[2] == 'p' ? &partition
                             : a[2] == 'a' ? &account : a[2] == 'l' ? &launcher
                             : a[2] == 'o' ? &out : a[2] == 'j' ? &job : &xisuan;
            *dst = v;
            ++i;
        } else if (a[0] != '-' && !input) {
            input = a;
        } else {
            fprintf(stderr, "xisuan submit: error: unexpected argument '%s' (see --help)\n", a);
            return 2;
        }
#undef NUM
    }
    if (!input) {
        fprintf(stderr, "xisuan submit: error: which scene or job file? (see --help)\n");
        return 2;
    }
    if (!time_limit || !slurm_time_ok(time_limit)) {
        fprintf(stderr, "xisuan submit: error: --time: give the limit as Slurm takes it (e.g. "
                        "4:00:00 or 2-00:00:00), got '%s'\n", time_limit ? time_limit : "");
        return 2;
    }
    if (strcmp(launcher, "srun") != 0 && strcmp(launcher, "mpirun") != 0) {
        fprintf(stderr, "xisuan submit: error: --launcher: must be srun or mpirun, got '%s'\n", launcher);
        return 2;
    }
    if ((partition && !word_ok(partition)) || (account && !word_ok(account))) {
        fprintf(stderr, "xisuan submit: error: --partition and --account take plain names\n");
        return 2;
    }
    /* the options the job will run with: from the job file, then our flags */
    xs_options o;
    xs_options_defaults(&o);
    xs_err err;
    xs_err_clear(&err);
    char in_abs[XS_PATH_MAX], exe_abs[XS_PATH_MAX];
    if (xisuan == self) { /* this executable, wherever PATH found it */
        ssize_t k = readlink("/proc/self/exe", exe_abs, sizeof exe_abs - 1);
        if (k > 0) {
            exe_abs[k] = '\0';
            xisuan = exe_abs;
        }
    }
    if (abs_path(input, in_abs, sizeof in_abs, &err) != XS_OK ||
        (xisuan != exe_abs && abs_path(xisuan, exe_abs, sizeof exe_abs, &err) != XS_OK)) {
        fprintf(stderr, "xisuan submit: error: %s\n", err.msg);
        return 2;
    }
    size_t il = strlen(in_abs);
    bool is_job = il > 5 && strcmp(in_abs + il - 5, ".json") == 0;
    if (is_job) {
        unsigned char *text = NULL;
        size_t tl = 0;
        char dir[XS_PATH_MAX];
        snprintf(dir, sizeof dir, "%.*s", (int)(strrchr(in_abs, '/') - in_abs), in_abs);
        if (xs_file_read_all(in_abs, 1u << 20, &text, &tl, &err) != XS_OK ||
            xs_options_apply_job(&o, in_abs, dir, (const char *)text, tl, &err) != XS_OK) {
            free(text);
            fprintf(stderr, "xisuan submit: error: %s\n", err.msg);
            return 2;
        }
        free(text);
    }
    char *pargv[8];
    int pargc = 0;
    pargv[pargc++] = in_abs;
    if (out) {
        pargv[pargc++] = (char *)"--out";
        pargv[pargc++] = (char *)out;
    }
    if (job) {
        pargv[pargc++] = (char *)"--job";
        pargv[pargc++] = (char *)job;
    }
    if (xs_options_parse(pargc, pargv, &o, &err) != XS_OK) {
        fprintf(stderr, "xisuan submit: error: %s\n", err.msg);
        return 2;
    }
    char out_abs[XS_PATH_MAX], jobdir[XS_PATH_MAX + 80], script[XS_PATH_MAX + 200];
    if (abs_path(o.out_dir, out_abs, sizeof out_abs, &err) != XS_OK) {
        fprintf(stderr, "xisuan submit: error: %s\n", err.msg);
        return 2;
    }
    snprintf(jobdir, sizeof jobdir, "%s/%s", out_abs, o.job);
    snprintf(script, sizeof script, "%s/xisuan-%s.sbatch", jobdir, o.job);
    if (xs_check_writable_dir(jobdir, &err) != XS_OK) {
        fprintf(stderr, "xisuan submit: error: %s\n", err.msg);
        return 2;
    }
    const int workers_per_node = gpus > 0 ? gpus : rpn;
    const int ntasks = nodes * workers_per_node + 1; /* + rank 0, the scheduler */
    const int cpt = cpus > 0 ? cpus : (gpus > 0 ? 8 : 0);

    char tmp[XS_PATH_MAX + 260];
    if (xs_tmp_path(script, tmp, sizeof tmp, &err) != XS_OK) {
        fprintf(stderr, "xisuan submit: error: %s\n", err.msg);
        return 2;
    }
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "xisuan submit: error: %s: %s\n", script, strerror(errno));
        return 1;
    }
    fprintf(f, "#!/bin/bash\n"
               "# xisuan render job '%s', written by `xisuan submit`.\n"
               "# %d node(s), %d worker rank(s) per node%s, plus rank 0 (the scheduler).\n",
            o.job, nodes, workers_per_node, gpus > 0 ? " (one per GPU)" : "");
    fprintf(f, "#SBATCH --job-name=xs-%s\n", o.job);
    fprintf(f, "#SBATCH --nodes=%d\n", nodes);
    fprintf(f, "#SBATCH --ntasks=%d\n", ntasks);
    if (cpt > 0)
        fprintf(f, "#SBATCH --cpus-per-task=%d\n", cpt);
    if (gpus > 0)
        fprintf(f, "#SBATCH --gpus-per-node=%d\n", gpus);
    fprintf(f, "#SBATCH --time=%s\n", time_limit);
    if (partition)
        fprintf(f, "#SBATCH --partition=%s\n", partition);
    if (account)
        fprintf(f, "#SBATCH --account=%s\n", account);
    fprintf(f, "#SBATCH --requeue\n"
               "#   ^ Slurm may requeue the job (preemption, a node failure); the script requeues\n"
               "#     it itself after a drain. Every run resumes from OUT/JOB/journal.\n"
               "#SBATCH --signal=B:USR1@%d\n"
               "#   ^ %d s before the time limit the batch shell gets SIGUSR1 and forwards it.\n"
               "#SBATCH --open-mode=append\n"
               "#SBATCH --output=%s/slurm-%%j.log\n\n",
            lead, lead, jobdir);
    fprintf(f, "set -u\n"
               "# ranks that outnumber cores must yield while they wait, or they starve each other\n"
               "export OMPI_MCA_mpi_yield_when_idle=1\n"
               "# GPUs in PCI bus order, as Slurm's CUDA_VISIBLE_DEVICES lists them\n"
               "export CUDA_DEVICE_ORDER=PCI_BUS_ID\n"
               "echo \"xisuan-submit: run ${SLURM_RESTART_COUNT:-0} of job $SLURM_JOB_ID on "
               "$SLURM_JOB_NODELIST ($(date))\"\n\n");
    if (strcmp(launcher, "srun") == 0)
        fprintf(f, "# srun starts the ranks through PMIx and binds each to its cores\n"
                   "srun --mpi=pmix --cpu-bind=cores --kill-on-bad-exit=1 \\\n    ");
    else if (cpt > 0)
        fprintf(f, "# mpirun inside the allocation (Open MPI reads it from Slurm), %d cores a rank\n"
                   "mpirun -n %d --map-by slot:PE=%d --bind-to core \\\n    ", cpt, ntasks, cpt);
    else
        fprintf(f, "# mpirun inside the allocation (Open MPI reads it from Slurm); unbound: each\n"
                   "# worker renders with its share of the node's cores\n"
                   "mpirun -n %d --bind-to none \\\n    ", ntasks);
    shq(f, exe_abs);
    fputs(" render ", f);
    shq(f, in_abs);
    fputs(" --out ", f);
    shq(f, out_abs);
    fputs(" --job ", f);
    shq(f, o.job);
    fputs(" --progress plain", f);
    for (int i = extra_at; i < argc; ++i) {
        fputc(' ', f);
        shq(f, argv[i]);
    }
    fputs(" &\nchild=$!\n"
          "# a drain: forward the signal; xisuan stops handing out work, waits for tiles in\n"
          "# flight, flushes the journal and exits 75\n"
          "forward() { echo \"xisuan-submit: signal: asking xisuan to drain\"; kill -USR1 \"$child\" 2>/dev/null; }\n"
          "trap forward USR1 TERM\n"
          "while :; do\n"
          "    wait \"$child\"; rc=$?\n"
          "    kill -0 \"$child\" 2>/dev/null || break   # wait returns early when a signal arrives\n"
          "done\n"
          "echo \"xisuan-submit: xisuan exited $rc ($(date))\"\n"
          "if [ \"$rc\" -eq 75 ]; then\n"
          "    echo \"xisuan-submit: drained; requeueing job $SLURM_JOB_ID (the next run resumes)\"\n"
          "    scontrol requeue \"$SLURM_JOB_ID\"\n"
          "    exit 0\n"
          "fi\n"
          "exit \"$rc\"\n",
          f);
    if (fclose(f) != 0) {
        fprintf(stderr, "xisuan submit: error: %s: %s\n", script, strerror(errno));
        unlink(tmp);
        return 1;
    }
    if (xs_commit_file(tmp, script, &err) != XS_OK) {
        fprintf(stderr, "xisuan submit: error: %s\n", err.msg);
        return 1;
    }
    printf("xisuan submit: wrote %s\n", script);
    if (dry) {
        FILE *r = fopen(script, "r");
        char line[1024];
        while (r && fgets(line, sizeof line, r))
            fputs(line, stdout);
        if (r)
            fclose(r);
        return 0;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execlp("sbatch", "sbatch", "--parsable", script, (char *)NULL);
        fprintf(stderr, "xisuan submit: error: cannot run sbatch: %s\n", strerror(errno));
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "xisuan submit: error: sbatch failed (exit %d); the script is %s\n",
                WIFEXITED(st) ? WEXITSTATUS(st) : -1, script);
        return 1;
    }
    return 0;
}
