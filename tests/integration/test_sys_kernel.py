"""The seam against the real kernel: namespaces, mounts, pivot_root, openat2, prctl, capabilities.

Everything that changes process state runs in a forked child (``in_child``), so the pytest process's
namespaces, mounts, name and capabilities are untouched. Each child that mounts first unshares its
mount namespace and makes "/" recursively private, so nothing propagates back to the host; its mounts
vanish with it when it exits. The child reports through a pipe and leaves with os._exit; the parent
always reaps it (and kills it after a timeout), pass or fail.
"""

from __future__ import annotations

import errno
import os
import pathlib
import pickle
import platform
import select
import signal
import socket
import time
import traceback
from collections.abc import Callable
from typing import Any

import pytest

import libcontainer_py._sys as s
from libcontainer_py._sys import consts as c
from libcontainer_py.errors import SyscallError

pytestmark = pytest.mark.skipif(not s.shim_available(), reason="the C shim is not built: pip install -e . first")

CAP_NET_RAW = 13


class ChildFailed(AssertionError):
    pass


def in_child(fn: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Run fn in a forked child; return its (picklable) result or raise its error in the parent."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 0
        try:
            os.close(read_fd)
            try:
                payload = pickle.dumps(("ok", fn()))
            except BaseException as exc:  # report everything, including assertion failures
                try:
                    detail = traceback.format_exc()
                except BaseException:  # after pivot_root the source files may be gone
                    detail = repr(exc)
                payload = pickle.dumps(("error", f"{type(exc).__name__}: {exc}\n{detail}"))
            view = memoryview(payload)
            while view:
                view = view[os.write(write_fd, view) :]
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([read_fd], [], [], remaining)[0]:
                os.kill(pid, signal.SIGKILL)
                raise ChildFailed(f"child {pid} did not finish within {timeout}s")
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        _, status = os.waitpid(pid, 0)
    if not chunks:
        raise ChildFailed(f"child died without a report (wait status {status:#x})")
    kind, value = pickle.loads(b"".join(chunks))
    if kind == "error":
        raise ChildFailed(f"in the child: {value}")
    return value


def private_mount_ns() -> None:
    """A mount namespace of our own whose mounts cannot propagate to the host.

    After unshare(CLONE_NEWNS) the copied mounts keep their propagation: on a systemd host "/" is
    shared, so a mount made here would appear on the host too. MS_REC|MS_PRIVATE cuts that.
    """
    s.unshare(c.CLONE_NEWNS)
    s.mount(None, "/", None, c.MS_REC | c.MS_PRIVATE)


def mountinfo_has(path: pathlib.Path | str) -> bool:
    return any(line.split()[4] == str(path) for line in pathlib.Path("/proc/self/mountinfo").read_text().splitlines())


def write_errno(path: pathlib.Path) -> int:
    try:
        path.write_text("x")
    except OSError as exc:
        return exc.errno or -1
    return 0


# --- namespaces and mounts ----------------------------------------------------------------------------


@pytest.mark.root
def test_unshare_mount_tmpfs_umount(tmp_path: pathlib.Path) -> None:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    host_ns = os.readlink("/proc/self/ns/mnt")

    def child() -> dict[str, Any]:
        private_mount_ns()
        result: dict[str, Any] = {"ns": os.readlink("/proc/self/ns/mnt")}
        s.mount("tmpfs", mnt, "tmpfs", c.MS_NOSUID | c.MS_NODEV, "size=1m,mode=700")
        (mnt / "file").write_text("in tmpfs")
        result["mounted"] = mountinfo_has(mnt) and os.path.ismount(mnt)
        s.umount2(mnt)
        result["after"] = mountinfo_has(mnt) or (mnt / "file").exists()
        return result

    result = in_child(child)
    assert result == {"ns": result["ns"], "mounted": True, "after": False}
    assert result["ns"] != host_ns
    assert not mountinfo_has(mnt) and not os.listdir(mnt)  # nothing reached the host


@pytest.mark.root
def test_mount_error_names_the_target(tmp_path: pathlib.Path) -> None:
    def child() -> str:
        private_mount_ns()
        try:
            s.mount("none", tmp_path, "no-such-fs", c.MS_NOSUID)
        except SyscallError as exc:
            return str(exc)
        return "mounted?"

    message = in_child(child)
    assert message == f"mount none on {tmp_path} (type=no-such-fs, flags=MS_NOSUID): No such device"


@pytest.mark.root
def test_pivot_root_into_tmpfs(tmp_path: pathlib.Path) -> None:
    root = tmp_path / "root"
    root.mkdir()

    def child() -> dict[str, Any]:
        private_mount_ns()
        # pivot_root needs new_root to be a mount point (of a private mount, see private_mount_ns).
        s.mount("tmpfs", root, "tmpfs", 0, "size=1m")
        (root / "etc").mkdir()
        (root / "etc" / "marker").write_text("inside")
        (root / "old").mkdir()
        s.pivot_root(root, root / "old")
        os.chdir("/")
        result = {
            "marker": pathlib.Path("/etc/marker").read_text(),
            "old_root_visible": os.path.isdir("/old/proc"),
        }
        s.umount2("/old", c.MNT_DETACH)
        result["old_after_umount"] = os.listdir("/old")
        return result

    assert in_child(child) == {"marker": "inside", "old_root_visible": True, "old_after_umount": []}
    assert not mountinfo_has(root)


@pytest.mark.root
def test_pivot_root_dot_dot(tmp_path: pathlib.Path) -> None:
    """runc's pivot_root(".", "."): no put_old directory needed inside the rootfs."""
    root = tmp_path / "root"
    root.mkdir()

    def child() -> list[str]:
        private_mount_ns()
        s.mount("tmpfs", root, "tmpfs", 0, "size=1m")
        (root / "only-here").write_text("")
        os.chdir(root)
        s.pivot_root(".", ".")
        s.umount2(".", c.MNT_DETACH)  # the old root was stacked on top of ".": drop it
        os.chdir("/")
        return sorted(os.listdir("/"))

    assert in_child(child) == ["only-here"]


@pytest.mark.root
def test_pivot_root_refuses_a_non_mountpoint(tmp_path: pathlib.Path) -> None:
    def child() -> int:
        private_mount_ns()
        (tmp_path / "old").mkdir()
        try:
            s.pivot_root(tmp_path, tmp_path / "old")
        except SyscallError as exc:
            return exc.errno or -1
        return 0

    # EINVAL when new_root is not a mount point; EBUSY first when, as here, it is on the current
    # root's mount. Either way the kernel refuses, which is why callers bind-mount the rootfs first.
    assert in_child(child) in (errno.EINVAL, errno.EBUSY)


@pytest.mark.root
def test_setns_into_own_namespaces() -> None:
    kinds = {
        "uts": c.CLONE_NEWUTS,
        "ipc": c.CLONE_NEWIPC,
        "net": c.CLONE_NEWNET,
        "cgroup": c.CLONE_NEWCGROUP,
        "mnt": c.CLONE_NEWNS,
    }

    def child() -> dict[str, Any]:
        joined = []
        for name, nstype in kinds.items():
            fd = os.open(f"/proc/self/ns/{name}", os.O_RDONLY | os.O_CLOEXEC)
            try:
                s.setns(fd, nstype)
                s.setns(fd, 0)  # 0: any type
                joined.append(name)
            finally:
                os.close(fd)
        fd = os.open("/proc/self/ns/uts", os.O_RDONLY | os.O_CLOEXEC)
        try:
            s.setns(fd, c.CLONE_NEWNET)
        except SyscallError as exc:
            wrong_type = (exc.errno, str(exc))
        finally:
            os.close(fd)
        return {"joined": joined, "wrong_type": wrong_type}

    result = in_child(child)
    assert result["joined"] == list(kinds)
    assert result["wrong_type"][0] == errno.EINVAL
    assert "nstype=CLONE_NEWNET" in result["wrong_type"][1] and "uts:[" in result["wrong_type"][1]


@pytest.mark.root
def test_setns_back_to_the_host_uts() -> None:
    host = socket.gethostname()

    def child() -> tuple[str, str]:
        host_fd = os.open("/proc/self/ns/uts", os.O_RDONLY | os.O_CLOEXEC)
        s.unshare(c.CLONE_NEWUTS)
        s.sethostname("lcpy-inner")
        inner = socket.gethostname()
        s.setns(host_fd, c.CLONE_NEWUTS)
        os.close(host_fd)
        return inner, socket.gethostname()

    assert in_child(child) == ("lcpy-inner", host)


@pytest.mark.root
def test_sethostname_and_domainname_in_new_uts_ns() -> None:
    host = socket.gethostname()
    host_domain = pathlib.Path("/proc/sys/kernel/domainname").read_text()

    def child() -> tuple[str, str]:
        s.unshare(c.CLONE_NEWUTS)
        s.sethostname("lcpy-test")
        s.setdomainname("lcpy.example")
        return os.uname().nodename, pathlib.Path("/proc/sys/kernel/domainname").read_text().strip()

    assert in_child(child) == ("lcpy-test", "lcpy.example")
    assert socket.gethostname() == host
    assert pathlib.Path("/proc/sys/kernel/domainname").read_text() == host_domain


@pytest.mark.root
def test_mount_setattr_recursive_readonly(tmp_path: pathlib.Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()

    def child() -> dict[str, int]:
        private_mount_ns()
        s.mount("tmpfs", a, "tmpfs", 0, "size=1m")
        (a / "sub").mkdir()
        s.mount("tmpfs", a / "sub", "tmpfs", 0, "size=1m")
        s.mount(a, b, None, c.MS_BIND | c.MS_REC)
        # One call makes the bind and its submount read-only; a MS_REMOUNT|MS_BIND|MS_RDONLY remount
        # would only reach the top mount and leave b/sub writable.
        s.mount_setattr(c.AT_FDCWD, b, c.AT_RECURSIVE, c.MOUNT_ATTR_RDONLY | c.MOUNT_ATTR_NOSUID)
        return {
            "b": write_errno(b / "x"),
            "b/sub": write_errno(b / "sub" / "x"),
            "a": write_errno(a / "x"),
            "a/sub": write_errno(a / "sub" / "x"),
        }

    assert in_child(child) == {"b": errno.EROFS, "b/sub": errno.EROFS, "a": 0, "a/sub": 0}
    assert not mountinfo_has(a) and not mountinfo_has(b)


@pytest.mark.root
def test_open_tree_clone_and_move_mount(tmp_path: pathlib.Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()

    def child() -> dict[str, Any]:
        private_mount_ns()
        s.mount("tmpfs", a, "tmpfs", 0, "size=1m")
        (a / "f").write_text("from a")
        fd = s.open_tree(c.AT_FDCWD, a, c.OPEN_TREE_CLONE | c.OPEN_TREE_CLOEXEC | c.AT_RECURSIVE)
        try:
            # Attributes set on the detached copy before it is attached: no window where it is writable.
            s.mount_setattr(fd, "", c.AT_EMPTY_PATH, c.MOUNT_ATTR_RDONLY)
            s.move_mount(fd, "", c.AT_FDCWD, b, c.MOVE_MOUNT_F_EMPTY_PATH)
        finally:
            os.close(fd)
        return {
            "read": (b / "f").read_text(),
            "write_b": write_errno(b / "g"),
            "write_a": write_errno(a / "g"),
        }

    assert in_child(child) == {"read": "from a", "write_b": errno.EROFS, "write_a": 0}


def test_openat2_resolve_in_root(tmp_path: pathlib.Path) -> None:
    """Needs no privilege, so no child: only opens files."""
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "hostname").write_text("in-root\n")
    (root / "abs-link").symlink_to("/etc")  # absolute: on the host it would mean the host's /etc
    (root / "dotdot-link").symlink_to("../../../../../../etc")
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for path in ("abs-link/hostname", "dotdot-link/hostname", "/etc/hostname", "/../../etc/hostname"):
            fd = s.openat2(
                root_fd, path, os.O_RDONLY | os.O_CLOEXEC, resolve=c.RESOLVE_IN_ROOT | c.RESOLVE_NO_MAGICLINKS
            )
            try:
                assert os.readlink(f"/proc/self/fd/{fd}") == str(root / "etc" / "hostname"), path
                assert os.read(fd, 100) == b"in-root\n"
            finally:
                os.close(fd)
        # RESOLVE_BENEATH refuses to leave instead of clamping: EXDEV.
        with pytest.raises(SyscallError) as info:
            s.openat2(root_fd, "abs-link/hostname", os.O_PATH, resolve=c.RESOLVE_BENEATH)
        assert info.value.errno == errno.EXDEV
        assert f"in root fd {root_fd} ({root})" in str(info.value)
        # A magic link (/proc/self/fd/N) is a jump the root cannot contain: refused.
        (root / "magic").symlink_to(f"/proc/self/fd/{root_fd}")
        with pytest.raises(SyscallError) as info:
            s.openat2(c.AT_FDCWD, root / "magic", os.O_PATH, resolve=c.RESOLVE_NO_MAGICLINKS)
        assert info.value.errno == errno.ELOOP
    finally:
        os.close(root_fd)


# --- process attributes -------------------------------------------------------------------------------


def test_prctl_set_name_shows_in_proc_comm() -> None:
    def child() -> dict[str, Any]:
        s.prctl_set_name("lcpy:[1:CHILD]")
        short = pathlib.Path("/proc/self/comm").read_text().strip()
        got = s.prctl_get_name()
        s.prctl_set_name("a-name-longer-than-fifteen")
        s.prctl(c.PR_SET_NO_NEW_PRIVS, 1)
        return {
            "comm": short,
            "get": got,
            "long": pathlib.Path("/proc/self/comm").read_text().strip(),
            "nnp": s.prctl(c.PR_GET_NO_NEW_PRIVS),
        }

    assert in_child(child) == {
        "comm": "lcpy:[1:CHILD]",
        "get": "lcpy:[1:CHILD]",
        "long": "a-name-longer-t",
        "nnp": 1,
    }
    assert s.prctl(c.PR_GET_NO_NEW_PRIVS) == 0  # the test process is untouched


@pytest.mark.root
def test_capset_drops_a_capability() -> None:
    def child() -> tuple[int, int]:
        before = s.capget()
        assert before.effective & (1 << CAP_NET_RAW), "the test needs CAP_NET_RAW to drop"
        s.capset(before.effective & ~(1 << CAP_NET_RAW), before.permitted, before.inheritable)
        status = dict(
            line.split(":\t", 1) for line in pathlib.Path("/proc/self/status").read_text().splitlines() if ":\t" in line
        )
        return s.capget().effective, int(status["CapEff"], 16)

    effective, from_proc = in_child(child)
    assert effective == from_proc == s.capget().effective & ~(1 << CAP_NET_RAW)


def test_personality_linux32() -> None:
    def child() -> tuple[int, int, str]:
        previous = s.personality(c.PER_LINUX32)
        return previous, s.personality(c.PERSONALITY_QUERY), os.uname().machine

    previous, now, machine = in_child(child)
    assert previous == s.personality(c.PERSONALITY_QUERY)
    assert now & 0xFF == c.PER_LINUX32
    if platform.machine() == "x86_64":
        assert machine == "i686"  # uname(2) reports the 32-bit machine under PER_LINUX32


def test_keyctl_join_session_keyring() -> None:
    def child() -> tuple[int, bool] | str:
        try:
            serial = s.keyctl_join_session_keyring("lcpy-test-session")
        except SyscallError as exc:
            if exc.errno in (errno.ENOSYS, errno.EPERM, errno.EACCES):
                return str(exc)
            raise
        keys = pathlib.Path("/proc/keys")
        listed = not keys.exists() or "lcpy-test-session" in keys.read_text()
        return serial, listed

    result = in_child(child)
    if isinstance(result, str):
        pytest.skip(f"keyrings unavailable here: {result}")
    serial, listed = result
    assert serial > 0 and listed


def test_ioprio_set_and_get() -> None:
    value = c.ioprio_value(c.IOPRIO_CLASS_BE, 5)

    def child() -> int:
        s.ioprio_set(c.IOPRIO_WHO_PROCESS, 0, value)
        return s.ioprio_get(c.IOPRIO_WHO_PROCESS, 0)

    assert in_child(child) == value


def test_set_mempolicy_bind_node_0() -> None:
    def child() -> str:
        try:
            s.set_mempolicy(c.MPOL_BIND, [0])
            s.set_mempolicy(c.MPOL_DEFAULT)
        except SyscallError as exc:
            if exc.errno == errno.ENOSYS:
                return "no NUMA support in this kernel"
            raise
        return "ok"

    result = in_child(child)
    if result != "ok":
        pytest.skip(result)


def test_sched_setattr_batch_with_nice() -> None:
    def child() -> tuple[int, int]:
        s.sched_setattr(0, c.SCHED_BATCH, nice=5)
        return os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, 0)

    assert in_child(child) == (os.SCHED_BATCH, 5)


def test_prlimit_numbers_and_round_trip() -> None:
    import resource

    # The shim's numbers are <sys/resource.h>'s: the resource module's where it has the name
    # (it lacks RLIMIT_LOCKS, whose number getrlimit(2) gives as 10 on x86_64 and aarch64).
    for name in s.RLIMIT_NAMES:
        number = s.rlimit_number(name)
        assert number is not None
        if hasattr(resource, name):
            assert number == getattr(resource, name), name
    assert s.rlimit_number("RLIMIT_BOGUS") is None
    nofile = s.rlimit_number("RLIMIT_NOFILE")
    assert nofile is not None
    assert s.prlimit(nofile) == resource.getrlimit(resource.RLIMIT_NOFILE)

    def child() -> tuple[tuple[int, int], tuple[int, int], int]:
        old = s.prlimit(nofile, (100, 200))
        now = resource.getrlimit(resource.RLIMIT_NOFILE)
        try:
            s.prlimit(nofile, (300, 200))  # soft above hard
        except SyscallError as exc:
            return old, now, exc.errno or 0
        return old, now, 0

    old, now, err = in_child(child)
    assert old == resource.getrlimit(resource.RLIMIT_NOFILE)
    assert now == (100, 200)
    assert err == errno.EINVAL


def test_in_child_reports_child_errors() -> None:
    def child() -> None:
        raise RuntimeError("boom")

    with pytest.raises(ChildFailed, match="RuntimeError: boom"):
        in_child(child)


def test_fork_without_pythons_fork_work() -> None:
    """_sys.fork (pidfork.bare_fork's): a child that is a real process of its own (its pid, its
    exit status) and that ran none of the hooks of os.register_at_fork."""
    ran: list[int] = []
    os.register_at_fork(after_in_child=lambda: ran.append(os.getpid()))  # (stays registered: harmless)
    r, w = os.pipe()
    pid = s.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.write(w, f"{os.getpid()} {len(ran)}".encode())
        finally:
            os._exit(7)
    os.close(w)
    try:
        got = os.read(r, 100).decode().split()
    finally:
        os.close(r)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 7
    assert got == [str(pid), "0"]


def _op(name: str, fd: int = -1, a: int = 0, b: int = 0, c_: int = 0, path: bytes | None = None,
        data: bytes | None = None, length: int | None = None) -> tuple[Any, ...]:  # fmt: skip
    size = length if length is not None else (len(data) if data is not None else 0)
    return (s.plan_const(f"LC_OP_{name}"), fd, a, b, c_, path, data, size)


def _collect(pid: int, read: int) -> tuple[int, bytes]:
    chunks = []
    while block := os.read(read, 4096):
        chunks.append(block)
    os.close(read)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks)


