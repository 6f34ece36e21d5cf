"""RecordingSyscalls: records calls, scripts failures with the real messages, never reaches the kernel."""

from __future__ import annotations

import errno
import inspect
import pathlib
from typing import Any

import pytest

from libcontainer_py._sys import CapSets, Syscalls
from libcontainer_py._sys import consts as c
from libcontainer_py._sys.fake import ALL_CAPS, Call, RecordingSyscalls
from libcontainer_py.errors import SyscallError

# One call for each Syscalls method, with plausible arguments. test_every_method_has_a_sample keeps
# this in step with Syscalls, so every method's failure message is exercised below.
SAMPLES: dict[str, dict[str, Any]] = {
    "unshare": {"flags": c.CLONE_NEWNS | c.CLONE_NEWUTS},
    "setns": {"fd": 7, "nstype": c.CLONE_NEWNET},
    "mount": {
        "source": "tmpfs",
        "target": "/rootfs/dev",
        "fstype": "tmpfs",
        "flags": c.MS_NOSUID | c.MS_STRICTATIME,
        "data": "mode=755,size=65536k",
    },
    "umount2": {"target": "/.oldroot", "flags": c.MNT_DETACH},
    "pivot_root": {"new_root": ".", "put_old": "."},
    "mount_setattr": {
        "dirfd": c.AT_FDCWD,
        "path": "/rootfs",
        "flags": c.AT_RECURSIVE,
        "attr_set": c.MOUNT_ATTR_RDONLY,
        "attr_clr": 0,
        "propagation": 0,
        "userns_fd": 0,
    },
    "open_tree": {"dirfd": c.AT_FDCWD, "path": "/src", "flags": c.OPEN_TREE_CLONE | c.AT_RECURSIVE},
    "move_mount": {
        "from_dirfd": 10001,
        "from_path": "",
        "to_dirfd": c.AT_FDCWD,
        "to_path": "/rootfs/mnt",
        "flags": c.MOVE_MOUNT_F_EMPTY_PATH,
    },
    "openat2": {
        "dirfd": 10002,
        "path": "/dev/null",
        "flags": 0,
        "mode": 0,
        "resolve": c.RESOLVE_IN_ROOT | c.RESOLVE_NO_MAGICLINKS,
    },
    "sethostname": {"name": "box"},
    "setdomainname": {"name": "example.org"},
    "personality": {"persona": c.PER_LINUX32},
    "prctl": {"option": c.PR_SET_NO_NEW_PRIVS, "a2": 1, "a3": 0, "a4": 0, "a5": 0},
    "prctl_set_name": {"name": "runc:[2:INIT]"},
    "prctl_get_name": {},
    "set_cmdline": {"title": "pyrunc init"},
    "capget": {"pid": 0},
    "capset": {"effective": 1, "permitted": 3, "inheritable": 0},
    "keyctl_join_session_keyring": {"name": "_ses.abc"},
    "ioprio_set": {"which": c.IOPRIO_WHO_PROCESS, "who": 0, "ioprio": c.ioprio_value(c.IOPRIO_CLASS_BE, 4)},
    "ioprio_get": {"which": c.IOPRIO_WHO_PROCESS, "who": 0},
    "set_mempolicy": {"mode": c.MPOL_BIND, "nodes": (0, 1)},
    "prctl_get_child_subreaper": {},
    "fstatfs_type": {"fd": 3},
    "getcpu": {},
    "bpf_prog_load": {"prog_type": 15, "insns": bytearray(16), "license": "Apache", "name": "pyrunc_dev", "log": None},
    "bpf_prog_query": {"target_fd": 3, "attach_type": 6, "capacity": 64},
    "bpf_prog_get_fd_by_id": {"prog_id": 7},
    "bpf_prog_attach": {"target_fd": 3, "prog_fd": 4, "attach_type": 6, "flags": 2},
    "bpf_prog_detach": {"target_fd": 3, "prog_fd": 4, "attach_type": 6},
    "close_range": {"first": 3, "last": 0xFFFFFFFF, "flags": c.CLOSE_RANGE_CLOEXEC},
    "prlimit": {"resource": 7, "new": (1024, 4096), "pid": 0},
    "renameat2": {
        "olddirfd": c.AT_FDCWD,
        "oldpath": "/run/x.tmp",
        "newdirfd": c.AT_FDCWD,
        "newpath": "/run/x",
        "flags": c.RENAME_EXCHANGE,
    },
    "sched_setattr": {
        "pid": 0,
        "policy": c.SCHED_BATCH,
        "flags": 0,
        "nice": 5,
        "priority": 0,
        "runtime": 0,
        "deadline": 0,
        "period": 0,
    },
}


def _public_methods(cls: type) -> set[str]:
    return {name for name, value in vars(cls).items() if callable(value) and not name.startswith("_")}


def test_every_method_has_a_sample() -> None:
    assert set(SAMPLES) == _public_methods(Syscalls)


