"""cffi builder for the kernel shim ``libcontainer_py._sys._shim`` (API mode, compiled at install time).

setup.py names this module in ``cffi_modules``, so ``pip install .`` and ``pip install -e .`` compile the
shim. To build it by hand in the source tree (development without pip)::

    python libcontainer_py/_sys/_build.py

The C is deliberately tiny, in the psutil style: every wrapper is a few lines that make one system call
and return 0 or the errno (or, for calls that return a value, the value or ``-errno``). A wrapper never
raises a Python exception and never decides anything: flags, retries, error messages and policy all
live in Python (``libcontainer_py/_sys/__init__.py``). Reading ``errno`` in C right after the call is
also what makes the errno reliable; cffi's ``ffi.errno`` can be clobbered by the interpreter in between.

We call the raw system call numbers (``syscall(SYS_x, ...)``) for everything that glibc 2.36 does not
wrap (pivot_root, the new mount API, openat2, capget/capset, keyctl, ...). We define the small kernel
structs ourselves instead of including <linux/mount.h> or <linux/openat2.h>: those headers clash with
<sys/mount.h> on older glibc, and the layouts are fixed kernel ABI (checked with _Static_assert below).
"""

from __future__ import annotations

import os

import cffi

# Every declaration Python can call. Keep this in step with C_SOURCE and with docs/syscalls.md.
CDEF = """
int lc_pivot_root(const char *new_root, const char *put_old);
int lc_setns(int fd, int nstype);
int lc_unshare(int flags);
int lc_mount(const char *source, const char *target, const char *fstype, unsigned long flags,
             const char *data);
int lc_umount2(const char *target, int flags);
int lc_mount_setattr(int dirfd, const char *path, unsigned int flags, uint64_t attr_set,
                     uint64_t attr_clr, uint64_t propagation, uint64_t userns_fd);
int lc_open_tree(int dirfd, const char *path, unsigned int flags);
int lc_move_mount(int from_dirfd, const char *from_path, int to_dirfd, const char *to_path,
                  unsigned int flags);
int lc_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve);
int lc_sethostname(const char *name, size_t len);
int lc_setdomainname(const char *name, size_t len);
long lc_personality(unsigned long persona);
long lc_prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5);
int lc_capget(int pid, uint32_t effective[2], uint32_t permitted[2], uint32_t inheritable[2]);
int lc_capset(const uint32_t effective[2], const uint32_t permitted[2], const uint32_t inheritable[2]);
long lc_keyctl_join_session_keyring(const char *name);
int lc_ioprio_set(int which, int who, int ioprio);
long lc_ioprio_get(int which, int who);
int lc_set_mempolicy(int mode, const unsigned long *nodemask, unsigned long maxnode);
int lc_sched_setattr(int pid, uint32_t policy, uint64_t flags, int32_t nice, uint32_t priority,
                     uint64_t runtime, uint64_t deadline, uint64_t period);
int lc_fstatfs_type(int fd, long *type);
int lc_close_range(unsigned int first, unsigned int last, unsigned int flags);
int lc_prlimit(int pid, int resource, const uint64_t *new_limit, uint64_t *old_limit);
#define RLIMIT_CPU ...
#define RLIMIT_FSIZE ...
#define RLIMIT_DATA ...
#define RLIMIT_STACK ...
#define RLIMIT_CORE ...
#define RLIMIT_RSS ...
#define RLIMIT_NPROC ...
#define RLIMIT_NOFILE ...
#define RLIMIT_MEMLOCK ...
#define RLIMIT_AS ...
#define RLIMIT_LOCKS ...
#define RLIMIT_SIGPENDING ...
#define RLIMIT_MSGQUEUE ...
#define RLIMIT_NICE ...
#define RLIMIT_RTPRIO ...
#define RLIMIT_RTTIME ...
int lc_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags);
int lc_getcpu(void);
int lc_fork(void);
int lc_clone_into_cgroup(int cgroup_fd);
int lc_clone_sibling(int cgroup_fd);
int lc_bpf_prog_load(uint32_t prog_type, const void *insns, uint32_t insn_cnt, const char *license,
                     char *log_buf, uint32_t log_size, const char *name);
int lc_bpf_prog_query(int target_fd, uint32_t attach_type, uint32_t *prog_ids, uint32_t *prog_cnt);
int lc_bpf_prog_get_fd_by_id(uint32_t prog_id);
int lc_bpf_prog_attach(int target_fd, int prog_fd, uint32_t attach_type, uint32_t flags, int detach);
long lc_seccomp(unsigned int op, unsigned int flags, void *args);
long lc_seccomp_set_filter(unsigned int flags, const char *insns, unsigned int count);
struct lc_op {
    int32_t kind; int32_t fd; uint64_t a, b, c; const char *path; const void *data; uint64_t len;
    const char *s2, *s3;
};
struct lc_plan {
    const struct lc_op *ops; int32_t nops; int32_t direct; const char *const *candidates;
    char *const *argv; char *const *envp; int32_t failed; int32_t err; int32_t detail; int32_t candidate;
    uint64_t clone_flags;
};
int lc_vfork_plan(struct lc_plan *plan, int cgroup_fd);
#define LC_OP_DUP2 ...
#define LC_OP_WRITE ...
#define LC_OP_WRITE_AT ...
#define LC_OP_CLOSE ...
#define LC_OP_CLOSE_RANGE ...
#define LC_OP_SETNS ...
#define LC_OP_SETRESGID ...
#define LC_OP_SETRESUID ...
#define LC_OP_SETGROUPS ...
#define LC_OP_PRLIMIT ...
#define LC_OP_PRCTL ...
#define LC_OP_BOUNDING ...
#define LC_OP_CAPSET ...
#define LC_OP_AMBIENT ...
#define LC_OP_UMASK ...
#define LC_OP_CHDIR ...
#define LC_OP_CHECK_CWD ...
#define LC_OP_SECCOMP ...
#define LC_OP_INHERIT ...
#define LC_OP_STOP ...
#define LC_OP_SET_NAME ...
#define LC_OP_EXEC ...
#define LC_OP_UNSHARE ...
#define LC_OP_SETSID ...
#define LC_OP_KEYRING ...
#define LC_OP_SETHOSTNAME ...
#define LC_OP_SETDOMAINNAME ...
#define LC_OP_LOOPBACK_UP ...
#define LC_OP_OPENAT2 ...
#define LC_OP_ENSURE_AT ...
#define LC_OP_MOUNT ...
#define LC_OP_MKDIR_AT ...
#define LC_OP_MKNOD_AT ...
#define LC_OP_SYMLINK_AT ...
#define LC_OP_FCHOWN_AT ...
#define LC_OP_FCHDIR ...
#define LC_OP_PIVOT_ROOT ...
#define LC_OP_UMOUNT2 ...
#define LC_OP_MASK ...
#define LC_OP_READONLY ...
#define LC_OP_REOPEN_NULL ...
#define LC_OP_CHECK_NULL ...
#define LC_PLAN_UNFINISHED ...
#define LC_EXEC_NOT_IN_PATH ...
#define LC_EXEC_NO_FILE ...
#define LC_EXEC_NO_ACCESS ...
#define LC_EXEC_FAILED ...
"""

