#!/usr/bin/env bash
# Install what libcontainer-py needs on a fresh Debian machine, as root. Safe to run twice.
#   - Debian: busybox-static (the demo's and the tests' container image), runc and crun (the peers
#     that tests and benchmarks compare against), libseccomp2, a C compiler for the cffi shim.
#   - Python: a virtualenv in .venv with the package installed editable, and the test tools. Its
#     interpreter is Debian's python3 (3.11, built with PGO and LTO): every pyrunc call is a new
#     process, and it starts and imports ~15 % faster than a plain source build such as pyenv's
#     (docs/performance.md). PYTHON=... picks another one (>= 3.11).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(busybox-static runc crun libseccomp2 gcc python3 python3-venv python3-dev iproute2 procps util-linux)
missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-/usr/bin/python3}
real_exe='import os, sys; print(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))'
if [ -x .venv/bin/python ] && [ "$(.venv/bin/python -c "$real_exe")" != "$("$PYTHON" -c "$real_exe")" ]; then
    echo "setup: .venv was made with another interpreter: making it again with $PYTHON" >&2
    rm -rf .venv
fi
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
# A stamp keeps a second run fast; pyproject.toml/setup.py/the shim's sources changing re-installs.
stamp=.venv/.libcontainer-py-installed
if [ ! -f "$stamp" ] || [ -n "$(find pyproject.toml setup.py libcontainer_py/_sys/_build.py libcontainer_py/_sys/vfork_plan.c libcontainer_py/_sys/vfork_init.c -newer "$stamp" 2>/dev/null)" ] \
   || ! .venv/bin/python -c 'import libcontainer_py._sys._shim' 2>/dev/null; then
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
    # compat mode: a plain path entry rather than an import finder, which costs ~10 ms per start.
    .venv/bin/python -m pip install -q -e '.[test]' --config-settings editable_mode=compat
    # pip builds in an isolated environment: the venv's own setuptools is never used, and its
    # distutils-precedence.pth is read, and imports a module, at every start of every pyrunc.
    .venv/bin/python -m pip uninstall -q -y setuptools >/dev/null 2>&1 || true
    touch "$stamp"
fi
# pyrunc's launcher: pip's console script, replaced by one that starts the interpreter without
# `site` (~1 ms of every call: libcontainer_py/launcher.py). Written after every install, since
# pip writes its own again, and after the last change to site-packages, whose mtime it records.
.venv/bin/python -m libcontainer_py.launcher >/dev/null
# Bytecode for the package, written now: where PYTHONDONTWRITEBYTECODE is set (it is on some
# machines), every pyrunc call would otherwise compile the modules it imports again (~7 ms).
.venv/bin/python -m compileall -q libcontainer_py >/dev/null
# And the CLI's code pack (libcontainer_py/_codepack.py), made from that bytecode: pyrunc rewrites
# it itself after a change, but not where bytecode writing is off.
.venv/bin/python -m libcontainer_py._codepack >/dev/null
