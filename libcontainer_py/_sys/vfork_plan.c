/* exec's child without forking the caller: lc_vfork_plan (Python side: init/vspawn.py).

   A fork copies the caller's page tables (a Python process of 10-30 MB), and the child then runs
   Python, whose every write to a shared page copies that page, until execve throws it all away:
   ~4 ms of a `pyrunc exec` of `true` here. posix_spawn's way avoids all of it: a child that shares
   our memory (CLONE_VM) while we wait (CLONE_VFORK), runs on a stack of its own, makes only raw
   system calls, and ends in execve or _exit. Python decides everything beforehand: the child runs
   the plan's steps (struct lc_op) in order, and on the first that fails it writes the step's index
   and errno into the plan (our memory: we read them when it has gone) and exits with 127.

   Rules for the child, as for glibc's posix_spawn child: no malloc, no stdio, no lock, nothing that
   glibc's multi-thread bookkeeping would act on (its setuid family broadcasts to every thread of
   the caller: raw syscall(2) here). It must never return from the function clone3 started it in.
   Every signal stays blocked from before the clone until the last step, and the first thing the
   child does is set each signal with a handler to SIG_DFL: a handler of the caller's would run on
   the child's stack over the caller's memory. errno is the suspended calling thread's (the child
   has its TLS): written here, never read by the caller after a clone that succeeded. */

#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

/* The steps (struct lc_op.kind); init/vspawn.py builds them. */
#define LC_OP_DUP2 1   /* dup2(fd, a) */
#define LC_OP_WRITE 2   /* write(fd, data, len) (a cgroup v1 `tasks` file: "0" names the writer) */
#define LC_OP_WRITE_AT 3   /* openat(fd, path, O_WRONLY), write(data, len), close */
#define LC_OP_CLOSE 4   /* close(fd) */
#define LC_OP_CLOSE_RANGE 5   /* close every fd from a to b */
#define LC_OP_SETNS 6   /* setns(fd, a) */
#define LC_OP_SETRESGID 7   /* setresgid(a, b, c) */
#define LC_OP_SETRESUID 8   /* setresuid(a, b, c) */
#define LC_OP_SETGROUPS 9   /* setgroups(len, data: gid_t[len]) */
#define LC_OP_PRLIMIT 10   /* prlimit(0, a, {b, c}) */
#define LC_OP_PRCTL 11   /* prctl(a, b, c, 0, 0) */
#define LC_OP_BOUNDING 12   /* PR_CAPBSET_DROP every capability 0..b not in the mask a */
#define LC_OP_CAPSET 13   /* capset v3: effective a, permitted b, inheritable c */
#define LC_OP_AMBIENT 14   /* clear the ambient set, then raise every capability 0..b in the mask a */
#define LC_OP_UMASK 15   /* umask(a) */
#define LC_OP_CHDIR 16   /* chdir(path) */
#define LC_OP_CHECK_CWD 17   /* getcwd must be a path (not "(unreachable)..."): ENOENT otherwise */
#define LC_OP_SECCOMP 18   /* seccomp(SET_MODE_FILTER, a, {len, data}) */
#define LC_OP_INHERIT 19   /* clear FD_CLOEXEC on every fd from a to b (--preserve-fds) */
#define LC_OP_STOP 20   /* SIGSTOP ourselves (a test's checkpoint, _faults.py) */
#define LC_OP_SET_NAME 21   /* prctl(PR_SET_NAME, path) */
#define LC_OP_EXEC 22   /* the last: signals back to default and unblocked, the program found, execve */

/* plan->failed of a child that ended before its execve, neither by a step that failed (a signal) */
#define LC_PLAN_UNFINISHED (-2)

/* How LC_OP_EXEC failed (plan->detail); the errno is in plan->err. */
#define LC_EXEC_NOT_IN_PATH 1   /* no candidate was an executable file */
#define LC_EXEC_NO_FILE 2       /* a path with a slash: it does not exist */
#define LC_EXEC_NO_ACCESS 3     /* a path with a slash: a directory, or not executable for us */
#define LC_EXEC_FAILED 4        /* execve of the candidate plan->candidate failed */

struct lc_op {
    int32_t kind;
    int32_t fd;
    uint64_t a, b, c;
    const char *path;
    const void *data;
    uint64_t len;
    const char *s2, *s3;   /* the init's steps (vfork_init.c): a mount's type and data, a symlink's target */
};

