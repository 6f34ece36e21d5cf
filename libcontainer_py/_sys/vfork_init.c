/* The container init's steps for vfork_plan.c's child (Python side: init/vinit.py, rootfs/plan.py).

A run's init that Python has planned before the clone: the namespaces, the cgroup joined, the
rootfs's mounts, devices and links, pivot_root, the masked and read-only paths, then exec's
process steps (vfork_plan.c). Each step is one kernel object looked up and acted on, as the
Python init does it (rootfs/paths.py: every lookup is openat2 inside the root, every mount lands on
/proc/self/fd/N of what was looked up), but only on its plain path: a symlink on a destination, a
file in the way, a kernel that refuses. Then the step fails, the child exits, its namespaces go
with it, and init/vinit.py starts the Python init, which takes the long way or reports the error
in its own words. So nothing here has to explain itself: the step's index and errno are for the
debug log only.

Same rules as vfork_plan.c's child: raw system calls, no malloc, no stdio, buffers on our stack. */

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>

#define LC_OP_UNSHARE 23        /* unshare(a) */
#define LC_OP_SETSID 24         /* setsid() */
#define LC_OP_KEYRING 25        /* keyctl(JOIN_SESSION_KEYRING, path or NULL); ENOSYS is no failure */
#define LC_OP_SETHOSTNAME 26    /* sethostname(data, len) */
#define LC_OP_SETDOMAINNAME 27  /* setdomainname(data, len) */
#define LC_OP_LOOPBACK_UP 28    /* ip link set lo up */
#define LC_OP_OPENAT2 29        /* openat2(fd, path, {a, 0, b}), moved to fd c */
#define LC_OP_ENSURE_AT 30      /* path (root-relative, clean) in root fd: found without a symlink, or
                                   made, each missing component in its parent (a: the last is 1 a
                                   directory, 0 a file; mode b); to fd c */
#define LC_OP_MOUNT 31          /* mount(path, target, s2, a, s3); target /proc/self/fd/<fd>, or the
                                   string data when fd < 0; b & 1: an existing destination's mode
                                   first in the data ("mode=0755,...", a tmpfs over a directory) */
#define LC_OP_MKDIR_AT 32       /* mkdirat(fd, path, a) */
#define LC_OP_MKNOD_AT 33       /* mknodat(fd, path, a, makedev(b >> 32, b & 0xffffffff)) */
#define LC_OP_SYMLINK_AT 34     /* symlinkat(s2, fd, path); a: an existing one is no failure */
#define LC_OP_FCHOWN_AT 35      /* fchownat(fd, path, a, b, AT_SYMLINK_NOFOLLOW) */
#define LC_OP_FCHDIR 36         /* fchdir(fd) */
#define LC_OP_PIVOT_ROOT 37     /* pivot_root(".", ".") */
#define LC_OP_UMOUNT2 38        /* umount2(path, a) */
#define LC_OP_MASK 39           /* path in root fd (symlinks resolved inside it): missing, nothing; a
                                   directory, a read-only tmpfs over it; else fd b (/dev/null) bound on it */
#define LC_OP_READONLY 40       /* path in root fd, without a symlink: missing, nothing; else bound
                                   on itself (recursively), then remounted ro,nosuid,nodev,noexec */
#define LC_OP_REOPEN_NULL 41    /* each of fds 0-2 that is the null device: reopened on /dev/null */
#define LC_OP_CHECK_NULL 42     /* fd must be the character device 1:3 (CVE-2025-31133), else EPERM */

#define LC_RESOLVE_NO_MAGICLINKS 0x02
#define LC_RESOLVE_NO_SYMLINKS 0x04
#define LC_RESOLVE_BENEATH 0x08
#define LC_RESOLVE_IN_ROOT 0x10
#define LC_RESOLVE_PLAIN (LC_RESOLVE_IN_ROOT | LC_RESOLVE_NO_MAGICLINKS | LC_RESOLVE_NO_SYMLINKS)

