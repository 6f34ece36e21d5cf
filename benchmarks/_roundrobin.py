"""The benchmarks' one way to time: round-robin over the candidates (or in blocks).

"round-robin" (the default): each round runs every candidate once, so that a burst of load on this
small VM (its speed drifts 20-30 % within an hour) hits all of them alike. "blocks": n runs of one
candidate, then of the next, as hyperfine does: more exposed to drift, but each candidate then
runs back to back, which some of them like. runc, for one: it moves each process into its cgroup
through cgroup.procs, whose lock waits for an RCU grace period after an idle moment (5-15 ms
here, docs/performance.md), so a runc call right after another runc call is cheaper than one
after a call of another runtime. Both orders are reported where it matters.
`gap` (ms): an idle moment before each timed call, as an orchestrator's calls come, rather than
back to back: it shows the cgroup.procs wait above (crun here moves its processes through
cgroup.procs too) and this VM's slow wake-up of an idle vCPU.
A candidate may return its own time in ms (a worker process that times itself), or None to be
timed here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable

ORDERS = ("round-robin", "blocks")


# Container ids of this benchmark process: runc and crun put a container without cgroupsPath in the
# cgroup "/<id>" (and pyrunc in "/pyrunc/<id>"), so a plain "r1" would share the cgroup of any other
# container of that name on the host (a `runc delete` then fails with "device or resource busy").
ID_PREFIX = f"lcpyb{os.getpid()}-"


def bench_id(name: str) -> str:
    """A container id unique to this benchmark process."""
    return ID_PREFIX + name


def measure(
    fns: dict[str, Callable[[], float | None]], n: int, *, order: str = "round-robin", warmup: int = 1, gap: float = 0
) -> dict[str, list[float]]:
    for _ in range(warmup):  # the page cache, the seccomp and validator caches, a first fork
        for fn in fns.values():
            fn()
    out: dict[str, list[float]] = {name: [] for name in fns}
    if order == "round-robin":
        plan = [name for _ in range(n) for name in fns]
    elif order == "blocks":
        plan = [name for name in fns for _ in range(n)]
    else:
        raise ValueError(f"order: one of {ORDERS}, not {order!r}")
    for name in plan:
        if gap:
            time.sleep(gap / 1000)
        t0 = time.perf_counter()
        own = fns[name]()
        out[name].append(own if own is not None else (time.perf_counter() - t0) * 1000)
    return out


class LeanWorker:
    """A Python process that never imports the pydantic models, timing the library's call itself:
    `body` (Python source, run with `args` as sys.argv[1:]) defines `call()`; the worker runs it once
    per line it reads and answers with the ms it took. A caller's fork and its child's execve cost
    grow with the caller's memory, and the pydantic models double a process's (15 -> 31 MB
    resident here). A candidate for measure(): calling it returns the worker's own time."""

    def __init__(self, body: str, *args: str) -> None:
        src = (
            f"import sys, time\n{body}\n"
            "for _ in sys.stdin:\n"
            "    t0 = time.perf_counter()\n"
            "    call()\n"
            "    print((time.perf_counter() - t0) * 1000, 'pydantic' in sys.modules, flush=True)\n"
        )
        self._proc = subprocess.Popen(
            [sys.executable, "-c", src, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def __call__(self) -> float:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write("\n")
        self._proc.stdin.flush()
        ms, pydantic = self._proc.stdout.readline().split()
        assert pydantic == "False", "the worker imported the pydantic models"
        return float(ms)

    def close(self) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        self._proc.wait()
