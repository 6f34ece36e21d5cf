"""`libcontainer_py.run()`: run a container to completion, like subprocess.run().

>>> import libcontainer_py as lc
>>> r = lc.run("/tmp/bb", args=["date"], capture_output=True)   # doctest: +SKIP
>>> r.returncode, r.stdout                                      # doctest: +SKIP
(0, b'Mon Nov 30 12:00:00 UTC 2026\\n')
"""

from __future__ import annotations

import os

from libcontainer_py._record import Record
from libcontainer_py.errors import LibcontainerError

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from libcontainer_py.spec import Spec


class CompletedContainer(Record):
    """What run() returns: like subprocess.CompletedProcess, plus the container's id."""

    id: str
    args: list[str]
    returncode: int
    stdout: bytes | None = None
    stderr: bytes | None = None

    def check_returncode(self) -> None:
        if self.returncode != 0:
            raise ContainerFailed(self)


class ContainerFailed(LibcontainerError):
    def __init__(self, result: CompletedContainer) -> None:
        self.result = result
        super().__init__(f"container {result.id!r} ({' '.join(result.args)}) exited with status {result.returncode}")


def run(
    bundle: str | os.PathLike[str] | None = None,
    args: Sequence[str] | None = None,
    *,
    spec: Spec | None = None,
    root: str = "/run/pyrunc",
    container_id: str | None = None,
    capture_output: bool = False,
    input: bytes | None = None,
    check: bool = False,
    timeout: float | None = None,
    spawn: str = "auto",
) -> CompletedContainer:
    """Create, start and wait for a container, then delete it. `args` replaces process.args.
    With capture_output the container's stdout and stderr are returned as bytes (they go to this
    process's own stdio otherwise); `input` is written to its stdin. Works from a notebook.
    `spawn`: how the container's first child is started (Container.create: "auto", which is the
    planned init where it can do all the config asks, "vfork", "fork", "exec", "forkserver")."""
    from libcontainer_py._specload import as_runtime, load_spec
    from libcontainer_py.container import Container
    from libcontainer_py.init.fds import ensure_stdio

    ensure_stdio()  # (before the pipes below: they would take a closed 0, 1 or 2)

    if spec is None:
        if bundle is None:
            raise LibcontainerError("run() needs a bundle directory or a spec")
        spec = load_spec(os.path.join(os.fspath(bundle), "config.json"))
    else:
        given = spec
        spec = as_runtime(spec)  # a pydantic model is rebuilt: the caller's object stays as it was
        if spec is given and spec.process is not None:
            # Only process.args and process.terminal change below: a copy of the spec that has its
            # own copy of the process leaves the caller's spec as it was (a deep copy cost ~1 ms).
            spec = spec.model_copy(update={"process": spec.process.model_copy()})
    if spec.process is None:
        from libcontainer_py.errors import ConfigError

        raise ConfigError("a container needs a process to run", path="process")
    if args is not None:
        spec.process.args = list(args)
    spec.process.terminal = False  # output is relayed or captured, never a terminal here
    cid = container_id or f"run-{os.urandom(6).hex()}"  # not uuid: it imports platform and re (~6 ms)

    owned: set[int] = set()  # fds this call opened and has not closed yet

    def pipe() -> tuple[int, int]:
        r, w = os.pipe()
        owned.update((r, w))
        return r, w

    def close(fd: int | None) -> None:
        if fd is not None and fd in owned:
            owned.discard(fd)
            os.close(fd)

    try:
        stdin_r, stdin_w = pipe() if input is not None else (None, None)
        out_r, out_w = pipe() if capture_output else (None, None)
        err_r, err_w = pipe() if capture_output else (None, None)
        # start=True: the program runs as soon as the container is set up (no exec fifo round trip).
        container = Container.create(
            cid, bundle, spec=spec, root=root, stdio=(stdin_r, out_w, err_w), start=True, spawn=spawn
        )
        try:
            # Our copies of the child's ends must go, or we would never see EOF.
            for fd in (stdin_r, out_w, err_w):
                close(fd)
            stdout, stderr = _communicate(input, stdin_w, out_r, err_r, timeout, close)
            status = container.wait(timeout=timeout)
        finally:
            container.delete(force=True)
    finally:
        for fd in list(owned):
            close(fd)
    result = CompletedContainer(cid, list(spec.process.args or []), status, stdout, stderr)
    if check:
        result.check_returncode()
    return result


def _communicate(
    data: bytes | None,
    stdin_w: int | None,
    out_r: int | None,
    err_r: int | None,
    timeout: float | None,
    close: Callable[[int | None], None],
) -> tuple[bytes | None, bytes | None]:
    """Feed stdin and drain stdout/stderr together (either pipe filling up would deadlock)."""
    if stdin_w is None and out_r is None and err_r is None:
        return None, None  # nothing to relay: no selector (an epoll fd made and closed for nothing)
    import selectors  # here: only a call with capture_output or input gets here with pipes
    import time

    sel = selectors.DefaultSelector()
    chunks: dict[int, list[bytes]] = {}
    for fd in (out_r, err_r):
        if fd is not None:
            chunks[fd] = []
            sel.register(fd, selectors.EVENT_READ)
    pending = memoryview(data or b"")
    if stdin_w is not None:
        os.set_blocking(stdin_w, False)
        if pending:
            sel.register(stdin_w, selectors.EVENT_WRITE)
        else:
            close(stdin_w)
            stdin_w = None
    deadline = None if timeout is None else time.monotonic() + timeout
    while sel.get_map():
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if left == 0.0:
            raise TimeoutError(f"container output not finished after {timeout}s")
        for key, _ in sel.select(left):
            fd = key.fd if isinstance(key.fd, int) else key.fd.fileno()
            if fd == stdin_w:
                n = os.write(fd, pending[:65536])
                pending = pending[n:]
                if not pending:
                    sel.unregister(fd)
                    close(fd)
                    stdin_w = None
                continue
            block = os.read(fd, 65536)
            if block:
                chunks[fd].append(block)
            else:
                sel.unregister(fd)
    sel.close()
    return (
        b"".join(chunks[out_r]) if out_r is not None else None,
        b"".join(chunks[err_r]) if err_r is not None else None,
    )
