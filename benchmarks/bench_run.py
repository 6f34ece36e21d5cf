"""`run` of a `true` container, side by side with runc and crun in the same run (by hand, as root):

    sudo .venv/bin/python benchmarks/bench_run.py [-n 30] [--seccomp]

Each runtime runs the same busybox bundle (made by make_busybox_bundle, args ["true"], terminal
off). crun needs a private mount namespace without the cgroup2 mount on this machine's hybrid
cgroup layout, so it runs as `unshare -m sh -c 'umount /sys/fs/cgroup/unified; exec crun ...'`;
the unshare+sh cost is measured alone and subtracted. The candidates run round-robin (one of each
per round). Reports median and min in ms, and ratios. The library runs in three callers: this
process (with the pydantic models), a lean one without them, and one with a second thread (whose
containers' init is the planned one too, init/vinit.py, which forks nothing of the caller's; the
fork server, for a config the planned init cannot take). With --seccomp the container has the default seccomp
profile (libcontainer_py.seccomp.profiles, Docker's), as podman's and containerd's do: runc and
crun compile it with libseccomp at every start; libcontainer-py compiles it once and keeps the
program in a cache under its state root (docs/seccomp-and-hooks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from _roundrobin import ORDERS, LeanWorker, bench_id, measure  # benchmarks/ is sys.path[0] when a script here runs


def main() -> None:
    import libcontainer_py as lc
    from libcontainer_py.spec import Spec

    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=30)
    ap.add_argument("--order", choices=ORDERS, default="round-robin", help="see benchmarks/_roundrobin.py")
    ap.add_argument("--gap", type=float, default=0, help="ms idle before each call (benchmarks/_roundrobin.py)")
    ap.add_argument(
        "--seccomp", action="store_true", help="the container has the default seccomp profile (as podman's do)"
    )
    cli = ap.parse_args()
    n = cli.n
    work = Path(tempfile.mkdtemp(prefix="lcpy-bench-"))
    root = work / "state"
    try:
        bundle = lc.make_busybox_bundle(work / "bb", args=["true"])
        # crun 1.8 (Debian 12) refuses ociVersion 1.3.0 ("unknown version specified"): give all
        # three runtimes the same config, labelled with a version every one of them accepts.
        cfg = json.loads((bundle / "config.json").read_text())
        cfg["ociVersion"] = "1.0.2-dev"
        if cli.seccomp:
            from libcontainer_py.seccomp.profiles import default_profile

            cfg["linux"]["seccomp"] = default_profile()
        (bundle / "config.json").write_text(json.dumps(cfg))
        spec = Spec.load(bundle / "config.json")
        pyrunc = str(Path(sys.executable).with_name("pyrunc"))
        counter = iter(range(10**9))

        def sh(argv: list[str]) -> None:
            subprocess.run(argv, check=True, cwd=bundle, stdout=subprocess.DEVNULL)
            return None

        def library() -> None:
            lc.run(bundle, spec=spec, root=str(root)).check_returncode()

        # The same call from a process that never imported pydantic (run(bundle) loads config.json
        # with spec.fast).
        lean = LeanWorker(
            "import libcontainer_py as lc\n"
            "def call(): lc.run(sys.argv[1], root=sys.argv[2]).check_returncode()",
            str(bundle),
            str(root),
        )

        # And from a caller with a second thread (a notebook's kernel): "auto" takes the planned
        # init (init/vinit.py), which needs no fork server; for a config it cannot take, the fork
        # server (init/forkserver.py), started by the first such call, ended with the worker.
        threaded = LeanWorker(
            "import threading\n"
            "threading.Thread(target=threading.Event().wait, daemon=True).start()\n"
            "import libcontainer_py as lc\n"
            "def call(): lc.run(sys.argv[1], root=sys.argv[2]).check_returncode()",
            str(bundle),
            str(root),
        )

        candidates: dict[str, Callable[[], float | None]] = {
            "library run() in-process": library,
            "library run(), no pydantic": lean,
            "library run(), threaded caller": threaded,
            "pyrunc run": lambda: sh([pyrunc, "--root", str(root), "run", bench_id(f"p{next(counter)}")]),
        }
        if shutil.which("runc"):
            runc_root = str(work / "runc")
            candidates["runc run"] = lambda: sh(["runc", "--root", runc_root, "run", bench_id(f"r{next(counter)}")])
        crun_name = "crun run (minus unshare+sh)"
        wrap = 'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$@"'
        if shutil.which("crun"):
            candidates["unshare+sh"] = lambda: sh(["unshare", "-m", "sh", "-c", wrap, "sh", "true"])
            candidates[crun_name] = lambda: sh(
                [
                    "unshare",
                    "-m",
                    "sh",
                    "-c",
                    wrap,
                    "sh",
                    "crun",
                    "--root",
                    str(work / "crun"),
                    "run",
                    bench_id(f"c{next(counter)}"),
                ]
            )
        results = measure(candidates, n, order=cli.order, gap=cli.gap)
        lean.close()
        threaded.close()
        if crun_name in results:
            floor = statistics.median(results.pop("unshare+sh"))
            results[crun_name] = [x - floor for x in results[crun_name]]
        how = f"n={n} {cli.order} gap {cli.gap:g} ms, true in busybox{', seccomp' if cli.seccomp else ''}"
        print(f"{'runtime':<30} {'median ms':>10} {'min ms':>8}   ({how})")
        med = {k: statistics.median(v) for k, v in results.items()}
        for k, v in results.items():
            print(f"{k:<30} {med[k]:>10.1f} {min(v):>8.1f}")
        if "crun run (minus unshare+sh)" in med:
            crun_med = med["crun run (minus unshare+sh)"]
            print(f"ratio library/crun: {med['library run() in-process'] / crun_med:.2f}")
            print(f"ratio library (no pydantic)/crun: {med['library run(), no pydantic'] / crun_med:.2f}")
            print(f"ratio library (threaded caller)/crun: {med['library run(), threaded caller'] / crun_med:.2f}")
        if "runc run" in med:
            print(f"ratio pyrunc/runc:  {med['pyrunc run'] / med['runc run']:.2f}")
    finally:
        subprocess.run(["umount", "-R", str(work)], stderr=subprocess.DEVNULL, check=False)
        shutil.rmtree(work, ignore_errors=True)
        os.sync()


if __name__ == "__main__":
    main()
