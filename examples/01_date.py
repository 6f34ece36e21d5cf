"""The talk's first demo: generate a config, then run a busybox container that prints the date.

    sudo .venv/bin/python examples/01_date.py [--keep DIR]

It makes its own bundle from Debian's busybox-static (no image registry needed), generates
config.json as `runc spec` would with process.args set to `date`, runs it with `pyrunc run` and
with the library, and checks the output. Run as root.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import libcontainer_py as lc

DATE_RE = re.compile(rb"^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \w+ \d{4}$")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", metavar="DIR", help="make the bundle in DIR and keep it")
    opts = parser.parse_args()
    workdir = Path(opts.keep) if opts.keep else Path(tempfile.mkdtemp(prefix="lcpy-demo-"))
    try:
        bundle = workdir / "busybox"
        # 1. A bundle: rootfs from busybox-static, config.json as `runc spec` makes it, args = date.
        lc.make_busybox_bundle(bundle, args=["date"])
        print(f"$ cat {bundle}/config.json | grep -A2 args")
        print('        "args": [\n            "date"\n        ],')
        # 2. pyrunc run, the CLI, as in the talk: `runc run demo`.
        pyrunc = [sys.executable, "-m", "libcontainer_py.cli"]
        print("$ pyrunc run demo")
        out = subprocess.run([*pyrunc, "run", "--bundle", str(bundle), "demo"], capture_output=True, check=False)
        sys.stdout.write(out.stdout.decode())
        sys.stderr.write(out.stderr.decode())
        assert out.returncode == 0, f"pyrunc run exited {out.returncode}"
        assert DATE_RE.match(out.stdout.strip()), f"not a date: {out.stdout!r}"
        # 3. The same from Python.
        print(">>> lc.run(bundle, capture_output=True).stdout")
        result = lc.run(bundle, capture_output=True)
        print(repr(result.stdout))
        assert result.returncode == 0 and DATE_RE.match(result.stdout.strip()), result
        print("ok: the container printed the date")
        return 0
    finally:
        if not opts.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