def test_fake_overrides_every_syscalls_method() -> None:
    """A method missing from the fake would fall through to the real kernel in a unit test."""
    missing = _public_methods(Syscalls) - _public_methods(RecordingSyscalls)
    assert not missing, f"RecordingSyscalls must override {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_fake_signatures_match_the_real_ones(name: str) -> None:
    real = inspect.signature(getattr(Syscalls, name))
    fake = inspect.signature(getattr(RecordingSyscalls, name))
    assert list(real.parameters) == list(fake.parameters)
    assert [p.default for p in real.parameters.values()] == [p.default for p in fake.parameters.values()]


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_call_is_recorded(name: str) -> None:
    fake = RecordingSyscalls()
    getattr(fake, name)(**SAMPLES[name])
    assert fake.calls == [Call(name, SAMPLES[name])]


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_scripted_failure_raises_syscall_error(name: str) -> None:
    fake = RecordingSyscalls()
    fake.fail(name, errno.EPERM)
    with pytest.raises(SyscallError) as info:
        getattr(fake, name)(**SAMPLES[name])
    assert info.value.errno == errno.EPERM
    assert str(info.value).endswith(": Operation not permitted")
    assert name.split("_")[0] in str(info.value)  # the message names the call
    assert fake.names() == [name]  # the failed call is recorded too
    getattr(fake, name)(**SAMPLES[name])  # times=1: the next call succeeds


def test_failure_message_names_paths_and_flags() -> None:
    fake = RecordingSyscalls()
    fake.fail("mount", errno.ENODEV)
    with pytest.raises(SyscallError) as info:
        fake.mount("tmpfs", "/x/dev", "tmpfs", c.MS_NOSUID)
    assert str(info.value) == "mount tmpfs on /x/dev (flags=MS_NOSUID): No such device"
    assert info.value.what == "mount tmpfs on /x/dev (flags=MS_NOSUID)"


def test_failure_matches_arguments_and_counts() -> None:
    fake = RecordingSyscalls()
    fake.fail("mount", errno.EACCES, times=None, target="/rootfs/proc")
    fake.mount("proc", "/rootfs/sys", "sysfs")  # other targets are fine
    for _ in range(3):
        with pytest.raises(SyscallError):
            fake.mount("proc", pathlib.Path("/rootfs/proc"), "proc")  # a Path matches the str
    assert fake.calls_to("mount")[1].args["target"] == "/rootfs/proc"
    assert len(fake.calls) == 4


def test_failure_with_predicate() -> None:
    fake = RecordingSyscalls()
    fake.fail("unshare", errno.EINVAL, when=lambda call: bool(call.args["flags"] & c.CLONE_NEWUSER))
    fake.unshare(c.CLONE_NEWNS)
    with pytest.raises(SyscallError, match="unshare CLONE_NEWUSER"):
        fake.unshare(c.CLONE_NEWUSER)


def test_fail_rejects_unknown_names() -> None:
    with pytest.raises(AttributeError, match="mkdir"):
        RecordingSyscalls().fail("mkdir", errno.EPERM)


def test_paths_are_recorded_as_str() -> None:
    fake = RecordingSyscalls()
    fake.umount2(b"/a")
    fake.umount2(pathlib.Path("/b"), c.MNT_DETACH)
    assert [call.args["target"] for call in fake.calls] == ["/a", "/b"]


def test_fds_are_fake_and_distinct() -> None:
    fake = RecordingSyscalls()
    fds = {fake.openat2(c.AT_FDCWD, "/x"), fake.open_tree(c.AT_FDCWD, "/y", c.OPEN_TREE_CLONE)}
    assert len(fds) == 2 and min(fds) > 10000


def test_state_reads_back() -> None:
    fake = RecordingSyscalls()
    assert fake.capget() == CapSets(ALL_CAPS, ALL_CAPS, 0)
    fake.capset(1, 3, 0)
    assert fake.capget() == CapSets(1, 3, 0)
    assert fake.personality(c.PER_LINUX32) == c.PER_LINUX
    assert fake.personality(c.PERSONALITY_QUERY) == c.PER_LINUX32
    fake.prctl_set_name("a-very-long-stage-name")
    assert fake.prctl_get_name() == "a-very-long-sta"  # 15 bytes, like the kernel
    fake.ioprio_set(c.IOPRIO_WHO_PROCESS, 0, 42)
    assert fake.ioprio_get(c.IOPRIO_WHO_PROCESS, 0) == 42
    fake.prctl_results[c.PR_GET_NO_NEW_PRIVS] = 1
    assert fake.prctl(c.PR_GET_NO_NEW_PRIVS) == 1
    assert fake.keyctl_join_session_keyring() != fake.keyctl_join_session_keyring("x")


def test_fake_is_a_syscalls() -> None:
    """Subsystems annotate Syscalls; the fake must be accepted wherever the real one is."""

    def subsystem(sys: Syscalls) -> None:
        sys.unshare(c.CLONE_NEWNS)
        sys.mount(None, "/", None, c.MS_REC | c.MS_PRIVATE)

    fake = RecordingSyscalls()
    subsystem(fake)
    assert fake.names() == ["unshare", "mount"]
