"""Repeat the side-by-side benchmarks and summarise their ratios (by hand, as root):

    sudo .venv/bin/python benchmarks/repeat.py [-k 5] [-n 30] [bench_run bench_exec bench_cgroups]

One sitting of n calls gives one median per runtime, and the ratio of two medians moves by 10-30 %
from one sitting to the next on this VM. This runs each benchmark k times in each of the four
conditions (round-robin and blocks, without and with 30 ms of idle before each call:
benchmarks/_roundrobin.py), in turn, so that a slow minute hits every condition, then prints, per
ratio line the benchmarks print, the median of the k ratios, their quartiles and range, and how
many were over the target. Only ratios within one run are compared: the machine's speed drifts.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONDITIONS: list[tuple[str, float]] = [("round-robin", 0), ("round-robin", 30), ("blocks", 0), ("blocks", 30)]
# A line the benchmarks print for a ratio: "ratio pyrunc/runc:  1.04", "... / without = 0.98".
RATIO = re.compile(r"^(?P<label>.*?(?:ratio|/).*?)\s*[:=]\s+(?P<value>\d+\.\d+)\s*$")


def target(label: str) -> float | None:
    """The issue's limit for a ratio line (issues 3-5); None for a line that has none (issue 5's
    "with limits / without" is compared with runc's own ratio, not with a number)."""
    if "with limits" in label:
        return None
    if "events" in label:
        return 2.0
    if "pyrunc/runc" in label and "exec" not in label:
        return 1.5  # pyrunc run (bench_run's "ratio pyrunc/runc")
    return 1.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", type=int, default=5, help="repetitions of each benchmark in each condition")
    ap.add_argument("-n", type=int, default=30, help="calls per runtime in one repetition")
    ap.add_argument("benches", nargs="*", default=["bench_run", "bench_exec", "bench_cgroups"])
    cli = ap.parse_args()
    ratios: dict[tuple[str, str, str, float], list[float]] = defaultdict(list)
    for rep in range(cli.k):
        for bench in cli.benches:
            for order, gap in CONDITIONS:
                script = str(HERE / f"{bench}.py")
                argv = [sys.executable, script, "-n", str(cli.n), "--order", order, "--gap", str(gap)]
                out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
                for line in out.splitlines():
                    m = RATIO.match(line.strip())
                    if m:
                        ratios[(bench, m["label"], order, gap)].append(float(m["value"]))
        print(f"repetition {rep + 1}/{cli.k} done", file=sys.stderr)
    # bench_run's "ratio pyrunc/runc" is run's; bench_exec's is exec's: the bench names it.
    print(f"{'benchmark':<14}{'ratio':<40}{'condition':<18}{'median':>7}  {'q1-q3':<11}{'range':<11} over target")
    for (bench, label, order, idle), values in sorted(ratios.items()):
        v = sorted(values)
        limit = target(label if bench != "bench_exec" else label + " exec")
        verdict = "-" if limit is None else f"{sum(x > limit for x in v)}/{len(v)} over {limit:g}"
        quartiles = f"{v[len(v) // 4]:.2f}-{v[(3 * len(v)) // 4]:.2f}"
        print(f"{bench:<14}{label:<40}{order + f' gap {idle:g}':<18}{statistics.median(v):7.2f}  "
              f"{quartiles}  {v[0]:.2f}-{v[-1]:.2f}  {verdict}")  # fmt: skip


if __name__ == "__main__":
    main()
