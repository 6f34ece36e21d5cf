"""What the escape defences cost, next to a whole `run` of `true` (by hand, as root):

    sudo .venv/bin/python benchmarks/bench_defences.py [-n 30]

There is no switch that turns the defences off (a production switch that weakens security would be
one more thing to attack), so each defence is timed in isolation, in a forked child (where the
init does it), against what the code did without it, and the sum is compared with the median of
the library's `run()` of `true` on the default busybox bundle:

  - prctl(PR_SET_DUMPABLE, 0) in stage 1 (CVE-2019-5736);
  - close_inherited_fds: close everything the fork inherited (CVE-2024-21626), and the
    close-on-exec sweep by close_range instead of listing /proc/self/fd;
  - check_cwd: getcwd after chdir (CVE-2024-21626);
  - openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) per mount destination, against a plain
    open(O_PATH) of the joined path (CVE-2021-30465), times the mounts + devices of the config;
  - the procfs checks: open through a verified procfs (two fstatfs, readlink of self, openat2)
    against a plain open, per sysctl / oom_score_adj write (CVE-2025-52881);
  - the /dev/null check before masking (fstat, CVE-2025-31133) and the fd-based console mount.

Reports microseconds per defence, the total per container, and that total as a share of a run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPORT_FD = [-1]  # the child's end of the result pipe, which close_inherited_fds must keep


def per_call_us(fn: Callable[[], object], n: int) -> float:
    """Median microseconds of one call, measured in a forked child (what the init does happens
    in one); the child reports over a pipe."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(r)
            REPORT_FD[0] = w
            times = []
            for _ in range(n):
                t0 = time.perf_counter_ns()
                fn()
                times.append(time.perf_counter_ns() - t0)
            os.write(w, str(statistics.median(times) / 1000).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        value = float(f.read() or "nan")
    os.waitpid(pid, 0)
    return value


def main() -> None:
    import libcontainer_py as lc
    from libcontainer_py import _sys, procfs
    from libcontainer_py.init import process_setup as ps
    from libcontainer_py.rootfs import paths
    from libcontainer_py.rootfs.devices import DEFAULT_DEVICES
    from libcontainer_py.spec import Spec

    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=30, help="runs of `true`")
    ap.add_argument("-k", type=int, default=2000, help="calls per defence")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: it runs containers")
    work = Path(tempfile.mkdtemp(prefix="lcpy-bench-def-"))
    try:
        bundle = lc.make_busybox_bundle(work / "bb", args=["true"])
        spec = Spec.load(bundle / "config.json")
        rootfs = str(bundle / "rootfs")
        # the destinations that exist in the image (the others are created, at the same cost per
        # component); the per-path cost is then counted for every mount and device path
        mounts = [m.destination for m in spec.mounts or [] if os.path.exists(rootfs + m.destination)]
        n_paths = len(spec.mounts or []) + len(DEFAULT_DEVICES)
        masked = len(spec.linux.masked_paths or []) if spec.linux else 0

        root_fd = paths.open_root(rootfs)
        k = args.k

        def resolve_all() -> None:
            for d in mounts:
                os.close(paths.resolve(root_fd, d))

        def plain_all() -> None:
            for d in mounts:
                os.close(os.open(rootfs + d, os.O_PATH | os.O_CLOEXEC))

        def safe_proc() -> None:
            os.close(procfs.open_proc_file("self/oom_score_adj", os.O_RDONLY))

        def plain_proc() -> None:
            os.close(os.open("/proc/self/oom_score_adj", os.O_RDONLY | os.O_CLOEXEC))

        def dev_null_check() -> None:
            fd = os.open("/dev/null", os.O_PATH | os.O_CLOEXEC)
            procfs.is_dev_null(fd)
            os.close(fd)

        def dev_null_plain() -> None:
            os.close(os.open("/dev/null", os.O_PATH | os.O_CLOEXEC))

        def fds_now() -> None:
            # what close_inherited_fds does in stage 1: here on 20 dup'd fds, more than pyrunc has
            dups = [os.dup(0) for _ in range(20)]
            ps.close_inherited_fds(REPORT_FD)
            del dups

        def fds_none() -> None:
            dups = [os.dup(0) for _ in range(20)]
            for fd in dups:  # the same fds, closed one by one: the part that is not the defence
                os.close(fd)

        def sweep_close_range() -> None:
            ps.close_fds_from(3)

        def sweep_listdir() -> None:  # the sweep as it was: list /proc/self/fd, fcntl each
            import fcntl

            for name in os.listdir("/proc/self/fd"):
                fd = int(name)
                if fd >= 3:
                    with contextlib.suppress(OSError):
                        fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.fcntl(fd, fcntl.F_GETFD) | fcntl.FD_CLOEXEC)

        rows: list[tuple[str, float, int]] = []  # (what, extra us per occurrence, occurrences)

        def add(name: str, with_: float, without: float, times: int) -> None:
            rows.append((name, with_ - without, times))

        add("prctl(PR_SET_DUMPABLE, 0)", per_call_us(lambda: _sys.prctl(4, 0, 0, 0, 0), k), 0.0, 2)
        add("close_inherited_fds (stage 1)", per_call_us(fds_now, k), per_call_us(fds_none, k), 1)
        add("close-on-exec sweep: close_range vs /proc listing", per_call_us(sweep_close_range, k),
            per_call_us(sweep_listdir, k), 1)  # fmt: skip
        add("check_cwd (getcwd)", per_call_us(os.getcwd, k), 0.0, 1)
        add("openat2 RESOLVE_IN_ROOT vs open, per path", per_call_us(resolve_all, k // 10) / len(mounts),
            per_call_us(plain_all, k // 10) / len(mounts), n_paths)  # fmt: skip
        add("procfs write path (fstatfs x2, readlink, openat2) vs open", per_call_us(safe_proc, k),
            per_call_us(plain_proc, k), 1)  # fmt: skip
        add("/dev/null check (fstat) before masking", per_call_us(dev_null_check, k),
            per_call_us(dev_null_plain, k), 1 if masked else 0)  # fmt: skip
        os.close(root_fd)

        run_ms = []
        state = work / "state"
        for _ in range(args.n):
            t0 = time.perf_counter()
            lc.run(bundle, spec=spec, root=str(state)).check_returncode()
            run_ms.append((time.perf_counter() - t0) * 1000)
        run_med = statistics.median(run_ms)

        total_us = sum(extra * times for _, extra, times in rows)
        print(f"run() of true: median {run_med:.2f} ms, min {min(run_ms):.2f} ms over {args.n} runs")
        print(f"({n_paths} mount/device paths, {masked} masked paths in the default config)\n")
        print(f"{'defence':62} {'extra us':>9} {'x':>3} {'us/run':>8}")
        for name, extra, times in rows:
            print(f"{name:62} {extra:9.2f} {times:3d} {extra * times:8.2f}")
        print(f"\ntotal: {total_us:.1f} us per container = {total_us / 10 / run_med:.3f}% of a run (limit: 10%)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
