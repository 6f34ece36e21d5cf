"""Resolve and create paths inside the container's rootfs without ever leaving it.

Why: the rootfs belongs to the image author. A mount destination ``/evil/x`` where the image has
``evil -> /etc`` (or ``evil -> ../../../etc``) must land in the rootfs's ``etc``, never on the host's.
Joining strings and checking them in user space (what runc did before CVE-2021-30465) races with
symlink swaps and gets ``..`` wrong; instead every lookup here is openat2(2) with RESOLVE_IN_ROOT
(the kernel treats the rootfs fd as "/" for ``..`` and absolute symlinks, atomically) and
RESOLVE_NO_MAGICLINKS (no /proc/*/fd jumps out of the tree).

The result is an O_PATH fd. Callers mount onto ``/proc/self/fd/N`` (:func:`fd_path`): that magic link
points at exactly the object that was checked, so nothing can swap the path between check and mount
(runc does the same since 1.0.0-rc95). Missing directories are created one component at a time with
mkdirat(2) on a parent fd that itself was resolved in the root.
"""

from __future__ import annotations

import errno
import os
import stat

from libcontainer_py import _sys
from libcontainer_py._sys import consts as c
from libcontainer_py.errors import SyscallError
from libcontainer_py.rootfs.errors import PathError, strerror

RESOLVE = c.RESOLVE_IN_ROOT | c.RESOLVE_NO_MAGICLINKS
# The narrow first lookup of ensure_at/find_at: no symlink at all on the path, so where it lands is
# the cleaned path itself (what path_in_root would read back, without its two readlink calls).
RESOLVE_PLAIN = RESOLVE | c.RESOLVE_NO_SYMLINKS
O_PATH = os.O_PATH | os.O_CLOEXEC
MAX_SYMLINKS = 40  # the kernel's own limit (ELOOP) for one lookup


def clean(path: str) -> str:
    """The root-relative form of a container path: ``/dev/../dev//shm/`` -> ``dev/shm``, ``/`` -> ``.``.

    Lexical, like runc's CleanPath: a relative destination (deprecated by the spec) means relative to
    "/", and a leading ``..`` cannot climb above "/". Symlinks are left to openat2.
    """
    norm = os.path.normpath("/" + path)
    rel = norm.lstrip("/")
    return rel or "."


def fd_path(fd: int) -> str:
    """The magic link that names exactly what ``fd`` refers to, for mount(2) and friends."""
    return f"/proc/self/fd/{fd}"


def open_root(path: str | os.PathLike[str]) -> int:
    """An O_PATH directory fd of the rootfs, the anchor for every lookup."""
    return os.open(path, O_PATH | os.O_DIRECTORY)


def resolve(root_fd: int, path: str, *, flags: int = 0) -> int:
    """openat2(root_fd, path, O_PATH|O_CLOEXEC|flags, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS).

    Raises SyscallError (ENOENT when missing, ENOTDIR with O_DIRECTORY on a file...).
    """
    return _sys.openat2(root_fd, clean(path), O_PATH | flags, 0, RESOLVE)


def try_resolve(root_fd: int, path: str, *, flags: int = 0) -> int | None:
    """Like :func:`resolve`, but None when the path does not exist."""
    return _sys.openat2_or_none(root_fd, clean(path), O_PATH | flags, 0, RESOLVE)


def path_in_root(root_fd: int, fd: int) -> str:
    """Where ``fd`` is, as a root-relative path (``etc/x``), read back from /proc/self/fd.

    Used to follow a dangling symlink from the directory it was found in: the kernel's view of that
    directory, not the string we used to reach it (which may have gone through other symlinks).
    """
    root = os.readlink(fd_path(root_fd))
    here = os.readlink(fd_path(fd))
    if here == root:
        return "."
    prefix = root.rstrip("/") + "/"
    if not here.startswith(prefix):  # pragma: no cover - openat2 guarantees containment
        raise PathError(f"{here} escaped the rootfs {root}")
    return here[len(prefix) :]


def ensure_at(root_fd: int, path: str, *, directory: bool, mode: int = 0o755) -> tuple[int, str, bool]:
    """:func:`ensure`, and also where the object is (root-relative, as :func:`path_in_root` says)
    and whether it was there before: ``(fd, real, existed)``.

    Most mount destinations (/proc, /dev, /dev/pts, /sys) have no symlink on their path: one
    openat2 with RESOLVE_NO_SYMLINKS finds them, or their parent to create the last component in,
    and their real path is the cleaned path itself. That is 1-3 system calls where the general walk
    makes 4-7 (a lookup to learn whether it existed, the walk's own lookups, two readlinks); each is
    ~10 us of the init's critical path in Python. Anything else (a symlink on the way, more than the
    last component missing, a race) takes the general walk, with its errors.
    """
    rel = clean(path)
    fd = _sys.openat2_raw(root_fd, rel, O_PATH, 0, RESOLVE_PLAIN)
    if fd >= 0:
        return fd, rel, True
    if fd == -errno.ENOENT and rel != ".":
        # No symlink up to the first missing component: if that is the last one, make it in its
        # parent and open it beneath the parent, refusing a symlink put there meanwhile.
        parent_rel, _, name = rel.rpartition("/")
        parent = _sys.openat2_raw(root_fd, parent_rel or ".", O_PATH | os.O_DIRECTORY, 0, RESOLVE_PLAIN)
        if parent >= 0:
            try:
                if _create(parent, name, directory=directory, mode=mode):
                    made = _sys.openat2_raw(
                        parent, name, O_PATH | (os.O_DIRECTORY if directory else 0), 0, _BENEATH_PLAIN
                    )
                    if made >= 0:
                        return made, rel, False
            finally:
                os.close(parent)
    found = try_resolve(root_fd, rel)
    target = found if found is not None else _ensure(root_fd, rel, directory=directory, mode=mode, depth=0)
    return (*_located(root_fd, target), found is not None)


