"""Error translation in libcontainer_py._sys: errno in, SyscallError naming the call and path out.

Two kinds of test, neither needing root:
* against a stand-in ``lib`` (no compiled shim needed): exact errno and message translation;
* against the real shim, with calls that fail harmlessly (they change nothing even as root).
"""

from __future__ import annotations

import errno
import os
import pathlib
import sys
from collections.abc import Iterator
from typing import Any

import cffi
import pytest

import libcontainer_py._sys as s
from libcontainer_py._sys import consts as c
from libcontainer_py.errors import LibcontainerError, SyscallError

ROOT = os.geteuid() == 0
needs_shim = pytest.mark.skipif(not s.shim_available(), reason="the C shim is not built: pip install -e . first")


class StandInLib:
    """Plays the shim's ``lib``: every lc_* call returns the scripted value and is recorded."""

    def __init__(self, result: int) -> None:
        self.result = result
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any) -> int:
            self.calls.append((name, args))
            return self.result

        return call


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandInLib]:
    lib = StandInLib(errno.EPERM)
    monkeypatch.setattr(s, "_lib_", lib)
    if s._ffi is None:  # the shim was never loaded: a plain FFI provides NULL, new() and cast()
        monkeypatch.setattr(s, "_ffi", cffi.FFI())
    yield lib


def test_errno_becomes_syscall_error_naming_the_call(stand_in: StandInLib) -> None:
    with pytest.raises(SyscallError) as info:
        s.mount("tmpfs", "/x/dev", "tmpfs", c.MS_NOSUID)
    err = info.value
    assert isinstance(err, OSError) and isinstance(err, LibcontainerError)
    assert err.errno == errno.EPERM
    assert str(err) == "mount tmpfs on /x/dev (flags=MS_NOSUID): Operation not permitted"
    name, args = stand_in.calls[0]
    assert name == "lc_mount" and args[1] == b"/x/dev" and args[3] == c.MS_NOSUID


def test_negative_results_are_errno(stand_in: StandInLib) -> None:
    stand_in.result = -errno.ELOOP
    with pytest.raises(SyscallError) as info:
        s.openat2(c.AT_FDCWD, "/etc/link", os.O_PATH, resolve=c.RESOLVE_NO_SYMLINKS)
    assert info.value.errno == errno.ELOOP
    assert "openat2 /etc/link (flags=O_PATH, resolve=RESOLVE_NO_SYMLINKS)" in str(info.value)
    stand_in.result = 5
    assert s.openat2(c.AT_FDCWD, "/etc/x") == 5
    assert s.prctl(c.PR_GET_DUMPABLE) == 5


def test_paths_are_encoded_and_checked(stand_in: StandInLib) -> None:
    stand_in.result = 0
    s.umount2(pathlib.Path("/a b"), c.MNT_DETACH)
    s.umount2(b"/raw")
    assert [args[0] for _, args in stand_in.calls] == [b"/a b", b"/raw"]
    with pytest.raises(ValueError, match="null byte"):
        s.umount2("/a\0b")


def test_capset_splits_masks_into_words(stand_in: StandInLib) -> None:
    stand_in.result = 0
    s.capset(1 << 40 | 1, 1 << 33, 0)
    _, (eff, prm, inh) = stand_in.calls[0]
    assert list(eff) == [1, 1 << 8] and list(prm) == [0, 2] and list(inh) == [0, 0]
    stand_in.result = errno.EPERM
    with pytest.raises(SyscallError, match="capset effective=0x10000000001"):
        s.capset(1 << 40 | 1, 1 << 33, 0)


def test_missing_shim_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(s, "_lib_", None)
    monkeypatch.setitem(sys.modules, "libcontainer_py._sys._shim", None)  # import now fails
    with pytest.raises(s.ShimNotBuiltError, match=r"libcontainer_py\._sys\._shim is not built: reinstall with pip"):
        s.unshare(0)
    assert not s.shim_available()


# --- the real shim, harmless failures -----------------------------------------------------------------


@needs_shim
def test_umount2_of_a_non_mountpoint(tmp_path: pathlib.Path) -> None:
    with pytest.raises(SyscallError) as info:
        s.umount2(tmp_path)
    assert info.value.errno == (errno.EINVAL if ROOT else errno.EPERM)
    assert str(tmp_path) in str(info.value) and str(info.value).startswith("umount2 ")


