"""A seccomp agent: logs every mkdir of a container and denies one path.

Use it with a config.json whose linux.seccomp has

    "listenerPath": "/run/mkdir-agent.sock",
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}, ...]

and start it before `pyrunc create`/`run`:

    python examples/seccomp_notify_listener.py /run/mkdir-agent.sock --deny /forbidden

The runtime connects once per container and sends the container process state with the seccomp
fd; each container is then served in a thread until its processes have all exited.

`--demo` runs the whole exchange without a container (needs root for nothing but no_new_privs,
which any process may set): a forked child loads the filter, hands its fd to the agent exactly as
the runtime does, and makes three directories, one of them denied.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading

from libcontainer_py.seccomp import compile_filter, send_listener_fd
from libcontainer_py.seccomp.load import set_no_new_privs
from libcontainer_py.seccomp.notify import (
    ContainerProcessState,
    Handler,
    Notification,
    NotifyListener,
    Reply,
    read_string,
    serve,
)

AT_FDCWD = -100


def mkdir_path(n: Notification, fd: int) -> str:
    """The absolute path a mkdir/mkdirat asks for, as the container process sees it."""
    if n.syscall == "mkdirat":
        dirfd, addr = n.args[0], n.args[1]
    else:
        dirfd, addr = AT_FDCWD, n.args[0]
    path = read_string(n.pid, addr, fd=fd, notif_id=n.id)
    if not path.startswith("/"):
        base = f"/proc/{n.pid}/cwd" if (dirfd & 0xFFFFFFFF) == (AT_FDCWD & 0xFFFFFFFF) else f"/proc/{n.pid}/fd/{dirfd}"
        path = os.path.join(os.readlink(base), path)
    return os.path.normpath(path)


def make_handler(deny: str, container: str, fd: int) -> Handler:
    def handler(n: Notification) -> Reply:
        if n.syscall not in ("mkdir", "mkdirat"):
            return Reply.allow()
        path = mkdir_path(n, fd)
        # The path is in the container's mount namespace; a real agent would resolve it there.
        verdict = "DENIED" if path == deny else "allowed"
        print(f"[{container}] pid {n.pid}: {n.syscall}({path}) {verdict}", flush=True)
        return Reply.deny(errno.EACCES) if path == deny else Reply.allow()

    return handler


def agent(sock_path: str, deny: str, once: bool = False, ready: threading.Event | None = None) -> None:
    with NotifyListener(sock_path) as listener:
        print(f"listening on {sock_path}; denying mkdir {deny}", flush=True)
        if ready is not None:
            ready.set()  # listening now: a connect before this point would be refused
        while True:
            cps = listener.accept()
            name = cps.state.get("id", "?")
            print(f"container {name} (pid {cps.pid}, metadata {cps.metadata!r}) connected", flush=True)

            def run(cps: ContainerProcessState = cps, name: str = name) -> None:
                fd = cps.seccomp_fd
                try:
                    serve(fd, make_handler(deny, name, fd))
                finally:
                    cps.close()
                    print(f"container {name}: all processes gone", flush=True)

            t = threading.Thread(target=run, daemon=not once)
            t.start()
            if once:
                t.join()
                return


def demo() -> int:
    work = tempfile.mkdtemp()
    sock_path = os.path.join(work, "agent.sock")
    deny = os.path.join(work, "forbidden")
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": sock_path,
        "listenerMetadata": "demo",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}],
    }
    compiled = compile_filter(profile)
    # The agent thread starts after the fork: a child forked while another thread runs inherits
    # whatever lock that thread held (an import lock, say) and can hang on it forever.
    ready = threading.Event()
    # A daemon: if the demo fails, the process still ends (the agent would wait for a connection).
    t = threading.Thread(target=agent, args=(sock_path, deny, True, ready), daemon=True)
    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the "container": load, hand the fd up, wait until the agent has it, mkdir
        set_no_new_privs()
        fd = compiled.load()
        assert fd is not None
        socket.send_fds(child_sock, [b"fd"], [fd])
        os.close(fd)
        child_sock.recv(1)
        results = {}
        for name in ("a", "forbidden", "b"):
            try:
                os.mkdir(os.path.join(work, name))
                results[name] = "ok"
            except OSError as exc:
                results[name] = errno.errorcode[exc.errno or 0]
        os.write(w, json.dumps(results).encode())
        os._exit(0)
    os.close(w)
    t.start()
    _, fds, _, _ = socket.recv_fds(parent_sock, 16, 1)  # the runtime's part
    state = {"ociVersion": "1.3.0", "id": "demo", "status": "creating", "pid": pid, "bundle": work}
    try:
        if not ready.wait(10):
            raise TimeoutError("the agent did not start listening")
        send_listener_fd(sock_path, fds[0], state, compiled.listener_metadata)
    except BaseException:
        os.kill(pid, signal.SIGKILL)  # it waits for "go": end it rather than leave it behind
        os.waitpid(pid, 0)
        raise
    finally:
        os.close(fds[0])
    parent_sock.send(b"go")
    with os.fdopen(r) as f:
        results = json.loads(f.read())
    os.waitpid(pid, 0)
    t.join(10)
    shutil.rmtree(work)
    print(f"container saw: {results}")
    ok = results == {"a": "ok", "forbidden": "EACCES", "b": "ok"}
    print("ok: mkdir logged, one path denied" if ok else "FAILED")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("socket", nargs="?", default="/run/mkdir-agent.sock")
    parser.add_argument("--deny", default="/forbidden", help="the directory whose creation is refused (EACCES)")
    parser.add_argument("--demo", action="store_true", help="run the exchange with a forked child, no container")
    args = parser.parse_args()
    if args.demo:
        return demo()
    agent(args.socket, args.deny)
    return 0


if __name__ == "__main__":
    sys.exit(main())
