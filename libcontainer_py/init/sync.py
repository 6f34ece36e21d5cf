"""The parent/child synchronisation protocol of `create`.

One SOCK_SEQPACKET socketpair: each message is one JSON object (a datagram, so never split or
merged). Any stage that fails sends {"type": "error", ...} and exits; the parent raises it with the
stage and the config field. The parent learns that the init has finished its setup when the init
closes its end (EOF) just before it blocks on the exec fifo, so a failure anywhere before that
reaches `create`, never a half-made container.

    parent (create)                stage-1 "pyrunc:[1:CHILD]"        stage-2 "pyrunc:[2:INIT]"
      |  spawn ---------------------->| import the init's modules (child.preload)
      | allow it every CPU but ours   | non-dumpable, close inherited fds
      | (spawn.py off_our_cpu);       | setns(every path), user first, mount last
      | check the cgroup's driver and | unshare(CLONE_NEWUSER)         (when a new user ns)
      | limits, create the cgroup,    |
      | name it in the state          |
      |<---------- userns ------------|
      | write uid_map, gid_map        |
      |----------- userns-done ------>|
      |                               | setresuid/gid(0)
      |                               | unshare(other new namespaces but cgroup),
      |                               | time offsets, lo up
      |<---------- cgroup ------------|
      | [v2: move stage-1 in]         |
      |--- cgroup-done [+ SCM_RIGHTS: |
      |  each v1 `tasks` file] ------>| the caller's CPUs back; [v1: join it, writing "0" to each]
      | every limit of                | unshare(CLONE_NEWCGROUP)
      | linux.resources but pids      | fork ---------------------------->|
      |----------------------------------------------- limits-done ------>|
      |<---------- pid {pid} ---------|                                    |
      | [move linux.netDevices in]    | _exit(0)                           |
      |                                                                    | setsid, keyring, "/" rslave,
      |                                                                    | the rootfs bound on itself;
      |                                                                    | reads limits-done, mounts
      |<---------------------------------------------- hooks -------------| (only with such hooks)
      | prestart, createRuntime hooks                                      |
      |----------------------------------------------- hooks-done ------->| createContainer hooks
      |                                                                    | pivot_root
      |<------------------------------------ console + SCM_RIGHTS(master)-| [terminal: a pty of the
      | to --console-socket, or kept to relay                              | container's devpts]
      |                                                                    | hostname, sysctl, masked paths
      |<---------------------------------------------- ready -------------|
      | pids limit; process.rlimits, on the                                |
      | init (prlimit: in the host's user ns)                              |
      |----------------------------------------------- run -------------->|
      |                                                                    | no_new_privs, seccomp,
      |<------------------------------------ seccomp-fd + SCM_RIGHTS -----| [notify: listener fd]
      | to linux.seccomp.listenerPath                                      |
      |----------------------------------------------- seccomp-fd-done ->| capabilities, user, cwd,
      |                                                                    | look up the executable
      |<---------------------------------------------- EOF (close) -------|
      | waitpid(stage-1), save state "created", return                     | open exec.fifo: blocks
    start: open exec.fifo for reading, read 1 byte ------------------------>| startContainer hooks,
      poststart hooks                                                        execve(args)

    Container.create(start=True) (what run() uses): no exec.fifo is made; the parent sends
    "run" with exec: true; the init skips the fifo and goes on to its startContainer hooks and
    execve as soon as it has closed its end; the parent runs the poststart hooks after the EOF.
    Where the parent has nothing to do at "ready" (no user namespace, pids limit, net device or
    terminal: _create.needs_run_barrier, told in InitConfig.wait_run), no "run" is sent at all:
    the init sets its process.rlimits itself after "ready" (in the host's user namespace, as the
    parent would have) and goes on, ~0.3-0.5 ms less per run here.

Without a user namespace (new or joined), a joined pid namespace or a time namespace (child.py
single_stage), there is no stage 1: the parent unshares CLONE_NEWPID for its children only, forks
the init straight into the new pid namespace (spawn.py, pidfork.py), and sets its pid_for_children
back. The init does stage 1's part itself (non-dumpable, fds closed, setns, unshare, "cgroup"; it
imports its modules while it waits for "cgroup-done", unless it joins a mount namespace) and goes
on as stage 2; the parent knows its pid from the fork, so no "pid" message comes. It needs nothing
from the parent before the cgroup, so the parent sends "cgroup-done" and "limits-done" as soon as
it can, without waiting for "cgroup": the init finds them in the socket.
"""