@needs_shim
def test_setns_with_a_bad_fd() -> None:
    with pytest.raises(SyscallError) as info:
        s.setns(-1, c.CLONE_NEWNET)
    assert info.value.errno == errno.EBADF
    assert str(info.value) == "setns fd -1 (nstype=CLONE_NEWNET): Bad file descriptor"


@needs_shim
def test_setns_with_a_file_that_is_not_a_namespace(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "plain"
    path.write_text("")
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(SyscallError) as info:
            s.setns(fd, c.CLONE_NEWNS)
        assert info.value.errno == errno.EINVAL
        assert str(path) in str(info.value)  # the fd is named by what /proc says it is
    finally:
        os.close(fd)


@needs_shim
def test_unshare_unknown_flag() -> None:
    with pytest.raises(SyscallError) as info:
        s.unshare(0x1)  # a signal number bit, never valid for unshare
    assert info.value.errno == errno.EINVAL and "unshare 0x1" in str(info.value)


@needs_shim
def test_mount_on_a_missing_target(tmp_path: pathlib.Path) -> None:
    target = tmp_path / "missing" / "dev"
    with pytest.raises(SyscallError) as info:
        s.mount("tmpfs", target, "tmpfs", c.MS_NOSUID | c.MS_NODEV, "mode=755")
    assert info.value.errno == errno.ENOENT  # the target is looked up before privileges are checked
    assert str(info.value).startswith(f"mount tmpfs on {target} (flags=MS_NOSUID|MS_NODEV, data=mode=755): ")


@needs_shim
def test_pivot_root_to_a_missing_directory(tmp_path: pathlib.Path) -> None:
    with pytest.raises(SyscallError) as info:
        s.pivot_root(tmp_path / "nope", tmp_path / "nope" / "old")
    assert info.value.errno == (errno.ENOENT if ROOT else errno.EPERM)
    assert f"pivot_root to {tmp_path}/nope" in str(info.value)


@needs_shim
def test_mount_setattr_invalid_flags(tmp_path: pathlib.Path) -> None:
    with pytest.raises(SyscallError) as info:
        s.mount_setattr(c.AT_FDCWD, tmp_path, 0x1, c.MOUNT_ATTR_RDONLY)
    assert info.value.errno == errno.EINVAL
    assert f"mount_setattr {tmp_path} (flags=0x1, set=MOUNT_ATTR_RDONLY)" in str(info.value)


@needs_shim
def test_open_tree_without_clone_needs_no_privilege(tmp_path: pathlib.Path) -> None:
    fd = s.open_tree(c.AT_FDCWD, tmp_path, c.OPEN_TREE_CLOEXEC)
    try:
        assert os.readlink(f"/proc/self/fd/{fd}") == str(tmp_path)
    finally:
        os.close(fd)
    with pytest.raises(SyscallError) as info:
        s.open_tree(c.AT_FDCWD, tmp_path / "missing", c.OPEN_TREE_CLOEXEC)
    assert info.value.errno == errno.ENOENT and "open_tree " in str(info.value)


@needs_shim
def test_move_mount_bad_fd(tmp_path: pathlib.Path) -> None:
    with pytest.raises(SyscallError) as info:
        s.move_mount(-1, "", c.AT_FDCWD, tmp_path, c.MOVE_MOUNT_F_EMPTY_PATH)
    assert info.value.errno == (errno.EBADF if ROOT else errno.EPERM)
    assert f"move_mount fd -1 to {tmp_path} (flags=MOVE_MOUNT_F_EMPTY_PATH)" in str(info.value)


@needs_shim
def test_openat2_no_symlinks(tmp_path: pathlib.Path) -> None:
    (tmp_path / "link").symlink_to("/etc")
    with pytest.raises(SyscallError) as info:
        s.openat2(c.AT_FDCWD, tmp_path / "link", os.O_PATH, resolve=c.RESOLVE_NO_SYMLINKS)
    assert info.value.errno == errno.ELOOP
    assert f"openat2 {tmp_path}/link (flags=O_PATH, resolve=RESOLVE_NO_SYMLINKS)" in str(info.value)


@needs_shim
def test_openat2_opens(tmp_path: pathlib.Path) -> None:
    fd = s.openat2(c.AT_FDCWD, tmp_path, os.O_PATH | os.O_CLOEXEC | os.O_DIRECTORY)
    try:
        assert os.readlink(f"/proc/self/fd/{fd}") == str(tmp_path)
        assert os.get_inheritable(fd) is False
    finally:
        os.close(fd)


@needs_shim
def test_sethostname_too_long() -> None:
    with pytest.raises(SyscallError) as info:
        s.sethostname("h" * 65)  # __NEW_UTS_LEN is 64; checked after the capability, so nothing changes
    assert info.value.errno == (errno.EINVAL if ROOT else errno.EPERM)
    with pytest.raises(SyscallError) as info:
        s.setdomainname("d" * 65)
    assert info.value.errno == (errno.EINVAL if ROOT else errno.EPERM)


@needs_shim
def test_personality_query() -> None:
    assert s.personality(c.PERSONALITY_QUERY) & 0xFF == c.PER_LINUX


@needs_shim
@pytest.mark.parametrize("title", ["pyrunc init", "x" * 100_000])
def test_set_cmdline_is_what_proc_pid_cmdline_shows(title: str) -> None:
    """In a child (it overwrites the process's argv strings): the title, NUL-padded to the size
    of the original area; one longer than that area is cut to fit, its last byte a NUL."""
    area = pathlib.Path("/proc/self/cmdline").read_bytes()
    r, w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(go_w)  # (else its own copy keeps the read below from seeing EOF)
            os.close(r)
            s.set_cmdline(title)
            os.write(w, b"set")
            os.read(go_r, 1)  # alive (not a zombie, whose cmdline is empty) until it has been read
        finally:
            os._exit(0)
    os.close(w)
    os.close(go_r)
    try:
        assert os.read(r, 3) == b"set"
        seen = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
    finally:
        os.close(go_w)
        os.close(r)
        os.waitpid(pid, 0)
    assert len(seen) == len(area) and seen.endswith(b"\0"), (len(seen), len(area))
    assert seen.rstrip(b"\0") == title.encode()[: len(area) - 1]
    assert pathlib.Path("/proc/self/cmdline").read_bytes() == area  # ours is untouched


@needs_shim
def test_prctl_reads_and_rejects() -> None:
    assert s.prctl(c.PR_GET_DUMPABLE) in (0, 1, 2)
    assert s.prctl(c.PR_CAPBSET_READ, 0) in (0, 1)  # CAP_CHOWN
    assert s.prctl_get_name() == pathlib.Path("/proc/self/comm").read_text().strip()
    with pytest.raises(SyscallError) as info:
        s.prctl(0x7FFF_FFF0)
    assert info.value.errno == errno.EINVAL and str(info.value).startswith("prctl option 2147483632")


@needs_shim
def test_capget_matches_proc_status() -> None:
    status = dict(
        line.split(":\t", 1) for line in pathlib.Path("/proc/self/status").read_text().splitlines() if ":\t" in line
    )
    caps = s.capget()
    assert caps.effective == int(status["CapEff"], 16)
    assert caps.permitted == int(status["CapPrm"], 16)
    assert caps.inheritable == int(status["CapInh"], 16)
    assert s.capget(os.getpid()) == caps


@needs_shim
def test_capget_of_a_missing_pid() -> None:
    with pytest.raises(SyscallError) as info:
        s.capget(2**22 + 1)  # above the largest pid_max
    assert info.value.errno == errno.ESRCH and "capget of pid 4194305" in str(info.value)


@needs_shim
def test_ioprio_get_and_invalid_set() -> None:
    assert s.ioprio_get(c.IOPRIO_WHO_PROCESS, 0) >= 0
    with pytest.raises(SyscallError) as info:
        s.ioprio_set(c.IOPRIO_WHO_PROCESS, 0, c.ioprio_value(7, 0))  # there is no class 7
    assert info.value.errno == errno.EINVAL and "class 7" in str(info.value)


@needs_shim
def test_set_mempolicy_invalid_mode() -> None:
    with pytest.raises(SyscallError) as info:
        s.set_mempolicy(99)
    assert info.value.errno in (errno.EINVAL, errno.ENOSYS)
    assert "set_mempolicy mode=0x63" in str(info.value)


@needs_shim
def test_sched_setattr_invalid_policy() -> None:
    with pytest.raises(SyscallError) as info:
        s.sched_setattr(0, 99)
    assert info.value.errno == errno.EINVAL and "policy=99" in str(info.value)


@needs_shim
def test_real_syscalls_object_delegates(tmp_path: pathlib.Path) -> None:
    with pytest.raises(SyscallError, match=r"^umount2 "):
        s.Syscalls().umount2(tmp_path)
    assert s.Syscalls().capget() == s.capget()
