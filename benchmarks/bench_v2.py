"""The library's `run` and `exec` of `true` on a pure cgroup v2 layout, back to back and after idle
moments (by hand, as root, on a hybrid host: one with a cgroup2 mount at /sys/fs/cgroup/unified):

    sudo .venv/bin/python benchmarks/bench_v2.py [-n 40] [--tree DIR ...]

The runtime takes its v2 driver where /sys/fs/cgroup is a cgroup2 mount alone. This host keeps its
controllers on v1, but a process with its own mount namespace can mount the host's cgroup2
hierarchy at /sys/fs/cgroup and see that layout (tests/integration/test_cgroups_v1.py does the same
for the tests). Each tree (default: this checkout; another git worktree to compare, whose shim
must be built) runs in a child process of its own, in such a namespace, one after the other.

What it shows is the kernel's wait for an RCU grace period after an idle moment (~10 ms here) that
a move through cgroup.procs and a cgroup2 mount made from the host's cgroup namespace take, which
a child born in its cgroup (clone3 CLONE_INTO_CGROUP) and a cgroup2 bind do not
(docs/performance.md, "cgroup v2: born in the cgroup"). crun is not beside it: on that layout here
it stops at `setrlimit (RLIM_MEMLOCK): Operation not permitted`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

UNIFIED = "/sys/fs/cgroup/unified"
HERE = Path(__file__).resolve().parent

# Run by each tree's child: its own mount namespace with /sys/fs/cgroup the cgroup2 hierarchy alone.
WORKER = r"""
import os, statistics, sys, time
sys.path.insert(0, sys.argv[1])  # before any import of the package: this tree's
from libcontainer_py import _sys
from libcontainer_py._sys import consts as c

_sys.unshare(c.CLONE_NEWNS)
_sys.mount("none", "/", None, c.MS_REC | c.MS_PRIVATE, None)
_sys.umount2("/sys/fs/cgroup", c.MNT_DETACH)
_sys.mount("none", "/sys/fs/cgroup", "cgroup2", 0, None)
import libcontainer_py as lc
from libcontainer_py.container import Container

assert lc.__file__.startswith(sys.argv[1]), lc.__file__
work, n = sys.argv[2], int(sys.argv[3])
sleeper = Container.create(f"lcpyb-v2-{os.getpid()}", work + "/sleep", root=work + "/state")
sleeper.start()
proc = {"args": ["true"], "cwd": "/"}
try:
    for what in ("run", "run (user namespace)", "exec"):
        for gap in (0.0, 0.03):
            times = []
            for _ in range(n):
                time.sleep(gap)
                t = time.perf_counter()
                if what == "exec":
                    assert sleeper.exec(proc).exit_status == 0
                else:
                    bundle = work + ("/userns" if "user" in what else "/true")
                    lc.run(bundle, root=work + "/state").check_returncode()
                times.append(time.perf_counter() - t)
            print(f"{sys.argv[1]:<24} {what:<22} {gap * 1000:4.0f} ms idle  {statistics.median(times) * 1e3:7.2f} ms")
finally:
    sleeper.delete(force=True)
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=40)
    ap.add_argument("--tree", action="append", help="a checkout to run (repeatable; default: this one)")
    cli = ap.parse_args()
    if not os.path.isdir(UNIFIED):
        sys.exit(f"no cgroup2 mount at {UNIFIED}: this benchmark makes a pure v2 layout from a hybrid host's")
    trees = cli.tree or [str(HERE.parent)]
    sys.path.insert(0, str(HERE.parent))
    import libcontainer_py as lc

    work = Path(tempfile.mkdtemp(prefix="lcpy-bench-v2-"))
    os.chmod(work, 0o755)  # the mapped root of the user namespace must reach the bundles
    parent_was_there = os.path.isdir(os.path.join(UNIFIED, "pyrunc"))
    try:
        lc.make_busybox_bundle(work / "true", args=["true"])
        lc.make_busybox_bundle(work / "sleep", args=["sleep", "1000"])
        userns = lc.make_busybox_bundle(work / "userns", args=["true"])
        config = json.loads((userns / "config.json").read_text())
        config["linux"]["namespaces"].append({"type": "user"})
        config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        (userns / "config.json").write_text(json.dumps(config))
        print(f"{'tree':<24} {'call':<22} {'before it':>12}  {'median':>8}   (n={cli.n}, pure v2 layout)")
        for tree in trees:
            subprocess.run([sys.executable, "-c", WORKER, tree, str(work), str(cli.n)], check=True, cwd="/")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not parent_was_there:  # the default parent the v2 driver made
            try:  # noqa: SIM105
                os.rmdir(os.path.join(UNIFIED, "pyrunc"))
            except OSError:
                pass


if __name__ == "__main__":
    main()
