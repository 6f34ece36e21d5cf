"""The cost of loading a config.json, phase by phase (run by hand, not a test; see docs/performance.md):

    .venv/bin/python benchmarks/bench_spec_load.py [-n 30] [--python PY] [--only whole|phases]

Whole processes (the commands are run round-robin, so that a burst of load on the machine hits them
all alike), median and minimum over n runs, in ms:

- ``python -c pass``: the interpreter's floor;
- ``from pydantic import BaseModel`` and pydantic as our models use it (``Field`` pulls in
  ``pydantic.fields``/``pydantic.types``, which any model class imports anyway);
- importing the model classes (``libcontainer_py.spec.config``);
- the issue-2 target: import + ``Spec.load(spec-example.json)`` + ``validate_runtime``, with the
  schema cache off (``LIBCONTAINER_PY_CACHE_DIR=0``) and warm (a temporary cache directory);
- the same through ``spec.fast`` (``_specload.load_spec``), the runtime's loader since pydantic left
  the CLI's create/run/exec path: the same checks, objects equal to the models', no pydantic.

Then the same work split into phases inside one process (medians over n processes): importing
pydantic, creating the model classes, the first load (schema build, or the cache), ``validate_runtime``,
a second load, and ``to_dict``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPEC_DIR = Path(os.environ.get("OCI_SPEC_DIR", HERE.parent.parent / "shared" / "oci-runtime-spec"))
EXAMPLE = SPEC_DIR / "schema" / "test" / "config" / "good" / "spec-example.json"
CACHE_ENV = "LIBCONTAINER_PY_CACHE_DIR"

LOAD_AND_VALIDATE = (
    "import sys; from libcontainer_py.spec import Spec; from libcontainer_py.spec.validate "
    "import validate_runtime; validate_runtime(Spec.load(sys.argv[1]))"
)

FAST_LOAD_AND_VALIDATE = (
    "import sys; import libcontainer_py; from libcontainer_py._specload import load_spec; "
    "from libcontainer_py.spec.validate import validate_runtime; "
    "validate_runtime(load_spec(sys.argv[1])); assert 'pydantic' not in sys.modules"
)

PHASES = r"""
import sys, time, json
t0 = time.perf_counter()
from pydantic import BaseModel, Field
t1 = time.perf_counter()
from libcontainer_py.spec.config import Spec
from libcontainer_py.spec.validate import validate_runtime
t2 = time.perf_counter()
spec = Spec.load(sys.argv[1])
t3 = time.perf_counter()
validate_runtime(spec)
t4 = time.perf_counter()
Spec.load(sys.argv[1])
t5 = time.perf_counter()
spec.to_dict()
t6 = time.perf_counter()
try:
    from libcontainer_py.spec._cache import installed
except ImportError:  # a tree without the cache
    installed = set()
print(json.dumps({
    "import pydantic (BaseModel, Field)": t1 - t0,
    "model classes (spec.config, validate)": t2 - t1,
    "first Spec.load (builds the validator)": t3 - t2,
    "validate_runtime": t4 - t3,
    "second Spec.load": t5 - t4,
    "to_dict": t6 - t5,
    "cached": Spec in installed,
}))
"""


#: Run from a neutral directory: ``python -c`` puts the working directory first on sys.path, and a run
#: from the repository would measure its tree rather than the one installed in --python.
NEUTRAL_CWD = tempfile.gettempdir()


def _run(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env, cwd=NEUTRAL_CWD)
    return (time.perf_counter() - t0) * 1000


def whole(py: str, n: int, cache_dir: str) -> None:
    base = dict(os.environ)
    off = {**base, CACHE_ENV: "0"}
    warm = {**base, CACHE_ENV: cache_dir}
    rows: list[tuple[str, list[str], dict[str, str]]] = [
        ("python -c pass (floor)", [py, "-c", "pass"], base),
        ("import libcontainer_py", [py, "-c", "import libcontainer_py"], base),
        ("from pydantic import BaseModel", [py, "-c", "from pydantic import BaseModel"], base),
        ("pydantic as the models use it", [py, "-c", "from pydantic import BaseModel, Field"], base),
        ("import the model classes", [py, "-c", "import libcontainer_py.spec.config"], off),
        ("import+load+validate, cache off", [py, "-c", LOAD_AND_VALIDATE, str(EXAMPLE)], off),
        ("import+load+validate, cache warm", [py, "-c", LOAD_AND_VALIDATE, str(EXAMPLE)], warm),
        ("import+load+validate, spec.fast", [py, "-c", FAST_LOAD_AND_VALIDATE, str(EXAMPLE)], base),
    ]
    _run(rows[-2][1], warm)  # fills the cache
    samples: dict[str, list[float]] = {name: [] for name, _, _ in rows}
    for _ in range(2):  # warm-up: page cache, .pyc files
        for _name, argv, env in rows:
            _run(argv, env)
    for _ in range(n):
        for name, argv, env in rows:
            samples[name].append(_run(argv, env))
    print(f"{'whole process':<40} {'median ms':>10} {'min ms':>8}   (n={n})")
    for name, values in samples.items():
        print(f"{name:<40} {statistics.median(values):>10.1f} {min(values):>8.1f}")


def phases(py: str, n: int, cache_dir: str) -> None:
    for label, value in (("cache off", "0"), ("cache warm", cache_dir)):
        env = {**os.environ, CACHE_ENV: value}
        runs = []
        for _ in range(n + 2):
            out = subprocess.run(
                [py, "-c", PHASES, str(EXAMPLE)], check=True, capture_output=True, env=env, cwd=NEUTRAL_CWD
            )
            runs.append(json.loads(out.stdout))
        runs = runs[2:]
        print(f"\nphases in one process, {label} (median of {n}; cached validator used: {runs[-1]['cached']})")
        total = 0.0
        for key in runs[0]:
            if key == "cached":
                continue
            med = statistics.median(r[key] for r in runs) * 1000
            total += med
            print(f"  {key:<42} {med:>8.2f} ms")
        print(f"  {'sum':<42} {total:>8.2f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=30)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--only", choices=("whole", "phases"))
    args = ap.parse_args()
    where = subprocess.run(
        [args.python, "-c", "import libcontainer_py; print(libcontainer_py.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        cwd=NEUTRAL_CWD,
    ).stdout.strip()
    print(f"measuring {where} with {args.python}; example: {EXAMPLE}")
    with tempfile.TemporaryDirectory() as cache_dir:
        if args.only != "phases":
            whole(args.python, args.n, cache_dir)
        if args.only != "whole":
            phases(args.python, args.n, cache_dir)


if __name__ == "__main__":
    main()
