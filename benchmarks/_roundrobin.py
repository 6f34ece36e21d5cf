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

import time
from collections.abc import Callable

ORDERS = ("round-robin", "blocks")


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
