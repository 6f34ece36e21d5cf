"""The seccomp-notify plumbing that needs no root: the container process state over a unix socket
(SCM_RIGHTS), the ioctl numbers and struct layouts, and the replies."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import pytest

from libcontainer_py.seccomp import notify as n
from libcontainer_py.seccomp import send_listener_fd


def test_ioctl_numbers_match_the_uapi_header() -> None:
    # From <linux/seccomp.h> as compiled on x86_64: _IOWR('!', 0, struct seccomp_notif) and friends.
    assert n.SECCOMP_IOCTL_NOTIF_RECV == 0xC0502100
    assert n.SECCOMP_IOCTL_NOTIF_SEND == 0xC0182101
    assert n.SECCOMP_IOCTL_NOTIF_ID_VALID == 0x40082102


def test_struct_sizes_match_the_running_kernel() -> None:
    from libcontainer_py.seccomp.load import notif_sizes

    assert notif_sizes() == (80, 24, 64)


def test_replies() -> None:
    assert n.Reply.allow() == n.Reply(val=0, error=0, flags=n.SECCOMP_USER_NOTIF_FLAG_CONTINUE)
    assert n.Reply.deny(errno.EACCES).error == -errno.EACCES
    assert n.Reply.deny().error == -errno.EPERM
    assert n.Reply.value(42) == n.Reply(val=42)


def test_state_and_fd_reach_the_listener(tmp_path: Path) -> None:
    path = str(tmp_path / "agent.sock")
    r, w = os.pipe()
    state = {"ociVersion": "1.3.0", "id": "c1", "status": "creating", "pid": 4422, "bundle": "/b", "annotations": {}}
    got: list[n.ContainerProcessState] = []
    with n.NotifyListener(path) as listener:
        t = threading.Thread(target=lambda: got.append(listener.accept(timeout=5)))
        t.start()
        send_listener_fd(path, w, state, "MKNOD=/dev/null")
        t.join(5)
    os.close(w)
    cps = got[0]
    assert (cps.oci_version, cps.pid, cps.metadata, cps.state) == ("1.3.0", 4422, "MKNOD=/dev/null", state)
    assert list(cps.fds) == ["seccompFd"]
    # The received fd is the pipe's write end: prove it by writing through it.
    os.write(cps.seccomp_fd, b"x")
    assert os.read(r, 1) == b"x"
    cps.close()
    os.close(r)
    assert not os.path.exists(path)


def test_container_process_state_shape() -> None:
    msg = n.container_process_state({"id": "c", "pid": 7, "status": "creating"}, None)
    assert msg == {
        "ociVersion": "1.3.0",
        "fds": ["seccompFd"],
        "pid": 7,
        "state": {"id": "c", "pid": 7, "status": "creating"},
    }


def test_no_listener_is_an_error_naming_the_field(tmp_path: Path) -> None:
    with pytest.raises(n.NotifyError) as info:
        send_listener_fd(str(tmp_path / "absent.sock"), 0, {"pid": 1})
    assert str(info.value).startswith(f"linux.seccomp.listenerPath ({tmp_path}/absent.sock): sending the seccomp fd: ")


def test_read_string_from_own_memory() -> None:
    import ctypes

    buf = ctypes.create_string_buffer(b"/some/path\0garbage")
    assert n.read_string(os.getpid(), ctypes.addressof(buf)) == "/some/path"
