"""The create protocol's socket (init/sync.py): messages, descriptors, and the ends of a conversation."""

from __future__ import annotations

import os

import pytest

from libcontainer_py.init import sync


def test_a_message_and_its_fds_arrive_whole() -> None:
    a, b = sync.socketpair()
    r, w = os.pipe()
    try:
        sync.send(a, "cgroup-done", fds=[r], files=["/x/tasks"])
        msg = sync.recv(b, timeout=5)
        assert msg is not None and msg["type"] == "cgroup-done" and msg["files"] == ["/x/tasks"]
        (got,) = msg["fds"]
        os.write(w, b"x")
        assert os.read(got, 1) == b"x"  # the same pipe, a new fd
        os.close(got)
    finally:
        for fd in (r, w):
            os.close(fd)
        a.close()
        b.close()


def test_eof_is_none_and_expect_names_what_it_waited_for() -> None:
    a, b = sync.socketpair()
    b.close()
    assert sync.recv(a, timeout=5) is None
    with pytest.raises(sync.ProtocolError, match="waited for 'ready'"):
        sync.expect(a, "ready", timeout=5)
    a.close()


def test_the_childs_last_words_survive_our_unread_messages() -> None:
    """The parent sends "cgroup-done" and "limits-done" unasked; a child that failed before reading
    them sends its error and exits. Closing a socket with unread data makes the kernel report
    ECONNRESET to the other side first; the error must still be read, not taken for a silent EOF
    (it was, 3 creates in 60, and a send to the dead child raised BrokenPipeError in 20 more)."""
    for send_first in (False, True):
        parent, child = sync.socketpair()
        try:
            sync.send(parent, "cgroup-done", files=[])
            sync.send(parent, "limits-done")
            sync.send(child, "error", stage="rootfs", message="linux.namespaces: a mount namespace is required")
            child.close()  # with our two messages unread
            if send_first:  # a send gets the reset (what _create's cgroup_done catches), or EPIPE
                with pytest.raises((BrokenPipeError, ConnectionResetError)):
                    sync.send(parent, "limits-done")
            msg = sync.recv(parent, timeout=5)
            assert msg is not None and msg["type"] == "error" and "mount namespace" in msg["message"], send_first
            assert sync.recv(parent, timeout=5) is None
        finally:
            parent.close()