from __future__ import annotations

import _socket  # not socket: its enums and selectors cost ~1.5 ms of every create and exec here
import os
import select
import sys

from libcontainer_py import _json
from libcontainer_py.errors import LibcontainerError
from libcontainer_py.init.stage import Stage, failure_message

__all__ = ["Stage", "child_fail", "expect", "failure_message", "recv", "send", "socketpair"]

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from typing import Any

MAX_MESSAGE = 65536
MAX_FDS = 32  # the pty master, the seccomp listener, or one cgroup `tasks` file per v1 hierarchy


class InitError(LibcontainerError):
    """A stage of the container init failed; the message names the stage and the config field."""


class ProtocolError(LibcontainerError):
    pass


def socketpair() -> tuple[_socket.socket, _socket.socket]:
    # CLOEXEC (Python's default, done in C): nothing the user program execs may inherit this channel.
    return _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)


def send(sock: _socket.socket, kind: str, *, fds: list[int] | None = None, **fields: Any) -> None:
    """One message; `fds` travel with it as SCM_RIGHTS (the pty master, for one)."""
    data = _json.dumps({"type": kind, **fields}).encode()
    if fds:
        # socket.send_fds: the fds as an array of C ints in one SCM_RIGHTS message
        rights = b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in fds)
        sock.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, rights)])
    else:
        sock.send(data)


def recv(sock: _socket.socket, timeout: float | None = None) -> dict[str, Any] | None:
    """The next message, or None at EOF (the other side closed or died)."""
    if timeout is not None:
        ready, _, _ = select.select([sock], [], [], timeout)
        if not ready:
            raise ProtocolError(f"container init did not answer within {timeout:.0f}s")
    try:
        data, ancillary, flags, _addr = sock.recvmsg(MAX_MESSAGE, _socket.CMSG_SPACE(MAX_FDS * 4))
    except ConnectionResetError:
        # The other side closed with a message of ours unread (the parent sends "cgroup-done" and
        # "limits-done" without being asked): the kernel reports that first, once, and what it
        # sent before it closed (its error, say) is still queued behind.
        try:
            data, ancillary, flags, _addr = sock.recvmsg(
                MAX_MESSAGE, _socket.CMSG_SPACE(MAX_FDS * 4), _socket.MSG_DONTWAIT
            )
        except (BlockingIOError, ConnectionResetError):
            return None
    fds = [
        int.from_bytes(rights[i : i + 4], sys.byteorder, signed=True)
        for level, kind, rights in ancillary
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS
        for i in range(0, len(rights) - len(rights) % 4, 4)
    ]
    if flags & _socket.MSG_CTRUNC:
        for fd in fds:
            os.close(fd)
        raise ProtocolError(f"more than {MAX_FDS} file descriptors in one message from container init")
    if not data:
        for fd in fds:
            os.close(fd)
        return None
    msg = _json.loads(data)
    if fds:
        msg["fds"] = fds  # the receiver owns them now
    if not isinstance(msg, dict) or "type" not in msg:
        raise ProtocolError(f"malformed message from container init: {data[:100]!r}")
    return msg


def expect(sock: _socket.socket, kind: str, timeout: float | None = None) -> dict[str, Any]:
    msg = recv(sock, timeout)
    if msg is None:
        raise ProtocolError(f"container init exited while the runtime waited for {kind!r}")
    if msg["type"] == "error":
        raise InitError(str(msg.get("message")))
    if msg["type"] != kind:
        raise ProtocolError(f"container init sent {msg['type']!r} while the runtime waited for {kind!r}")
    return msg


def child_fail(sock: _socket.socket, stage: str, exc: BaseException) -> None:
    """In a child: report the failure to the parent, then the caller exits."""
    message = failure_message(exc)
    try:
        send(sock, "error", stage=stage, message=message)
    except OSError:
        os.write(2, f"pyrunc init ({stage}): {message}\n".encode())
