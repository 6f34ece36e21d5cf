"""A `pyrunc` launcher that starts the interpreter without the `site` module.

    python -m libcontainer_py.launcher [DEST]      # default: `pyrunc` beside this interpreter

Why: every pyrunc call is a new interpreter, and what `site` does at each start (the venv's
pyvenv.cfg, a listing of site-packages for its .pth files, the user site's stats, and Debian's
`sitecustomize`, the apport crash hook) is ~1 ms of a `pyrunc events --stats` that runc answers in
~8 ms (docs/performance.md, "A launcher without site"). pip's console script cannot skip it: its
`#!/path/to/python` line takes no flag (pip rewrites a wheel script's `#!python -S` and drops the
flag), and by the time its first line runs, `site` has run.

What this writes is a script whose first line is `#!<this interpreter> -SP` (-P: the script's own
directory, the venv's bin, is not put first on sys.path, so no import searches it: ~0.3 ms, and
nothing dropped there can stand in for a module pyrunc imports), and which puts back,
by hand, the entries `site` would have added to sys.path (the venv's site-packages, the
project's path from an editable install's .pth file...). It records them when it is written, from
a normal start of the same interpreter, with the modification times of the directories `site`
reads .pth files from. When one of those directories has changed since (a package installed or
removed, a .pth file added), the recorded paths may be stale: the launcher then runs `site` after
all (`site.main()`, exactly what a normal start does), slower but right. Run this module again
after such a change to make it fast again; scripts/setup.sh runs it after each install.

What a start without `site` also leaves out, and pyrunc does not use: the `exit`/`help` builtins,
`sitecustomize`/`usercustomize` (Debian's apport hook only reports uncaught exceptions, and pyrunc
lets none through), and sys.prefix pointing at the venv (the recorded paths stand in for it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROGRAM = "pyrunc"
MARK = "# libcontainer_py.launcher"

# Printed by a normal start (with site) and a -S start of the same interpreter: the difference of
# their sys.path is what site added; the directories it read .pth files from are watched.
_PROBE = """
import json, sys
out = {"path": sys.path[1:]}
if "site" in sys.modules:
    import site
    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    out["watch"] = [d for d in dirs if __import__("os").path.isdir(d)]
print(json.dumps(out))
"""

_TEMPLATE = """#!{python} -SP
{mark}: pyrunc without the `site` module (~1 ms of every call); written by
# `{python} -m libcontainer_py.launcher`, which says why. Its paths are those a normal start of
# this interpreter added when it was written; if a directory they came from has changed since, it
# runs `site` after all.
import sys
from posix import stat

try:
    fresh = {watch!r} == [stat(d).st_mtime_ns for d in {watch_dirs!r}]
except OSError:
    fresh = False
if fresh:
    sys.path += {extra!r}
else:
    import site

    site.main()
from libcontainer_py.cli import main

sys.exit(main())
"""


def _probe(python: str, *flags: str) -> dict[str, list[str]]:
    out = subprocess.run([python, *flags, "-c", _PROBE], capture_output=True, text=True, check=True).stdout
    result: dict[str, list[str]] = json.loads(out)
    return result


def render(python: str | None = None) -> str:
    """The launcher's text for `python` (default: this interpreter)."""
    python = python or sys.executable
    full = _probe(python)
    bare = set(_probe(python, "-S")["path"])
    return text(python, [p for p in full["path"] if p not in bare], full.get("watch", []))


def text(python: str, extra: list[str], watch_dirs: list[str]) -> str:
    """The launcher for `python` that adds `extra` to sys.path while none of `watch_dirs` has
    changed since now (their modification times are recorded), and runs `site` otherwise."""
    watch = [os.stat(d).st_mtime_ns for d in watch_dirs]
    return _TEMPLATE.format(python=python, mark=MARK, watch=watch, watch_dirs=watch_dirs, extra=extra)


def write(dest: str | None = None, python: str | None = None) -> str:
    """Write the launcher to `dest` (default: `pyrunc` beside the interpreter, where pip put its
    console script), atomically, mode 0755; returns the path written."""
    python = python or sys.executable
    dest = dest or os.path.join(os.path.dirname(python), PROGRAM)
    content = render(python)
    tmp = f"{dest}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(content)
    os.chmod(tmp, 0o755)
    os.replace(tmp, dest)
    return dest


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0].startswith("-")):
        print("usage: python -m libcontainer_py.launcher [DEST]", file=sys.stderr)
        return 2
    print(write(args[0] if args else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