@pytest.mark.skipif(platform.machine() != "x86_64", reason="vfork_plan's clone3 entry is x86_64's")
def test_vfork_plan_runs_its_steps_then_the_first_executable_candidate(tmp_path: pathlib.Path) -> None:
    """The child shares our memory while we wait, and runs only its steps: here it writes to an fd
    of ours, makes stdout a pipe, changes directory and umask, skips candidates that are missing or
    not executable, and execs the first one that is, with our argv and envp. Our own cwd and umask
    are untouched (its are its own: no CLONE_FS)."""
    (tmp_path / "plain").write_text("not a program\n")
    note_r, note_w = os.pipe()
    out_r, out_w = os.pipe()
    ops = [
        _op("WRITE", fd=note_w, data=b"step"),
        _op("DUP2", fd=out_w, a=1),
        _op("CLOSE_RANGE", a=3, b=0xFFFFFFFF),
        _op("CHDIR", path=str(tmp_path).encode()),
        _op("UMASK", a=0o077),
        _op("EXEC"),
    ]
    candidates = [b"/no/such/sh", str(tmp_path / "plain").encode(), b"/bin/sh", b"/usr/bin/sh"]
    argv = [b"sh", b"-c", b'umask; pwd; echo "$GREETING"; exit 3']
    cwd, umask = os.getcwd(), os.umask(0o022)
    try:
        res = s.vfork_plan(ops, argv, [b"GREETING=hi"], candidates)
    finally:
        os.umask(umask)
        os.close(note_w)
        os.close(out_w)
    assert res is not None and res.failed == -1, res
    assert os.getcwd() == cwd
    status, out = _collect(res.pid, out_r)
    assert (status, out.decode().split()) == (3, ["0077", str(tmp_path), "hi"])
    assert os.read(note_r, 10) == b"step"
    os.close(note_r)