def find_at(root_fd: int, path: str) -> tuple[int, str] | None:
    """:func:`try_resolve`, and also where the object is (root-relative): ``(fd, real)``, or None
    when it does not exist. Without a symlink on the path: one openat2 and no readlink."""
    rel = clean(path)
    fd = _sys.openat2_raw(root_fd, rel, O_PATH, 0, RESOLVE_PLAIN)
    if fd >= 0:
        return fd, rel
    if fd == -errno.ENOENT:
        return None  # the walk met no symlink before the missing component: it is missing
    found = try_resolve(root_fd, rel)
    return None if found is None else _located(root_fd, found)


def _located(root_fd: int, fd: int) -> tuple[int, str]:
    """``(fd, where it is)`` read back through /proc/self/fd (the general walk's answer); the fd is
    closed if that fails."""
    try:
        return fd, path_in_root(root_fd, fd)
    except BaseException:
        os.close(fd)
        raise


_BENEATH_PLAIN = c.RESOLVE_BENEATH | c.RESOLVE_NO_SYMLINKS | c.RESOLVE_NO_MAGICLINKS


def mkdir_all(root_fd: int, path: str, mode: int = 0o755) -> int:
    """Create ``path`` and its missing parents inside the root; return an O_PATH fd of it."""
    return _ensure(root_fd, clean(path), directory=True, mode=mode, depth=0)


def create_file(root_fd: int, path: str, mode: int = 0o644) -> int:
    """Make sure ``path`` exists (an empty file when missing, parents created); return an O_PATH fd.

    Used as a bind-mount target when the source is a file, and for device nodes in a user namespace.
    """
    return _ensure(root_fd, clean(path), directory=False, mode=mode, depth=0)


def ensure(root_fd: int, path: str, *, directory: bool) -> int:
    """:func:`mkdir_all` or :func:`create_file`."""
    if directory:
        return mkdir_all(root_fd, path)
    return create_file(root_fd, path)


def _ensure(root_fd: int, rel: str, *, directory: bool, mode: int, depth: int) -> int:
    if depth > MAX_SYMLINKS:
        raise PathError(f"/{rel}: too many levels of symbolic links")
    existing = try_resolve(root_fd, rel)
    if existing is not None:
        return existing
    parts = [] if rel == "." else rel.split("/")
    # Walk down from the root: each prefix is resolved in the root, each missing component created
    # with mkdirat on the fd of its (already resolved) parent. Most often only the last component
    # is missing: then the walk starts at the parent, resolved in the root in one lookup (the same
    # lookup the walk would make; on any error, the walk runs from the root and reports it).
    cur = -1
    start = 0
    if len(parts) > 1:
        try:
            parent = try_resolve(root_fd, "/".join(parts[:-1]), flags=os.O_DIRECTORY)
        except SyscallError:
            parent = None
        if parent is not None:
            cur, start = parent, len(parts) - 1
    if cur < 0:
        cur = os.open(".", O_PATH | os.O_DIRECTORY, dir_fd=root_fd)
    try:
        for i in range(start, len(parts)):
            part = parts[i]
            last = i == len(parts) - 1
            prefix = "/".join(parts[: i + 1])
            try:
                found = try_resolve(root_fd, prefix, flags=0 if last and not directory else os.O_DIRECTORY)
            except SyscallError as exc:
                raise PathError(f"/{prefix}: {strerror(exc.errno)}", errno=exc.errno) from exc
            if found is not None:
                nxt = found
            else:
                created = _create(cur, part, directory=directory or not last, mode=mode)
                if not created and _is_symlink(cur, part):
                    # A dangling symlink: create what it points to, inside the root, then go on.
                    target = os.readlink(part, dir_fd=cur)
                    base = "." if target.startswith("/") else path_in_root(root_fd, cur)
                    rest = "/".join([target, *parts[i + 1 :]])
                    new_rel = clean(os.path.join("/", base, rest))
                    return _ensure(root_fd, new_rel, directory=directory, mode=mode, depth=depth + 1)
                nxt = resolve(root_fd, prefix, flags=0 if last and not directory else os.O_DIRECTORY)
            os.close(cur)
            cur = nxt
        result, cur = cur, -1
        return result
    finally:
        if cur >= 0:
            os.close(cur)


def _create(dir_fd: int, name: str, *, directory: bool, mode: int) -> bool:
    """mkdirat or an O_EXCL create; False when something (maybe a dangling symlink) is in the way."""
    try:
        if directory:
            os.mkdir(name, mode, dir_fd=dir_fd)
        else:
            fd = os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW, mode, dir_fd=dir_fd)
            os.close(fd)
    except FileExistsError:
        return False
    return True


def _is_symlink(dir_fd: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def is_dir_fd(fd: int) -> bool:
    """Whether an O_PATH fd refers to a directory (fstat works on O_PATH fds)."""
    return stat.S_ISDIR(os.fstat(fd).st_mode)


def reopen(root_fd: int, path: str) -> int:
    """Resolve ``path`` again after a mount on it: the old fd still names the covered directory,
    the new mount is only reached by a new lookup (runc's reopenAfterMount)."""
    return resolve(root_fd, path)
