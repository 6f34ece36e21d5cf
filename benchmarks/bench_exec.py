"""`exec` of `true` into a running container, side by side with runc and crun (by hand, as root):

    sudo .venv/bin/python benchmarks/bench_exec.py [-n 30] [--seccomp]

One busybox container per runtime runs `sleep`; each exec runs `true` in it. crun runs in a
private mount namespace without the cgroup2 mount (this machine's hybrid layout), whose cost
(unshare + sh, measured alone) is subtracted. Reports median and min in ms, and the ratios the
issue asks for: the library's exec against crun's, pyrunc's against runc's. With --seccomp every
container has the default seccomp profile (libcontainer_py.seccomp.profiles, Docker's), as
podman's and containerd's do: each runtime then loads the filter into every exec'd process.
"""

from __future__ import annotations

import argparse
import json
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
    from libcontainer_py.container import Container
    from libcontainer_py.spec import Process

    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=30)
    ap.add_argument("--order", choices=ORDERS, default="round-robin", help="see benchmarks/_roundrobin.py")
    ap.add_argument("--gap", type=float, default=0, help="ms idle before each call (benchmarks/_roundrobin.py)")
    ap.add_argument(
        "--seccomp", action="store_true", help="the containers have the default seccomp profile (as podman's do)"
    )
    cli = ap.parse_args()
    n = cli.n
    work = Path(tempfile.mkdtemp(prefix="lcpy-bench-exec-"))
    pyrunc = str(Path(sys.executable).with_name("pyrunc"))
    root = str(work / "state")
    wrap = 'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$@"'
    crun_pre = ["unshare", "-m", "sh", "-c", wrap, "sh", "crun", "--root", str(work / "crun")]

    def sh(argv: list[str]) -> None:
        subprocess.run(argv, check=True, cwd=bundle, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        return None

    try:
        bundle = lc.make_busybox_bundle(work / "bb", args=["sleep", "1000"])
        cfg = json.loads((bundle / "config.json").read_text())
        cfg["ociVersion"] = "1.0.2-dev"  # crun 1.8 refuses 1.3.0
        if cli.seccomp:
            from libcontainer_py.seccomp.profiles import default_profile

            cfg["linux"]["seccomp"] = default_profile()
        (bundle / "config.json").write_text(json.dumps(cfg))
        sh([pyrunc, "--root", root, "run", "-d", bench_id("p")])
        container = Container.load(bench_id("p"), root)
        proc = Process(args=["true"], cwd="/", env=["PATH=/bin:/usr/bin"])

        def library() -> None:
            container.exec(proc)

        # The same exec from a process that never imported pydantic (the process given as a dict).
        lean_body = (
            "from libcontainer_py.container import Container\n"
            "c = Container.load(sys.argv[1], sys.argv[2])\n"
            "proc = {'args': ['true'], 'cwd': '/', 'env': ['PATH=/bin:/usr/bin']}\n"
            "def call(): assert c.exec(proc).exit_status == 0"
        )
        lean = LeanWorker(lean_body, bench_id("p"), root)
        # And from a caller with a second thread (a notebook's kernel): exec's child is not a fork
        # (init/vspawn.py), so it needs no fork server; before stop 21 "auto" took the server.
        second_thread = "import threading\nthreading.Thread(target=threading.Event().wait, daemon=True).start()\n"
        threaded = LeanWorker(second_thread + lean_body, bench_id("p"), root)

        candidates: dict[str, Callable[[], float | None]] = {
            "library exec() in-process": library,
            "library exec(), no pydantic": lean,
            "library exec(), threaded caller": threaded,
            "pyrunc exec": lambda: sh([pyrunc, "--root", root, "exec", bench_id("p"), "true"]),
        }
        if shutil.which("runc"):
            sh(["runc", "--root", str(work / "runc"), "run", "-d", bench_id("r")])
            candidates["runc exec"] = lambda: sh(["runc", "--root", str(work / "runc"), "exec", bench_id("r"), "true"])
        crun_name = "crun exec (minus unshare+sh)"
        if shutil.which("crun"):
            sh([*crun_pre, "run", "-d", bench_id("c")])
            candidates["unshare+sh"] = lambda: sh(["unshare", "-m", "sh", "-c", wrap, "sh", "true"])
            candidates[crun_name] = lambda: sh([*crun_pre, "exec", bench_id("c"), "true"])
        results = measure(candidates, n, order=cli.order, gap=cli.gap)
        lean.close()
        threaded.close()
        if crun_name in results:
            base = statistics.median(results.pop("unshare+sh"))
            results[crun_name] = [x - base for x in results[crun_name]]
        med = {k: statistics.median(v) for k, v in results.items()}
        how = f"n={n} {cli.order} gap {cli.gap:g} ms, exec of true{', seccomp' if cli.seccomp else ''}"
        print(f"{'runtime':<32} {'median ms':>10} {'min ms':>8}   ({how})")
        for k, v in results.items():
            print(f"{k:<32} {med[k]:>10.1f} {min(v):>8.1f}")
        if "crun exec (minus unshare+sh)" in med:
            crun_med = med["crun exec (minus unshare+sh)"]
            print(f"ratio library/crun: {med['library exec() in-process'] / crun_med:.2f}")
            print(f"ratio library (no pydantic)/crun: {med['library exec(), no pydantic'] / crun_med:.2f}")
            print(f"ratio library (threaded caller)/crun: {med['library exec(), threaded caller'] / crun_med:.2f}")
        if "runc exec" in med:
            print(f"ratio pyrunc/runc:  {med['pyrunc exec'] / med['runc exec']:.2f}")
    finally:
        subprocess.run([pyrunc, "--root", root, "delete", "-f", bench_id("p")], check=False)
        subprocess.run(
            ["runc", "--root", str(work / "runc"), "delete", "-f", bench_id("r")],
            check=False,
            stderr=subprocess.DEVNULL,
        )
        subprocess.run([*crun_pre, "delete", "-f", bench_id("c")], check=False, stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