@pytest.mark.skipif(platform.machine() != "x86_64", reason="vfork_plan's clone3 entry is x86_64's")
def test_vfork_plan_reports_the_failed_step_and_its_errno() -> None:
    """A step that fails ends the child with 127 before any later step; the index and errno reach
    us through our shared memory. Without an executable candidate: ENOENT and the reason."""
    bad = os.open("/dev/null", os.O_RDONLY)
    os.close(bad)  # a closed fd: setns gets EBADF
    ops = [_op("UMASK", a=0o022), _op("SETNS", fd=bad, a=c.CLONE_NEWUTS), _op("EXEC")]
    res = s.vfork_plan(ops, [b"true"], [], [b"/bin/true"])
    assert res is not None and (res.failed, res.err) == (1, errno.EBADF), res
    assert os.waitstatus_to_exitcode(os.waitpid(res.pid, 0)[1]) == 127
    res = s.vfork_plan([_op("EXEC")], [b"x"], [], [b"/no/such/x", b"/etc"])
    not_found = s.plan_const("LC_EXEC_NOT_IN_PATH")
    assert res is not None and (res.failed, res.err, res.detail) == (0, errno.ENOENT, not_found), res
    os.waitpid(res.pid, 0)
    res = s.vfork_plan([_op("EXEC")], [b"/etc"], [], [b"/etc"], direct=True)
    assert res is not None and res.detail == s.plan_const("LC_EXEC_NO_ACCESS"), res
    os.waitpid(res.pid, 0)


