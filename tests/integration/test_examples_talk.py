"""The talk, runnable (issue 7): each examples/NN_*.py script runs as root, asserts what it shows and
exits 0, leaving nothing behind; examples/talk.ipynb runs under nbclient and shows what it should.

The notebook test needs `nbclient`, `nbformat` and `ipykernel` (skipped, saying so, without them).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOTEBOOK = EXAMPLES / "talk.ipynb"
DATE = re.compile(r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \w+ \d{4}")

NEEDS_UTIL_LINUX = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("unshare", "nsenter", "ip")), reason="needs util-linux and iproute2"
)


def step(script: str, *shows: str, marks: Any = ()) -> Any:
    """A script and what its transcript must show (besides its final "ok:" line)."""
    return pytest.param(script, list(shows), id=script.removesuffix(".py"), marks=marks)


TALK = [
    step("02_terminal_shell.py", "/dev/pts/0", "pid=1", "[pyrunc exited 3]"),
    step(
        "03_userns_root_100000.py", "uid=0(root) gid=0(root)", "Uid:\t100000 100000 100000 100000", "100000      65536"
    ),
    step(
        "04_network_hook.py",
        "inet 10.203.0.2/24 scope global eth0",
        "default via 10.203.0.1 dev eth0",
        "1 packets received",
        "\n{}\n",
        marks=NEEDS_UTIL_LINUX,
    ),
    step("05_cap_sys_admin_hostname.py", "sethostname: Operation not permitted", "\nfoo\n", "'bar\\n'"),
    step("06_seccomp_kill_sethostname.py", "SCMP_ACT_KILL", "[exit status 159]", "status=159", "Bad system call"),
    step("07_web_server_userns_join.py", "\n200000\n", "<h1>hello from a container mapped to uid 200000</h1>"),
]


def _leftovers() -> set[str]:
    return set(glob.glob("/tmp/lcpy-talk-*"))


@pytest.mark.root
@pytest.mark.parametrize(("script", "shows"), TALK)
def test_talk_step(script: str, shows: list[str]) -> None:
    before = _leftovers()
    env = dict(os.environ, PYTHONPATH=str(EXAMPLES.parent))
    start = time.monotonic()
    p = subprocess.run(
        [sys.executable, str(EXAMPLES / script)], capture_output=True, text=True, env=env, timeout=120, stdin=-3
    )
    took = time.monotonic() - start
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.rstrip().splitlines()[-1].startswith("ok: "), p.stdout
    for text in shows:
        assert text in p.stdout, (text, p.stdout)
    assert _leftovers() <= before, "the example left its work directory behind"
    assert took < 60, f"{script} took {took:.1f} s"


# Each script in a process with its own mount namespace where /sys/fs/cgroup is the host's cgroup2
# hierarchy alone: a pure v2 host's layout, which the runtime meets with its v2 driver (as
# tests/integration/test_cgroups_v1.py does; this host keeps its controllers on v1).
_ON_PURE_V2 = r"""
import os, runpy, sys
from libcontainer_py import _sys
from libcontainer_py._sys import consts as c

_sys.unshare(c.CLONE_NEWNS)
_sys.mount("none", "/", None, c.MS_REC | c.MS_PRIVATE, None)
_sys.umount2("/sys/fs/cgroup", c.MNT_DETACH)
_sys.mount("none", "/sys/fs/cgroup", "cgroup2", 0, None)
sys.argv = [sys.argv[1]]
sys.path.insert(0, os.path.dirname(sys.argv[0]))  # (as `python script.py` has it: _talk.py beside)
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.root
@pytest.mark.skipif(
    not os.path.isdir("/sys/fs/cgroup/unified"), reason="needs a hybrid host's cgroup2 mount at /sys/fs/cgroup/unified"
)
@pytest.mark.parametrize(("script", "shows"), TALK)
def test_talk_step_on_a_pure_v2_layout(script: str, shows: list[str]) -> None:
    """The talk on a cgroup v2 host: the same steps, the same transcript."""
    before = _leftovers()
    env = dict(os.environ, PYTHONPATH=str(EXAMPLES.parent))
    p = subprocess.run(
        [sys.executable, "-c", _ON_PURE_V2, str(EXAMPLES / script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.rstrip().splitlines()[-1].startswith("ok: "), p.stdout
    for text in shows:
        assert text in p.stdout, (text, p.stdout)
    assert _leftovers() <= before, "the example left its work directory behind"


@pytest.mark.root
@NEEDS_UTIL_LINUX
def test_network_example_leaves_no_interface_here() -> None:
    """The bridge and the veth live in a namespace the example makes, never in this one."""
    env = dict(os.environ, PYTHONPATH=str(EXAMPLES.parent))
    p = subprocess.run(
        [sys.executable, str(EXAMPLES / "04_network_hook.py")], capture_output=True, env=env, timeout=120
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert not os.path.exists("/sys/class/net/talkbr0")
    assert not [n for n in os.listdir("/sys/class/net") if n.startswith("pyv")]


def test_stored_notebook_has_outputs_from_a_run() -> None:
    """The notebook is kept with its outputs, so that it reads as a transcript without running it."""
    import json

    nb = json.loads(NOTEBOOK.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] for c in code), "run the notebook before saving it"
    # on disk, nbformat stores multi-line text as a list of lines
    text = "".join("".join(o.get("text", "")) for c in code for o in c["outputs"])
    assert DATE.search(text) and "uid=0(root)" in text and "Uid:\t100000" in text, text


@pytest.mark.root
def test_notebook_runs_and_shows_the_containers_output() -> None:
    nbformat = pytest.importorskip("nbformat", reason="the notebook test needs nbformat (pip install nbformat)")
    nbclient = pytest.importorskip("nbclient", reason="the notebook test needs nbclient (pip install nbclient)")
    pytest.importorskip("ipykernel", reason="the notebook test needs a Python kernel (pip install ipykernel)")
    before = _leftovers() | set(glob.glob("/tmp/lcpy-notebook-*"))
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    # And one cell more, not saved: which way the kernel (it has threads) started the containers.
    nb.cells.append(nbformat.v4.new_code_cell(
        "import sys; fs = sys.modules.get('libcontainer_py.init.forkserver')\n"
        "print(fs is not None and fs._server is not None and fs._server.proc.poll() is None, fs and fs._broken)"
    ))  # fmt: skip
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(EXAMPLES)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if a cell fails
    outputs = [
        "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in cell.outputs)
        for cell in nb.cells
        if cell.cell_type == "code"
    ]
    assert outputs[0] == "['config.json', 'rootfs']"
    assert re.fullmatch(r"0 " + DATE.pattern + "\n", outputs[1]), outputs[1]
    assert outputs[2].splitlines()[0].startswith("uid=0(root) gid=0(root)"), outputs[2]
    assert outputs[2].splitlines()[1].split() == ["0", "100000", "65536"], outputs[2]
    assert outputs[3].split() == ["Uid:", *["100000"] * 4, "Gid:", *["100000"] * 4], outputs[3]
    assert outputs[-1] == "True None\n", outputs[-1]  # the fork server forked them, and runs still
    assert set(glob.glob("/tmp/lcpy-notebook-*")) | _leftovers() <= before
