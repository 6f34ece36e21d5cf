"""Start-up costs, each as a whole process (run by hand, not a test):

    .venv/bin/python benchmarks/bench_startup.py [-n 20]

- `pyrunc --version`                         (target: < 30 ms)
- `import libcontainer_py`
- import + load + validate spec-example.json  (target: < 100 ms), with the runtime's loader
  (spec.fast, what create/run/exec use) and with the pydantic models
- `pyrunc spec` into a temp dir
Reports the median and the minimum over n runs, in ms.
"""

from __future__ import annotations

import argparse
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


def timed(argv: list[str], n: int, cwd: str | None = None) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, cwd=cwd)
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples), min(samples)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20)
    n = ap.parse_args().n
    py = sys.executable
    pyrunc = str(Path(py).with_name("pyrunc"))
    rows = [
        ("python -c pass (floor)", [py, "-c", "pass"]),
        ("pyrunc --version", [pyrunc, "--version"]),
        ("import libcontainer_py", [py, "-c", "import libcontainer_py"]),
        ("import libcontainer_py.spec", [py, "-c", "import libcontainer_py.spec"]),
        (
            "import + load + validate, runtime (spec.fast)",
            [
                py,
                "-c",
                "import sys; import libcontainer_py; from libcontainer_py._specload import load_spec; "
                "from libcontainer_py.spec.validate import validate_runtime; "
                "validate_runtime(load_spec(sys.argv[1]))",
                str(EXAMPLE),
            ],
        ),
        (
            "import + load + validate, pydantic models",
            [
                py,
                "-c",
                "import sys; from libcontainer_py.spec import Spec; from libcontainer_py.spec.validate "
                "import validate_runtime; validate_runtime(Spec.load(sys.argv[1]))",
                str(EXAMPLE),
            ],
        ),
    ]
    print(f"{'what':<46} {'median ms':>10} {'min ms':>8}   (n={n})")
    for name, argv in rows:
        med, low = timed(argv, n)
        print(f"{name:<46} {med:>10.1f} {low:>8.1f}")
    with tempfile.TemporaryDirectory() as d:
        samples = []
        for _ in range(n):
            t0 = time.perf_counter()
            subprocess.run([pyrunc, "spec"], check=True, cwd=d)
            samples.append((time.perf_counter() - t0) * 1000)
            os.unlink(os.path.join(d, "config.json"))
        print(f"{'pyrunc spec':<46} {statistics.median(samples):>10.1f} {min(samples):>8.1f}")


if __name__ == "__main__":
    main()