struct lc_init_ctx {
    int existed;   /* whether the last LC_OP_ENSURE_AT found its path (else it made it) */
};

static long lc_openat2_raw(int dirfd, const char *path, uint64_t flags, uint64_t resolve)
{
    struct lc_open_how how = { flags | O_CLOEXEC, 0, resolve };
    return LC_SYS(SYS_openat2, dirfd, path, &how, sizeof how);
}

/* fd moved to `slot` (a number the plan keeps free for it), or -errno */
static int lc_to_slot(long fd, uint64_t slot)
{
    if (fd < 0)
        return -errno;
    if ((uint64_t)fd != slot) {
        long r = LC_SYS(SYS_dup3, (int)fd, (int)slot, O_CLOEXEC);
        int e = errno;
        LC_SYS(SYS_close, (int)fd);
        if (r < 0)
            return -e;
    }
    return 0;
}

/* "/proc/self/fd/N" into buf (32 bytes) */
static const char *lc_fd_path(char *buf, int fd)
{
    static const char prefix[] = "/proc/self/fd/";
    char digits[12];
    int n = 0, i = 0;
    unsigned int v = (unsigned int)fd;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && n < 11);
    for (; prefix[i]; i++)
        buf[i] = prefix[i];
    while (n)
        buf[i++] = digits[--n];
    buf[i] = '\0';
    return buf;
}

static size_t lc_strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

/* ensure_at's plain path (rootfs/paths.py): the whole path found without a symlink, or walked
   down from the root, each missing component made in its parent (a directory, or for the last,
   a file unless op->a), each found or made one opened beneath its parent, never through a symlink.
   0, or the errno that sends the init the long way. */
static int lc_ensure_at(const struct lc_op *op, struct lc_init_ctx *ctx)
{
    const uint64_t beneath = LC_RESOLVE_BENEATH | LC_RESOLVE_NO_SYMLINKS | LC_RESOLVE_NO_MAGICLINKS;
    char name[256];
    const char *rel = op->path, *p;
    long fd = lc_openat2_raw(op->fd, rel, O_PATH, LC_RESOLVE_PLAIN), cur;
    ctx->existed = fd >= 0;
    if (fd >= 0)
        return -lc_to_slot(fd, op->c);
    if (errno != ENOENT)
        return errno;
    cur = LC_SYS(SYS_dup, op->fd);
    if (cur < 0)
        return errno;
    for (p = rel; *p;) {
        size_t n = 0;
        int last, dir, e;
        long next;
        while (p[n] && p[n] != '/')
            n++;
        if (n == 0 || n >= sizeof name) {
            LC_SYS(SYS_close, (int)cur);
            return ENAMETOOLONG;
        }
        memcpy(name, p, n);
        name[n] = '\0';
        last = p[n] == '\0';
        dir = !last || op->a;
        next = lc_openat2_raw((int)cur, name, O_PATH | (dir ? O_DIRECTORY : 0), beneath);
        if (next < 0 && errno == ENOENT) {
            if (dir) {
                e = LC_SYS(SYS_mkdirat, (int)cur, name, (mode_t)op->b) < 0 ? errno : 0;
            } else {
                long f = LC_SYS(SYS_openat, (int)cur, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW,
                                (mode_t)op->b);
                e = f < 0 ? errno : 0;
                if (f >= 0)
                    LC_SYS(SYS_close, (int)f);
            }
            next = e ? -1 : lc_openat2_raw((int)cur, name, O_PATH | (dir ? O_DIRECTORY : 0), beneath);
            if (e)
                errno = e;
        }
        e = errno;
        LC_SYS(SYS_close, (int)cur);
        if (next < 0)
            return e;
        cur = next;
        p += n + !last;
    }
    return -lc_to_slot(cur, op->c);
}