struct lc_plan {
    const struct lc_op *ops;
    int32_t nops;
    int32_t direct;                    /* LC_OP_EXEC: candidates[0] is the program itself (a slash in it) */
    const char *const *candidates;     /* LC_OP_EXEC: the paths to try, in PATH's order, NULL-terminated */
    char *const *argv;
    char *const *envp;
    int32_t failed;                    /* out: the index of the step that failed, -1 (execve called) or
                                          LC_PLAN_UNFINISHED (it ended before: a signal) */
    int32_t err;                       /* out: its errno */
    int32_t detail;                    /* out: LC_OP_EXEC's LC_EXEC_* */
    int32_t candidate;                 /* out: LC_OP_EXEC_FAILED: which candidate */
    uint64_t clone_flags;              /* namespaces the child is born in (CLONE_NEW*: the init's) */
};

struct lc_ksigaction { void *handler; unsigned long flags; void *restorer; uint64_t mask; };

#define LC_SYS(...) syscall(__VA_ARGS__)
#define LC_FAIL(plan, i, e) do { (plan)->failed = (i); (plan)->err = (e); goto fail; } while (0)

#include "vfork_init.c"

static int lc_write_all(int fd, const void *data, uint64_t len)
{
    const char *p = data;
    while (len > 0) {
        long n = LC_SYS(SYS_write, fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        p += n;
        len -= (uint64_t)n;
    }
    return 0;
}

/* The candidate as execvp would take it: it exists, is not a directory and we may execute it. */
static int lc_executable(const char *path, int *why)
{
    struct stat st;
    if (LC_SYS(SYS_newfstatat, AT_FDCWD, path, &st, 0) < 0) {
        *why = LC_EXEC_NO_FILE;
        return 0;
    }
    if (S_ISDIR(st.st_mode) || LC_SYS(SYS_faccessat, AT_FDCWD, path, X_OK) < 0) {
        *why = LC_EXEC_NO_ACCESS;
        return 0;
    }
    return 1;
}

static int lc_plan_child(void *arg)
{
    struct lc_plan *plan = arg;
    struct lc_ksigaction dfl = { 0, 0, 0, 0 }, old;
    uint64_t none = 0;
    struct lc_init_ctx ctx = { 0 };
    int32_t i;

    /* Until it calls execve: a child that ends another way (a signal) left this, not -1. */
    plan->failed = LC_PLAN_UNFINISHED;
    /* The caller's handlers, first, while every signal is blocked. */
    for (int sig = 1; sig <= 64; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        if (LC_SYS(SYS_rt_sigaction, sig, NULL, &old, 8) == 0 && old.handler != SIG_DFL && old.handler != SIG_IGN)
            LC_SYS(SYS_rt_sigaction, sig, &dfl, NULL, 8);
    }
    for (i = 0; i < plan->nops; i++) {
        const struct lc_op *op = &plan->ops[i];
        long r = 0;
        switch (op->kind) {
        case LC_OP_DUP2:
            r = LC_SYS(SYS_dup2, op->fd, (int)op->a);
            break;
        case LC_OP_WRITE: {
            int e = lc_write_all(op->fd, op->data, op->len);
            if (e)
                LC_FAIL(plan, i, e);
            break;
        }
        case LC_OP_WRITE_AT: {
            int fd = (int)LC_SYS(SYS_openat, op->fd, op->path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
            int e;
            if (fd < 0)
                LC_FAIL(plan, i, errno);
            e = lc_write_all(fd, op->data, op->len);
            LC_SYS(SYS_close, fd);
            if (e)
                LC_FAIL(plan, i, e);
            break;
        }
        case LC_OP_CLOSE:
            LC_SYS(SYS_close, op->fd);
            break;
        case LC_OP_CLOSE_RANGE:
            if (op->a > op->b)
                break;
            if (LC_SYS(SYS_close_range, (unsigned int)op->a, (unsigned int)op->b, 0) < 0) {
                /* before Linux 5.9: one by one, up to the open-file limit's worth */
                struct rlimit lim;
                uint64_t last = op->b;
                if (errno != ENOSYS && errno != EINVAL)
                    LC_FAIL(plan, i, errno);
                if (LC_SYS(SYS_getrlimit, RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < last)
                    last = lim.rlim_cur;
                for (uint64_t fd = op->a; fd <= last; fd++)
                    LC_SYS(SYS_close, (int)fd);
            }
            break;
        case LC_OP_SETNS:
            r = LC_SYS(SYS_setns, op->fd, (int)op->a);
            break;
        case LC_OP_SETRESGID:
            r = LC_SYS(SYS_setresgid, (gid_t)op->a, (gid_t)op->b, (gid_t)op->c);
            break;
        case LC_OP_SETRESUID:
            r = LC_SYS(SYS_setresuid, (uid_t)op->a, (uid_t)op->b, (uid_t)op->c);
            break;
        case LC_OP_SETGROUPS:
            r = LC_SYS(SYS_setgroups, (size_t)op->len, op->data);
            break;
        case LC_OP_PRLIMIT: {
            struct rlimit lim = { (rlim_t)op->b, (rlim_t)op->c };
            r = LC_SYS(SYS_prlimit64, 0, (int)op->a, &lim, NULL);
            break;
        }
        case LC_OP_PRCTL:
            r = LC_SYS(SYS_prctl, (int)op->a, (unsigned long)op->b, (unsigned long)op->c, 0UL, 0UL);
            break;
        case LC_OP_BOUNDING:
            for (uint64_t cap = 0; cap <= op->b && cap < 64; cap++)
                if (!(op->a & (1ULL << cap)) && LC_SYS(SYS_prctl, PR_CAPBSET_DROP, cap, 0UL, 0UL, 0UL) < 0) {
                    plan->detail = (int32_t)cap;
                    LC_FAIL(plan, i, errno);
                }
            break;
        case LC_OP_CAPSET: {
            struct lc_cap_header hdr = { LC_CAP_V3, 0 };
            struct lc_cap_data data[2];
            for (int w = 0; w < 2; w++) {
                data[w].effective = (uint32_t)(op->a >> (32 * w));
                data[w].permitted = (uint32_t)(op->b >> (32 * w));
                data[w].inheritable = (uint32_t)(op->c >> (32 * w));
            }
            r = LC_SYS(SYS_capset, &hdr, data);
            break;
        }
        case LC_OP_AMBIENT:
            if (LC_SYS(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0UL, 0UL, 0UL) < 0)
                LC_FAIL(plan, i, errno);
            for (uint64_t cap = 0; cap <= op->b && cap < 64; cap++)
                if ((op->a & (1ULL << cap))
                    && LC_SYS(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0UL, 0UL) < 0) {
                    plan->detail = (int32_t)cap;
                    LC_FAIL(plan, i, errno);
                }
            break;
        case LC_OP_UMASK:
            LC_SYS(SYS_umask, (mode_t)op->a);
            break;
        case LC_OP_CHDIR:
            r = LC_SYS(SYS_chdir, op->path);
            break;
        case LC_OP_CHECK_CWD: {
            char cwd[4096];
            long n = LC_SYS(SYS_getcwd, cwd, sizeof cwd);
            if (n < 0 && errno != ERANGE)
                LC_FAIL(plan, i, errno);
            if (n > 0 && cwd[0] != '/')
                LC_FAIL(plan, i, ENOENT);
            break;
        }
        case LC_OP_SECCOMP: {
            struct lc_sock_fprog prog = { (unsigned short)op->len, op->data };
            r = LC_SYS(SYS_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, (unsigned int)op->a, &prog);
            break;
        }
        case LC_OP_INHERIT:
            for (uint64_t fd = op->a; fd <= op->b; fd++) {
                long flags = LC_SYS(SYS_fcntl, (int)fd, F_GETFD);
                if (flags >= 0 && (flags & FD_CLOEXEC))
                    LC_SYS(SYS_fcntl, (int)fd, F_SETFD, flags & ~FD_CLOEXEC);
            }
            break;
        case LC_OP_STOP:
            LC_SYS(SYS_kill, LC_SYS(SYS_getpid), SIGSTOP);
            break;
        case LC_OP_SET_NAME:
            LC_SYS(SYS_prctl, PR_SET_NAME, op->path, 0UL, 0UL, 0UL);
            break;
        case LC_OP_EXEC: {
            int why = LC_EXEC_NOT_IN_PATH;
            /* Nothing ignored, nothing blocked: what the program starts with (a handler does not
               survive execve, an ignore and the mask do). A signal that comes now ends us as it
               would have ended the program. */
            for (int sig = 1; sig <= 64; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                    LC_SYS(SYS_rt_sigaction, sig, &dfl, NULL, 8);
            LC_SYS(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8);
            for (int k = 0; plan->candidates[k] != NULL; k++) {
                if (!lc_executable(plan->candidates[k], &why))
                    continue;
                plan->failed = -1;
                LC_SYS(SYS_execve, plan->candidates[k], plan->argv, plan->envp);
                plan->candidate = k;
                plan->detail = LC_EXEC_FAILED;
                LC_FAIL(plan, i, errno);
            }
            plan->detail = plan->direct ? why : LC_EXEC_NOT_IN_PATH;
            LC_FAIL(plan, i, ENOENT);
        }
        default: {
            int e = lc_init_op(op, &ctx);
            if (e)
                LC_FAIL(plan, i, e < 0 ? EINVAL : e);
        }
        }
        if (r < 0)
            LC_FAIL(plan, i, errno);
    }
    plan->failed = plan->nops;  /* no LC_OP_EXEC: a plan without one is a mistake */
    plan->err = EINVAL;
fail:
    LC_SYS(SYS_exit, 127);
    return 127;
}

#if defined(__x86_64__)
/* clone3 with a stack of our own, and the child's entry: glibc's clone3 has no public wrapper, and
   the child may not return into a function of the caller's stack. The child calls fn(arg) on the new
   stack (rsp = stack + stack_size, 16-aligned: `call` leaves it as a function entry expects) and
   exits with its result. fn and arg ride in callee-saved registers, which the kernel copies. */
static long lc_clone3_run(void *args, size_t size, int (*fn)(void *), void *arg)
{
    register long rax __asm__("rax") = SYS_clone3;
    register void *rdi __asm__("rdi") = args;
    register size_t rsi __asm__("rsi") = size;
    register int (*r12)(void *) __asm__("r12") = fn;
    register void *r13 __asm__("r13") = arg;
    __asm__ volatile(
        "syscall\n\t"
        "test %%rax, %%rax\n\t"
        "jnz 1f\n\t"
        "xor %%ebp, %%ebp\n\t"
        "mov %%r13, %%rdi\n\t"
        "call *%%r12\n\t"
        "mov %%eax, %%edi\n\t"
        "mov $60, %%eax\n\t"   /* SYS_exit */
        "syscall\n\t"
        "hlt\n"
        "1:\n\t"
        : "+r"(rax)
        : "r"(rdi), "r"(rsi), "r"(r12), "r"(r13)
        : "rcx", "r11", "memory", "cc");
    return rax;
}
#define LC_HAVE_CLONE3_RUN 1
#endif

#define LC_PLAN_STACK (64 * 1024)

/* Run `plan` in a child that shares our memory while we wait (CLONE_VM | CLONE_VFORK), born in the
   cgroup v2 directory `cgroup_fd` unless it is -1 (CLONE_INTO_CGROUP). Returns the child's pid (it
   has called execve, or it failed: plan->failed >= 0, and it exits with 127; either way ours to
   wait for), or -errno when there is no child: -ENOSYS where this has no clone3 entry (not x86_64)
   or the kernel has no clone3 (before 5.3), -E2BIG/-EINVAL before CLONE_INTO_CGROUP (5.7). */
static int lc_vfork_plan(struct lc_plan *plan, int cgroup_fd)
{
#ifdef LC_HAVE_CLONE3_RUN
    struct {
        uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
        uint64_t set_tid, set_tid_size, cgroup;
    } args;
    uint64_t all = ~0ULL, old = 0;
    void *stack;
    long pid;

    plan->failed = -1;
    plan->err = 0;
    plan->detail = 0;
    plan->candidate = -1;
    stack = mmap(NULL, LC_PLAN_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED)
        return -errno;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_VM | CLONE_VFORK | plan->clone_flags;
    args.exit_signal = SIGCHLD;
    args.stack = (uint64_t)(uintptr_t)stack;
    args.stack_size = LC_PLAN_STACK;
    if (cgroup_fd >= 0) {
        args.flags |= LC_CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)cgroup_fd;
    }
    /* Every signal, glibc's own two included (sigprocmask would leave them out). */
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, 8);
    pid = lc_clone3_run(&args, sizeof args, lc_plan_child, plan);
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, 8);
    munmap(stack, LC_PLAN_STACK);
    return (int)pid;   /* the raw call's result: the pid, or -errno itself */
#else
    (void)plan; (void)cgroup_fd;
    return -ENOSYS;
#endif
}
