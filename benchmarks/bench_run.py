"""`run` of a `true` container, side by side with runc and crun in the same run (by hand, as root):

    sudo .venv/bin/python benchmarks/bench_run.py [-n 30]

Each runtime runs the same busybox bundle (made by make_busybox_bundle, args ["true"], terminal
off). crun needs a private mount namespace without the cgroup2 mount on this machine's hybrid
cgroup layout, so it runs as `unshare -m sh -c 'umount /sys/fs/cgroup/unified; exec crun ...'`;
the unshare+sh cost is measured alone and subtracted. Reports median and min in ms, and ratios.
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
import time
from pathlib import Path


def measure(fn: object, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    import libcontainer_py as lc
    from libcontainer_py.spec import Spec

    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=30)
    n = ap.parse_args().n
    work = Path(tempfile.mkdtemp(prefix="lcpy-bench-"))
    root = work / "state"
    try:
        bundle = lc.make_busybox_bundle(work / "bb", args=["true"])
        # crun 1.8 (Debian 12) refuses ociVersion 1.3.0 ("unknown version specified"): give all
        # three runtimes the same config, labelled with a version every one of them accepts.
        cfg = json.loads((bundle / "config.json").read_text())
        cfg["ociVersion"] = "1.0.2-dev"
        (bundle / "config.json").write_text(json.dumps(cfg))
        spec = Spec.load(bundle / "config.json")
        pyrunc = str(Path(sys.executable).with_name("pyrunc"))
        results: dict[str, list[float]] = {}
        counter = iter(range(10**9))

        def sh(argv: list[str]) -> None:
            subprocess.run(argv, check=True, cwd=bundle, stdout=subprocess.DEVNULL)

        results["library run() in-process"] = measure(
            lambda: lc.run(bundle, spec=spec, root=str(root)).check_returncode(), n
        )
        # The same call from a process that never imported pydantic (run(bundle) loads config.json
        # with spec.fast): the container's fork and execve cost grows with the caller's memory, and
        # the pydantic models double this process's (15 -> 31 MB resident here).
        worker = (
            "import sys, time, libcontainer_py as lc\n"
            "out = []\n"
            "for _ in range(int(sys.argv[3])):\n"
            "    t0 = time.perf_counter()\n"
            "    lc.run(sys.argv[1], root=sys.argv[2]).check_returncode()\n"
            "    out.append((time.perf_counter() - t0) * 1000)\n"
            "assert 'pydantic' not in sys.modules\n"
            "print(' '.join(map(str, out)))\n"
        )
        lean = subprocess.run(
            [sys.executable, "-c", worker, str(bundle), str(root), str(n + 3)],
            check=True,
            capture_output=True,
            text=True,
        )
        results["library run(), no pydantic"] = [float(x) for x in lean.stdout.split()][3:]
        results["pyrunc run"] = measure(lambda: sh([pyrunc, "--root", str(root), "run", f"p{next(counter)}"]), n)
        if shutil.which("runc"):
            results["runc run"] = measure(
                lambda: sh(["runc", "--root", str(work / "runc"), "run", f"r{next(counter)}"]), n
            )
        if shutil.which("crun"):
            wrap = 'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$@"'
            base = measure(lambda: sh(["unshare", "-m", "sh", "-c", wrap, "sh", "true"]), n)
            crun = measure(
                lambda: sh(
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
                        f"c{next(counter)}",
                    ]
                ),
                n,
            )
            floor = statistics.median(base)
            results["crun run (minus unshare+sh)"] = [x - floor for x in crun]
        print(f"{'runtime':<30} {'median ms':>10} {'min ms':>8}   (n={n}, true in busybox)")
        med = {k: statistics.median(v) for k, v in results.items()}
        for k, v in results.items():
            print(f"{k:<30} {med[k]:>10.1f} {min(v):>8.1f}")
        if "crun run (minus unshare+sh)" in med:
            crun_med = med["crun run (minus unshare+sh)"]
            print(f"ratio library/crun: {med['library run() in-process'] / crun_med:.2f}")
            print(f"ratio library (no pydantic)/crun: {med['library run(), no pydantic'] / crun_med:.2f}")
        if "runc run" in med:
            print(f"ratio pyrunc/runc:  {med['pyrunc run'] / med['runc run']:.2f}")
    finally:
        subprocess.run(["umount", "-R", str(work)], stderr=subprocess.DEVNULL, check=False)
        shutil.rmtree(work, ignore_errors=True)
        os.sync()


if __name__ == "__main__":
    main()