static int lc_mount_op(const struct lc_op *op, const struct lc_init_ctx *ctx)
{
    char target[32], data[4096];
    const char *where = op->fd >= 0 ? lc_fd_path(target, op->fd) : (const char *)op->data;
    const char *opts = op->s3;
    if ((op->b & 1) && ctx->existed) {
        /* mode=NNNN (as Python's f"mode={mode:04o}"), then the config's own data (whose mode=
           wins, being later) */
        struct stat st;
        size_t i = 0, n;
        if (LC_SYS(SYS_fstat, op->fd, &st) < 0)
            return errno;
        n = opts ? lc_strlen(opts) : 0;
        if (n + 16 > sizeof data)
            return E2BIG;
        memcpy(data, "mode=", 5);
        i = 5;
        for (int shift = 9; shift >= 0; shift -= 3)
            data[i++] = (char)('0' + ((st.st_mode >> shift) & 7));
        if (n) {
            data[i++] = ',';
            memcpy(data + i, opts, n);
            i += n;
        }
        data[i] = '\0';
        opts = data;
    }
    return LC_SYS(SYS_mount, op->path, where, op->s2, (unsigned long)op->a, opts) < 0 ? errno : 0;
}

static int lc_loopback_up(void)
{
    struct ifreq ifr;
    long s = LC_SYS(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int e = 0;
    if (s < 0)
        return errno;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_name[0] = 'l';
    ifr.ifr_name[1] = 'o';
    if (LC_SYS(SYS_ioctl, (int)s, SIOCGIFFLAGS, &ifr) < 0)
        e = errno;
    else if (!(ifr.ifr_flags & IFF_UP)) {
        ifr.ifr_flags |= IFF_UP;
        if (LC_SYS(SYS_ioctl, (int)s, SIOCSIFFLAGS, &ifr) < 0)
            e = errno;
    }
    LC_SYS(SYS_close, (int)s);
    return e;
}

static int lc_is_null(int fd)
{
    struct stat st;
    return LC_SYS(SYS_fstat, fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3);
}

static int lc_mask(const struct lc_op *op)
{
    char target[32], null[32];
    struct stat st;
    long fd = lc_openat2_raw(op->fd, op->path, O_PATH, LC_RESOLVE_IN_ROOT | LC_RESOLVE_NO_MAGICLINKS);
    int e = 0;
    if (fd < 0)
        return errno == ENOENT ? 0 : errno;
    if (LC_SYS(SYS_fstat, (int)fd, &st) < 0)
        e = errno;
    else if (S_ISDIR(st.st_mode))
        e = LC_SYS(SYS_mount, "tmpfs", lc_fd_path(target, (int)fd), "tmpfs", MS_RDONLY, NULL) < 0 ? errno : 0;
    else
        e = LC_SYS(SYS_mount, lc_fd_path(null, (int)op->b), lc_fd_path(target, (int)fd), NULL, MS_BIND, NULL) < 0
                ? errno : 0;
    LC_SYS(SYS_close, (int)fd);
    return e;
}

static int lc_readonly(const struct lc_op *op)
{
    char target[32];
    long fd = lc_openat2_raw(op->fd, op->path, O_PATH, LC_RESOLVE_PLAIN);
    int e;
    if (fd < 0)
        return errno == ENOENT ? 0 : errno;
    lc_fd_path(target, (int)fd);
    e = LC_SYS(SYS_mount, target, target, NULL, MS_BIND | MS_REC, NULL) < 0 ? errno : 0;
    LC_SYS(SYS_close, (int)fd);
    if (e)
        return e;
    /* the new mount is reached by a new lookup: the old fd names the directory it covers */
    fd = lc_openat2_raw(op->fd, op->path, O_PATH, LC_RESOLVE_PLAIN);
    if (fd < 0)
        return errno;
    e = LC_SYS(SYS_mount, NULL, lc_fd_path(target, (int)fd), NULL,
               MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 ? errno : 0;
    LC_SYS(SYS_close, (int)fd);
    return e;
}

static int lc_reopen_null(void)
{
    struct stat null, st;
    long fd = LC_SYS(SYS_openat, AT_FDCWD, "/dev/null", O_RDWR | O_CLOEXEC);
    int e = 0;
    if (fd < 0)
        return errno;
    if (LC_SYS(SYS_fstat, (int)fd, &null) == 0 && S_ISCHR(null.st_mode))
        for (int std = 0; std <= 2 && !e; std++)
            if (LC_SYS(SYS_fstat, std, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == null.st_rdev
                && LC_SYS(SYS_dup2, (int)fd, std) < 0)
                e = errno;
    LC_SYS(SYS_close, (int)fd);
    return e;
}

/* One of the init's steps: 0, an errno, or -1 when `op` is none of them. */
static int lc_init_op(const struct lc_op *op, struct lc_init_ctx *ctx)
{
    switch (op->kind) {
    case LC_OP_UNSHARE:
        return LC_SYS(SYS_unshare, (int)op->a) < 0 ? errno : 0;
    case LC_OP_SETSID:
        return LC_SYS(SYS_setsid) < 0 ? errno : 0;
    case LC_OP_KEYRING:
        /* KEYCTL_JOIN_SESSION_KEYRING; a kernel without keyrings: best effort, as runc */
        if (LC_SYS(SYS_keyctl, 1, op->path, 0UL, 0UL, 0UL) < 0 && errno != ENOSYS)
            return errno;
        return 0;
    case LC_OP_SETHOSTNAME:
        return LC_SYS(SYS_sethostname, op->data, (size_t)op->len) < 0 ? errno : 0;
    case LC_OP_SETDOMAINNAME:
        return LC_SYS(SYS_setdomainname, op->data, (size_t)op->len) < 0 ? errno : 0;
    case LC_OP_LOOPBACK_UP:
        return lc_loopback_up();
    case LC_OP_OPENAT2:
        return -lc_to_slot(lc_openat2_raw(op->fd, op->path, op->a, op->b), op->c);
    case LC_OP_ENSURE_AT:
        return lc_ensure_at(op, ctx);
    case LC_OP_MOUNT:
        return lc_mount_op(op, ctx);
    case LC_OP_MKDIR_AT:
        return LC_SYS(SYS_mkdirat, op->fd, op->path, (mode_t)op->a) < 0 ? errno : 0;
    case LC_OP_MKNOD_AT:
        return LC_SYS(SYS_mknodat, op->fd, op->path, (mode_t)op->a,
                      (dev_t)makedev((unsigned int)(op->b >> 32), (unsigned int)(op->b & 0xffffffffu))) < 0
                   ? errno : 0;
    case LC_OP_SYMLINK_AT:
        if (LC_SYS(SYS_symlinkat, op->s2, op->fd, op->path) < 0 && !(op->a && errno == EEXIST))
            return errno;
        return 0;
    case LC_OP_FCHOWN_AT:
        return LC_SYS(SYS_fchownat, op->fd, op->path, (uid_t)op->a, (gid_t)op->b, AT_SYMLINK_NOFOLLOW) < 0 ? errno : 0;
    case LC_OP_FCHDIR:
        return LC_SYS(SYS_fchdir, op->fd) < 0 ? errno : 0;
    case LC_OP_PIVOT_ROOT:
        return LC_SYS(SYS_pivot_root, ".", ".") < 0 ? errno : 0;
    case LC_OP_UMOUNT2:
        return LC_SYS(SYS_umount2, op->path, (int)op->a) < 0 ? errno : 0;
    case LC_OP_MASK:
        return lc_mask(op);
    case LC_OP_READONLY:
        return lc_readonly(op);
    case LC_OP_REOPEN_NULL:
        return lc_reopen_null();
    case LC_OP_CHECK_NULL:
        return lc_is_null(op->fd) ? 0 : EPERM;
    default:
        return -1;
    }
}
