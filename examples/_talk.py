"""What the talk's examples (02_... to 07_...) share: a work directory, and `pyrunc` run as a
subprocess and printed like a terminal transcript. Not an example itself.

Every example runs pyrunc with `--root` pointing at a private state directory inside its work
directory, so nothing it makes outlives it: `Talk.close()` force-deletes whatever containers are
left there and removes the directory. The transcript shows that once, as an alias.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

_SCRIPT = Path(sys.executable).parent / "pyrunc"
PYRUNC = [str(_SCRIPT)] if os.access(_SCRIPT, os.X_OK) else [sys.executable, "-m", "libcontainer_py.cli"]


class Failed(AssertionError):
    """What a reader should have seen was not there."""


def expect(condition: object, message: str) -> None:
    """`assert` that also holds under `python -O`."""
    if not condition:
        raise Failed(message)


def parse_args(doc: str | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", metavar="DIR", help="work in DIR (bundles, state) and keep it")
    return parser.parse_args()


class Talk:
    """A work directory (0755: a user-namespaced container's root, host uid 100000, must be able to
    reach its rootfs through it) with a private pyrunc state root."""

    def __init__(self, keep: str | None = None) -> None:
        self.keep = keep
        self.dir = Path(keep).absolute() if keep else Path(tempfile.mkdtemp(prefix="lcpy-talk-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.root = str(self.dir / "state")
        print(f"$ alias pyrunc='pyrunc --root {self.root}'   # a private state root")

    def pyrunc(
        self, *args: str, cwd: Path | None = None, check: bool = True, quiet: bool = False, **kw: Any
    ) -> subprocess.CompletedProcess[str]:
        """Run `pyrunc ARGS` (in `cwd`, the bundle, as in the talk), print the command and what it
        printed; with check, fail unless it exits 0."""
        where = f"(cd {cwd.name}) " if cwd is not None else ""
        print(f"$ {where}pyrunc {shlex.join(args)}")
        kw.setdefault("capture_output", "stdout" not in kw)
        p = subprocess.run([*PYRUNC, "--root", self.root, *args], cwd=cwd, text=True, timeout=60, **kw)
        if not quiet:
            for text in (p.stdout, p.stderr):
                if text:
                    sys.stdout.write(text if text.endswith("\n") else text + "\n")
        if p.returncode:
            print(f"[exit status {p.returncode}]")
        expect(not check or p.returncode == 0, f"pyrunc {' '.join(args)} exited {p.returncode}: {p.stderr}")
        return p

    def close(self) -> None:
        """Force-delete every container left under the root, then remove the work directory."""
        if os.path.isdir(self.root):
            for cid in os.listdir(self.root):
                subprocess.run([*PYRUNC, "--root", self.root, "delete", "--force", cid], capture_output=True)
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)


def show(title: str, text: str | bytes | None) -> None:
    """Print a container's captured output under a `>>>` line, as a Python session would."""
    print(title)
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    print(repr(text))