@pytest.mark.skipif(platform.machine() != "x86_64", reason="vfork_plan's clone3 entry is x86_64's")
def test_vfork_plan_child_never_runs_our_handlers_and_starts_the_program_with_defaults() -> None:
    """Our Python handler and ignore are not the program's, nor is our mask; and a signal to the
    child while it runs its steps (a SIGSTOP step stands for a slow one) ends it as it would the
    program: our handler never runs (it would run on the child's stack over our memory)."""
    got: list[int] = []
    old_term = signal.signal(signal.SIGTERM, lambda *_: got.append(1))
    old_hup = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
    out_r, out_w = os.pipe()
    try:
        res = s.vfork_plan(
            [_op("DUP2", fd=out_w, a=1), _op("EXEC")],
            [b"cat", b"/proc/self/status"], [], [b"/bin/cat", b"/usr/bin/cat"],
        )  # fmt: skip
        os.close(out_w)
        out_w = -1
        assert res is not None and res.failed == -1, res
        status, out = _collect(res.pid, out_r)
        fields = dict(line.split(":\t", 1) for line in out.decode().splitlines() if ":\t" in line)
        assert status == 0 and [fields[k] for k in ("SigBlk", "SigIgn", "SigCgt")] == ["0" * 16] * 3, out
        # stopped in its steps, then sent SIGTERM: it ends by it, and our handler saw nothing
        import threading

        def kill_when_stopped() -> None:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    with open(f"/proc/{os.getpid()}/task/{os.getpid()}/children") as f:
                        kids = [int(x) for x in f.read().split()]
                except OSError:
                    kids = []
                for kid in kids:
                    with open(f"/proc/{kid}/stat") as f:
                        if f.read().rpartition(")")[2].split()[0] == "T":
                            os.kill(kid, signal.SIGTERM)
                            os.kill(kid, signal.SIGCONT)
                            return
                time.sleep(0.01)

        killer = threading.Thread(target=kill_when_stopped)
        killer.start()
        res = s.vfork_plan([_op("STOP"), _op("EXEC")], [b"true"], [], [b"/bin/true"])
        killer.join()
        assert res is not None and res.failed == s.plan_const("LC_PLAN_UNFINISHED"), res
        _, status = os.waitpid(res.pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM
        assert got == []
    finally:
        if out_w >= 0:
            os.close(out_w)
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        signal.signal(signal.SIGHUP, old_hup)
        signal.signal(signal.SIGTERM, old_term)
