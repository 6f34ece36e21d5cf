"""Issue 5's speed checks, pyrunc and runc side by side (by hand, as root):

    sudo .venv/bin/python benchmarks/bench_cgroups.py [-n 20]

1. create+start+delete of a `true` container with memory, pids and cpu limits vs without, for
   each runtime (`run`: create, start, wait, delete). Target: with/without ~ 1.0.
2. `events --stats ID` of one running container (with the limits): pyrunc vs runc. Target: < 2x.

Both runtimes get the same bundle; each container's cgroupsPath is absolute (/bench-<rt>/<id>) so
runc does not put it under the caller's own cgroup. Reports median and min in ms, and the ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _roundrobin import ORDERS, bench_id, measure  # benchmarks/ is sys.path[0] when a script here runs

LIMITS = {
    "memory": {"limit": 256 << 20, "swap": 256 << 20},
    "pids": {"limit": 100},
    "cpu": {"shares": 512, "quota": 50000, "period": 100000},
}


def make_bundle(work: Path, name: str, args: list[str], limits: bool) -> Path:
    import libcontainer_py as lc

    bundle = lc.make_busybox_bundle(work / name, args=args)
    cfg: dict[str, Any] = json.loads((bundle / "config.json").read_text())
    cfg["ociVersion"] = "1.0.2-dev"  # runc 1.1 takes it; the configs are otherwise identical
    if limits:
        cfg["linux"].setdefault("resources", {}).update(LIMITS)
    (bundle / "config.json").write_text(json.dumps(cfg))
    return bundle


def set_cgroups_path(bundle: Path, path: str) -> None:
    cfg = json.loads((bundle / "config.json").read_text())
    cfg["linux"]["cgroupsPath"] = path
    (bundle / "config.json").write_text(json.dumps(cfg))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--order", choices=ORDERS, default="round-robin", help="see benchmarks/_roundrobin.py")
    ap.add_argument("--gap", type=float, default=0, help="ms idle before each call (benchmarks/_roundrobin.py)")
    cli = ap.parse_args()
    n = cli.n
    work = Path(tempfile.mkdtemp(prefix="lcpy-bench-cg-"))
    os.chmod(work, 0o755)
    runtimes = {"pyrunc": [str(Path(sys.executable).with_name("pyrunc"))]}
    if shutil.which("runc"):
        runtimes["runc"] = [shutil.which("runc") or "runc"]
    counter = iter(range(10**9))
    results: dict[str, list[float]] = {}
    started: list[tuple[list[str], str, str]] = []
    try:
        bundles = {lim: make_bundle(work, f"bb-{lim}", ["true"], lim) for lim in (False, True)}
        runs: dict[str, Callable[[], float | None]] = {}
        for name, cmd in runtimes.items():
            for lim in (False, True):

                def once(cmd: list[str] = cmd, root: str = str(work / f"state-{name}"),
                         bundle: Path = bundles[lim], name: str = name) -> None:  # fmt: skip
                    cid = bench_id(f"b{next(counter)}")
                    set_cgroups_path(bundle, f"/bench-{name}/{cid}")
                    subprocess.run([*cmd, "--root", root, "run", "--bundle", str(bundle), cid], check=True,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)  # fmt: skip

                runs[f"{name} run {'with' if lim else 'without'} limits"] = once
        results.update(measure(runs, n, order=cli.order, gap=cli.gap))

        sleeper = make_bundle(work, "bb-sleep", ["sleep", "1000"], True)
        stats: dict[str, Callable[[], float | None]] = {}
        for name, cmd in runtimes.items():
            root = str(work / f"state-{name}")
            cid = bench_id(f"ev-{name}")
            set_cgroups_path(sleeper, f"/bench-{name}/{cid}")
            with open(work / "err", "w") as err:  # not a pipe: the detached container holds it
                subprocess.run([*cmd, "--root", root, "run", "-d", "--bundle", str(sleeper), cid], check=True,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
            started.append((cmd, root, cid))

            def one_stats(cmd: list[str] = cmd, root: str = root, cid: str = cid) -> None:
                subprocess.run([*cmd, "--root", root, "events", "--stats", cid], check=True,
                               stdout=subprocess.DEVNULL)  # fmt: skip

            stats[f"{name} events --stats"] = one_stats
        results.update(measure(stats, n, order=cli.order, gap=cli.gap))
    finally:
        for cmd, root, cid in started:
            subprocess.run([*cmd, "--root", root, "delete", "--force", cid], check=False)
        for name in runtimes:
            for c in os.listdir("/sys/fs/cgroup"):
                with contextlib.suppress(OSError):
                    os.rmdir(f"/sys/fs/cgroup/{c}/bench-{name}")
        shutil.rmtree(work, ignore_errors=True)

    print(f"(n={n} {cli.order} gap {cli.gap:g} ms)")
    width = max(map(len, results))
    for label, times in results.items():
        print(f"{label:<{width}}  median {statistics.median(times):7.1f} ms   min {min(times):7.1f} ms")
    med = {k: statistics.median(v) for k, v in results.items()}
    for name in runtimes:
        ratio = med[f"{name} run with limits"] / med[f"{name} run without limits"]
        print(f"{name}: with limits / without = {ratio:.2f}")
    if "runc" in runtimes:
        print(f"events --stats pyrunc / runc = {med['pyrunc events --stats'] / med['runc events --stats']:.2f}")
        with_l = med["pyrunc run with limits"] / med["runc run with limits"]
        print(f"run with limits pyrunc / runc = {with_l:.2f}")


if __name__ == "__main__":
    main()
