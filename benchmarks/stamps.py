"""Where the time of one library `run` of `true` goes: a timeline of stamps from the parent and
from the init (by hand, as root; not a benchmark against the peers, a tool for finding the cost):

    sudo .venv/bin/python benchmarks/stamps.py [-n 40] [--bundle DIR]

The library's stage functions are wrapped so that each stamps its entry (`name>`) and return
(`name<`), and the sync messages stamp when they are sent and received (`p.` the parent's side,
`c.` the child's). A stamp is a monotonic_ns written into an anonymous shared mapping at a slot
chosen from its name: the mapping survives the fork, the fd sweep and pivot_root, so the init's
stamps reach the parent. The caller never imports the pydantic models (the "lean" caller of
bench_run.py). Prints, per stamp, its median offset in ms from the start of run() over n runs.

It times the Python init (init/child.py): a run's default, the planned init (init/vinit.py), runs
no Python to stamp, so LIBCONTAINER_PY_INIT=python is set unless --planned is given (then only
the parent's stamps, the planned child's whole life between `p.` ones).

The wrapping follows the names in _create.py, init/child.py and rootfs/: a rename there drops the
stamp from the table (nothing fails). Each stamp costs ~2 us, so the total is a little above
bench_run.py's. Medians of offsets do not add up exactly: read the order and the gaps.
"""

from __future__ import annotations

import argparse
import mmap
import os
import statistics
import struct
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

SLOTS = 1024
SLOT = struct.Struct("q56s")  # monotonic_ns, then the name
_buf = mmap.mmap(-1, SLOTS * SLOT.size)  # MAP_SHARED|MAP_ANONYMOUS: the children write into ours


def stamp(name: str) -> None:
    raw = name.encode()[:56]
    SLOT.pack_into(_buf, SLOT.size * (zlib.crc32(raw) % SLOTS), time.monotonic_ns(), raw)


def read_stamps() -> dict[str, int]:
    out = {}
    for i in range(SLOTS):
        ns, raw = SLOT.unpack_from(_buf, SLOT.size * i)
        if ns:
            out[raw.rstrip(b"\0").decode()] = ns
    return out


def wrap(owner: Any, name: str) -> None:
    """Stamp `name>` and `name<` around owner.name (a module's function or a class's method)."""
    fn: Callable[..., Any] = getattr(owner, name)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        stamp(f"{name}>")
        try:
            return fn(*args, **kwargs)
        finally:
            stamp(f"{name}<")

    setattr(owner, name, wrapped)


def instrument() -> None:
    from libcontainer_py import _create, rootfs
    from libcontainer_py import container as container_mod
    from libcontainer_py.init import child, process_setup, spawn, sync

    for fn in ("prepare", "create", "_make_cgroup", "_open_join_files", "_set_limits"):
        wrap(_create, fn)
    wrap(spawn, "fork_single")
    for fn in ("preload", "_enter", "_join_cgroup", "stage2"):
        wrap(child, fn)
    wrap(rootfs, "prepare_rootfs")
    wrap(rootfs, "finalize_rootfs")
    # Inside prepare_rootfs (called through their modules: rootfs/__init__.py's _pivot, _mounts...)
    from libcontainer_py.rootfs import devices, mounts, pivot

    wrap(pivot, "prepare_root")
    wrap(mounts, "mount_all")
    wrap(devices, "create_devices")
    wrap(pivot, "pivot_root")
    wrap(process_setup, "finalize_process")
    # The planned init's parent side (its child runs no Python: its whole life is inside `start`)
    from libcontainer_py.init import vinit

    for fn in ("why_not", "start", "_start_planned"):
        wrap(vinit if fn != "_start_planned" else _create, fn)
    for fn in ("build", "run"):
        wrap(vinit._InitPlan, fn)
    for fn in ("create", "wait", "delete"):
        wrap(container_mod.Container, fn)
    wrap(container_mod, "_reap")

    # The messages. child.py imported send/expect by name; the parent calls sync.send/recv.
    # getattr/setattr: child does not re-export them, so mypy refuses plain attribute access.
    child_send, child_expect = getattr(child, "send"), getattr(child, "expect")  # noqa: B009
    recv, send = sync.recv, sync.send

    def c_send(sock: Any, kind: str, **fields: Any) -> None:
        stamp(f"c.send {kind}")
        child_send(sock, kind, **fields)

    def c_expect(sock: Any, kind: str, *args: Any, **kwargs: Any) -> Any:
        stamp(f"c.wait {kind}")
        msg = child_expect(sock, kind, *args, **kwargs)
        stamp(f"c.got {kind}")
        return msg

    def p_recv(sock: Any, *args: Any, **kwargs: Any) -> Any:
        msg = recv(sock, *args, **kwargs)
        if os.getpid() == parent:
            stamp(f"p.got {msg['type'] if msg else 'EOF'}")
        return msg

    def p_send(sock: Any, kind: str, **fields: Any) -> None:
        if os.getpid() == parent:
            stamp(f"p.send {kind}")
        send(sock, kind, **fields)

    parent = os.getpid()
    setattr(child, "send", c_send)  # noqa: B010
    setattr(child, "expect", c_expect)  # noqa: B010
    setattr(sync, "recv", p_recv)  # noqa: B010
    setattr(sync, "send", p_send)  # noqa: B010

    execve = os.execve

    def stamped_execve(*args: Any) -> Any:
        stamp("execve")
        return execve(*args)

    setattr(os, "execve", stamped_execve)  # noqa: B010


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=40)
    ap.add_argument("--bundle", help="a bundle to run (default: a busybox bundle running true)")
    ap.add_argument("--planned", action="store_true", help="the planned init (init/vinit.py): parent stamps only")
    cli = ap.parse_args()
    if not cli.planned:
        os.environ.setdefault("LIBCONTAINER_PY_INIT", "python")
    import libcontainer_py as lc

    work = Path(tempfile.mkdtemp(prefix="lcpy-stamps-"))
    root = str(work / "state")
    bundle = cli.bundle or str(lc.make_busybox_bundle(work / "bb", args=["true"]))
    instrument()
    offsets: dict[str, list[float]] = {}
    try:
        for i in range(cli.n + 3):  # 3 warm-up runs: the imports, the caches, a first fork
            _buf[:] = bytes(len(_buf))
            t0 = time.monotonic_ns()
            stamp("run>")
            lc.run(bundle, root=root).check_returncode()
            stamp("run<")
            if i >= 3:
                for name, ns in read_stamps().items():
                    offsets.setdefault(name, []).append((ns - t0) / 1e6)
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    assert "pydantic" not in sys.modules, "the lean caller imported the pydantic models"
    print(f"{'ms':>7}  stamp (median offset from run's start, n={cli.n}; p. parent, c. child)")
    for name in sorted(offsets, key=lambda k: statistics.median(offsets[k])):
        runs = len(offsets[name])
        note = "" if runs == cli.n else f"  (in {runs} runs)"
        print(f"{statistics.median(offsets[name]):7.2f}  {name}{note}")


if __name__ == "__main__":
    main()