C_SOURCE = r"""
#ifndef _GNU_SOURCE   /* Python.h already defines it */
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>   /* the RLIMIT_* numbers, which differ on a few architectures */
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <linux/bpf.h>   /* union bpf_attr: no clash with glibc's headers, unlike linux/mount.h */

/* Syscalls added after the unified numbering (Linux 5.1+) have the same number on x86_64 and aarch64
   (and every other architecture but alpha), so one fallback serves both when libc headers are old. */
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

/* Kernel ABI structs, declared here so we need no linux uapi header (see the module docstring). */
struct lc_mount_attr { uint64_t attr_set, attr_clr, propagation, userns_fd; };   /* MOUNT_ATTR_SIZE_VER0 */
struct lc_open_how { uint64_t flags, mode, resolve; };                             /* OPEN_HOW_SIZE_VER0 */
struct lc_cap_header { uint32_t version; int pid; };
struct lc_cap_data { uint32_t effective, permitted, inheritable; };
struct lc_sched_attr {                                                             /* SCHED_ATTR_SIZE_VER0 */
    uint32_t size, sched_policy; uint64_t sched_flags; int32_t sched_nice; uint32_t sched_priority;
    uint64_t sched_runtime, sched_deadline, sched_period;
};
_Static_assert(sizeof(struct lc_mount_attr) == 32, "struct mount_attr is 32 bytes");
_Static_assert(sizeof(struct lc_open_how) == 24, "struct open_how is 24 bytes");
_Static_assert(sizeof(struct lc_sched_attr) == 48, "struct sched_attr v0 is 48 bytes");

#define LC_CAP_V3 0x20080522   /* _LINUX_CAPABILITY_VERSION_3: two 32-bit words per set */
#define LC_KEYCTL_JOIN_SESSION_KEYRING 1

/* 0 or errno */
#define LC_ERR(call) ((call) < 0 ? errno : 0)
/* value or -errno */
#define LC_VAL(call) ({ long r_ = (long)(call); r_ < 0 ? -(long)errno : r_; })

static int lc_pivot_root(const char *new_root, const char *put_old)
{ return LC_ERR(syscall(SYS_pivot_root, new_root, put_old)); }

static int lc_setns(int fd, int nstype) { return LC_ERR(setns(fd, nstype)); }

static int lc_unshare(int flags) { return LC_ERR(unshare(flags)); }

static int lc_mount(const char *source, const char *target, const char *fstype, unsigned long flags,
                    const char *data)
{ return LC_ERR(mount(source, target, fstype, flags, data)); }

static int lc_umount2(const char *target, int flags) { return LC_ERR(umount2(target, flags)); }

static int lc_mount_setattr(int dirfd, const char *path, unsigned int flags, uint64_t attr_set,
                            uint64_t attr_clr, uint64_t propagation, uint64_t userns_fd)
{
    struct lc_mount_attr attr = { attr_set, attr_clr, propagation, userns_fd };
    return LC_ERR(syscall(SYS_mount_setattr, dirfd, path, flags, &attr, sizeof attr));
}

static int lc_open_tree(int dirfd, const char *path, unsigned int flags)
{ return (int)LC_VAL(syscall(SYS_open_tree, dirfd, path, flags)); }

static int lc_move_mount(int from_dirfd, const char *from_path, int to_dirfd, const char *to_path,
                         unsigned int flags)
{ return LC_ERR(syscall(SYS_move_mount, from_dirfd, from_path, to_dirfd, to_path, flags)); }

static int lc_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve)
{
    struct lc_open_how how = { flags, mode, resolve };
    return (int)LC_VAL(syscall(SYS_openat2, dirfd, path, &how, sizeof how));
}

static int lc_sethostname(const char *name, size_t len) { return LC_ERR(sethostname(name, len)); }

static int lc_setdomainname(const char *name, size_t len) { return LC_ERR(setdomainname(name, len)); }

static long lc_personality(unsigned long persona) { return LC_VAL(personality(persona)); }

static long lc_prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)
{ return LC_VAL(prctl(option, a2, a3, a4, a5)); }

static int lc_capget(int pid, uint32_t effective[2], uint32_t permitted[2], uint32_t inheritable[2])
{
    struct lc_cap_header hdr = { LC_CAP_V3, pid };
    struct lc_cap_data data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capget, &hdr, data) < 0)
        return errno;
    for (int i = 0; i < 2; i++) {
        effective[i] = data[i].effective;
        permitted[i] = data[i].permitted;
        inheritable[i] = data[i].inheritable;
    }
    return 0;
}

static int lc_capset(const uint32_t effective[2], const uint32_t permitted[2], const uint32_t inheritable[2])
{
    struct lc_cap_header hdr = { LC_CAP_V3, 0 };
    struct lc_cap_data data[2];
    for (int i = 0; i < 2; i++) {
        data[i].effective = effective[i];
        data[i].permitted = permitted[i];
        data[i].inheritable = inheritable[i];
    }
    return LC_ERR(syscall(SYS_capset, &hdr, data));
}

static long lc_keyctl_join_session_keyring(const char *name)
{ return LC_VAL(syscall(SYS_keyctl, LC_KEYCTL_JOIN_SESSION_KEYRING, name)); }

static int lc_ioprio_set(int which, int who, int ioprio)
{ return LC_ERR(syscall(SYS_ioprio_set, which, who, ioprio)); }

static long lc_ioprio_get(int which, int who) { return LC_VAL(syscall(SYS_ioprio_get, which, who)); }

static int lc_set_mempolicy(int mode, const unsigned long *nodemask, unsigned long maxnode)
{ return LC_ERR(syscall(SYS_set_mempolicy, mode, nodemask, maxnode)); }

static int lc_sched_setattr(int pid, uint32_t policy, uint64_t flags, int32_t nice, uint32_t priority,
                            uint64_t runtime, uint64_t deadline, uint64_t period)
{
    struct lc_sched_attr attr = { sizeof attr, policy, flags, nice, priority, runtime, deadline, period };
    return LC_ERR(syscall(SYS_sched_setattr, pid, &attr, 0));
}

static int lc_fstatfs_type(int fd, long *type)
{
    struct statfs st;
    if (fstatfs(fd, &st) < 0)
        return errno;
    *type = (long)st.f_type;
    return 0;
}

static int lc_close_range(unsigned int first, unsigned int last, unsigned int flags)
{ return LC_ERR(syscall(SYS_close_range, first, last, flags)); }

/* new_limit/old_limit: {soft, hard}, the kernel's struct rlimit64 (either may be NULL). */
static int lc_prlimit(int pid, int resource, const uint64_t *new_limit, uint64_t *old_limit)
{ return LC_ERR(syscall(SYS_prlimit64, pid, resource, new_limit, old_limit)); }

static int lc_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags)
{ return LC_ERR(syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, flags)); }

/* bpf(2), four commands of it (cgroup v2's device program: cgroups/bpf.py). Each fills a zeroed
   union bpf_attr (the kernel wants the unused tail zero) and returns the result or -errno. */
static int lc_bpf(int cmd, union bpf_attr *attr)
{
    long r = syscall(SYS_bpf, cmd, attr, sizeof *attr);
    return r < 0 ? -errno : (int)r;
}

static int lc_bpf_prog_load(uint32_t prog_type, const void *insns, uint32_t insn_cnt, const char *license,
                            char *log_buf, uint32_t log_size, const char *name)
{
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.prog_type = prog_type;
    a.insns = (uint64_t)(uintptr_t)insns;
    a.insn_cnt = insn_cnt;
    a.license = (uint64_t)(uintptr_t)license;
    a.log_level = log_size ? 1 : 0;
    a.log_size = log_size;
    a.log_buf = (uint64_t)(uintptr_t)log_buf;
    strncpy(a.prog_name, name, sizeof a.prog_name - 1);
    return lc_bpf(BPF_PROG_LOAD, &a);
}

static int lc_bpf_prog_query(int target_fd, uint32_t attach_type, uint32_t *prog_ids, uint32_t *prog_cnt)
{
    union bpf_attr a;
    int r;
    memset(&a, 0, sizeof a);
    a.query.target_fd = target_fd;
    a.query.attach_type = attach_type;
    a.query.prog_ids = (uint64_t)(uintptr_t)prog_ids;
    a.query.prog_cnt = *prog_cnt;
    r = lc_bpf(BPF_PROG_QUERY, &a);
    *prog_cnt = a.query.prog_cnt;
    return r;
}

static int lc_bpf_prog_get_fd_by_id(uint32_t prog_id)
{
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.prog_id = prog_id;
    return lc_bpf(BPF_PROG_GET_FD_BY_ID, &a);
}

static int lc_bpf_prog_attach(int target_fd, int prog_fd, uint32_t attach_type, uint32_t flags, int detach)
{
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.target_fd = target_fd;
    a.attach_bpf_fd = prog_fd;
    a.attach_type = attach_type;
    a.attach_flags = flags;
    return lc_bpf(detach ? BPF_PROG_DETACH : BPF_PROG_ATTACH, &a);
}

/* fork(3): glibc's own at-fork work (its malloc locks, the thread's cached tid) but not Python's
   (PyOS_BeforeFork, PyOS_AfterFork_Child and the hooks of os.register_at_fork). The pid, 0 in the
   child, or -errno. When that is safe and why it is worth it: init/pidfork.py bare_fork. */
static int lc_fork(void)
{
    pid_t pid = fork();
    return pid < 0 ? -errno : (int)pid;
}

/* clone3(2) as fork(2) (SIGCHLD to us, a copy of our memory) with CLONE_INTO_CGROUP: the child is
   born in the cgroup v2 directory `cgroup_fd` instead of being moved there through cgroup.procs,
   whose lock waits for an RCU grace period after an idle moment (~10 ms here). The pid, 0 in the
   child, or -errno (ENOSYS before Linux 5.3, E2BIG or EINVAL before 5.7). Raw: glibc has no
   wrapper, so glibc's own at-fork work is not done and its cached thread id stays the parent's
   in the child: init/pidfork.py bare_fork says why that is fine for the runtime's children. */
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#define LC_CLONE_PARENT 0x00008000ULL
#define LC_CLONE_INTO_CGROUP 0x200000000ULL
static int lc_clone3(uint64_t flags, uint64_t exit_signal, int cgroup_fd)
{
    struct {
        uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
        uint64_t set_tid, set_tid_size, cgroup;
    } args;
    long r;
    memset(&args, 0, sizeof args);
    args.flags = flags;
    args.exit_signal = exit_signal;
    if (cgroup_fd >= 0) {
        args.flags |= LC_CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)cgroup_fd;
    }
    r = syscall(SYS_clone3, &args, sizeof args);
    return r < 0 ? -errno : (int)r;
}

static int lc_clone_into_cgroup(int cgroup_fd)
{
    return lc_clone3(0, SIGCHLD, cgroup_fd);
}

/* clone3(2) with CLONE_PARENT: the child is our parent's, not ours (its exit signal, SIGCHLD, goes
   to our parent, who waits for it), with a copy of our memory; born in the cgroup v2 directory
   `cgroup_fd` unless it is -1. The fork server's one call (init/forkserver.py): it forks the
   container's first child for its caller. The pid, 0 in the child, or -errno. Raw, as above.
   exit_signal must be 0 with CLONE_PARENT: the kernel uses our own. */
static int lc_clone_sibling(int cgroup_fd)
{
    return lc_clone3(LC_CLONE_PARENT, 0, cgroup_fd);
}

/* seccomp(2), which glibc does not wrap: for the queries and probes (GET_ACTION_AVAIL,
   GET_NOTIF_SIZES, a flag tried with a NULL program). The result or -errno. */
static long lc_seccomp(unsigned int op, unsigned int flags, void *args)
{
#ifdef SYS_seccomp
    return LC_VAL(syscall(SYS_seccomp, op, flags, args));
#else
    (void)op; (void)flags; (void)args;
    return -ENOSYS;
#endif
}

/* seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog): `count` instructions of 8 bytes (struct
   sock_filter) at `insns`. 0, the notify listener fd with NEW_LISTENER, or -errno. struct sock_fprog
   is declared here (no linux/filter.h): { unsigned short len; struct sock_filter *filter; }. Without
   the system call (an architecture whose headers lack it), prctl(PR_SET_SECCOMP), which takes no
   flags. */
struct lc_sock_fprog { unsigned short len; const void *filter; };
static long lc_seccomp_set_filter(unsigned int flags, const char *insns, unsigned int count)
{
    struct lc_sock_fprog prog = { (unsigned short)count, insns };
    if (count == 0 || count > 0xFFFF)
        return -EINVAL;
#ifdef SYS_seccomp
    return LC_VAL(syscall(SYS_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, flags, &prog));
#else
    if (flags)
        return -ENOSYS;
    return LC_VAL(prctl(PR_SET_SECCOMP, 2 /* SECCOMP_MODE_FILTER */, &prog, 0, 0));
#endif
}

/* The CPU this thread runs on, or -errno (glibc's sched_getcpu: the vDSO, no system call). */
static int lc_getcpu(void)
{
    int cpu = sched_getcpu();
    return cpu < 0 ? -errno : cpu;
}
"""

# exec's child without a fork of the caller, in a file of its own (it is more than a wrapper).
# __file__: cffi's setuptools hook runs this file with it set, relative to the project's root.
# The init's own steps (vfork_init.c) go in where vfork_plan.c includes them: the build compiles one
# string, in a scratch directory where no #include of ours would be found.
_HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(_HERE, "vfork_plan.c")) as _f, open(os.path.join(_HERE, "vfork_init.c")) as _g:
    C_SOURCE += _f.read().replace('#include "vfork_init.c"\n', _g.read())

ffibuilder = cffi.FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source("libcontainer_py._sys._shim", C_SOURCE)

if __name__ == "__main__":
    # Development build without pip: compile in a scratch directory and copy only the extension next
    # to this file, so the source tree gets no .c/.o litter.
    import pathlib
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        built = pathlib.Path(ffibuilder.compile(tmpdir=scratch))
        shutil.copy2(built, pathlib.Path(__file__).resolve().parent / built.name)
        print(pathlib.Path(__file__).resolve().parent / built.name)
