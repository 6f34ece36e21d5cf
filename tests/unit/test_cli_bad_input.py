"""Bad input to pyrunc: one line on stderr naming the file, the JSON path and what was expected;
exit status 1; never a traceback; nothing left under --root. (No root needed: every one of these
fails before anything touches the kernel.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from libcontainer_py.spec.defaults import default_dict


def pyrunc(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "libcontainer_py.cli", *args], capture_output=True, text=True, cwd=cwd, check=False
    )


def one_line_error(p: subprocess.CompletedProcess[str]) -> str:
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("pyrunc: ")
    return lines[0]


def bundle_with(tmp_path: Path, config: object | str) -> Path:
    bundle = tmp_path / "bundle"
    (bundle / "rootfs").mkdir(parents=True)
    text = config if isinstance(config, str) else json.dumps(config)
    (bundle / "config.json").write_text(text)
    return bundle


@pytest.fixture
def state_root(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "state"
    yield root
    # nothing may be left behind by a refused create
    assert not root.exists() or os.listdir(root) == []


def test_missing_bundle(tmp_path: Path, state_root: Path) -> None:
    line = one_line_error(pyrunc("--root", str(state_root), "create", "-b", str(tmp_path / "nope"), "c1"))
    assert str(tmp_path / "nope") in line and "does not exist" in line


def test_missing_config_json(tmp_path: Path, state_root: Path) -> None:
    (tmp_path / "b").mkdir()
    line = one_line_error(pyrunc("--root", str(state_root), "create", "-b", str(tmp_path / "b"), "c1"))
    assert "config.json" in line


def test_invalid_json_names_line_and_column(tmp_path: Path, state_root: Path) -> None:
    bundle = bundle_with(tmp_path, '{"ociVersion": "1.3.0",\n  "process": {,}}')
    line = one_line_error(pyrunc("--root", str(state_root), "create", "-b", str(bundle), "c1"))
    assert "config.json" in line and "line 2" in line


def test_unreadable_config(tmp_path: Path, state_root: Path) -> None:
    bundle = bundle_with(tmp_path, {})
    (bundle / "config.json").unlink()
    (bundle / "config.json").mkdir()  # a directory where the file should be: unreadable as JSON
    line = one_line_error(pyrunc("--root", str(state_root), "create", "-b", str(bundle), "c1"))
    assert "config.json" in line


def test_wrong_type_deep_in_the_tree(tmp_path: Path, state_root: Path) -> None:
    config = default_dict()
    config["linux"]["resources"] = {"hugepageLimits": [{"pageSize": "64kB", "limit": 1}]}
    bundle = bundle_with(tmp_path, config)
    line = one_line_error(pyrunc("--root", str(state_root), "create", "-b", str(bundle), "c1"))
    assert "config.json" in line
    assert "linux.resources.hugepageLimits[0].pageSize" in line
    assert "64kB" in line

    config = default_dict()
    config["process"]["rlimits"][0]["hard"] = "1024"
    bundle2 = bundle_with(tmp_path / "2", config)
    line = one_line_error(pyrunc("--root", str(state_root), "create", "-b", str(bundle2), "c1"))
    assert "process.rlimits[0].hard" in line and "'1024'" in line


def test_runtime_check_names_the_field(tmp_path: Path, state_root: Path) -> None:
    config = default_dict()
    config["linux"]["namespaces"].append({"type": "pid"})
    line = one_line_error(pyrunc("--root", str(state_root), "create", "-b", str(bundle_with(tmp_path, config)), "c1"))
    assert "linux.namespaces[" in line and "duplicate" in line


def test_missing_rootfs(tmp_path: Path, state_root: Path) -> None:
    config = default_dict()
    config["process"]["terminal"] = False
    config["root"]["path"] = "nope"
    line = one_line_error(pyrunc("--root", str(state_root), "create", "-b", str(bundle_with(tmp_path, config)), "c1"))
    assert "root.path" in line and "nope" in line


def test_unknown_verb_and_flag(tmp_path: Path) -> None:
    p = pyrunc("frobnicate")
    assert p.returncode == 3, p  # runc's status for an unknown command
    assert p.stderr.strip() == "pyrunc: no such command 'frobnicate' (see pyrunc --help)", p.stderr
    assert "flag provided but not defined" in one_line_error(pyrunc("--frob", "list"))
    assert "--systemd-cgroup" in one_line_error(pyrunc("--systemd-cgroup", "list"))


def test_json_log_gets_the_error(tmp_path: Path) -> None:
    log = tmp_path / "log.json"
    p = pyrunc("--root", str(tmp_path), "--log", str(log), "--log-format", "json", "state", "nope")
    line = one_line_error(p)
    assert "does not exist" in line
    last = json.loads(log.read_text().splitlines()[-1])
    assert last["level"] == "error" and "does not exist" in last["msg"] and "time" in last


def test_a_closed_stdout_is_a_quiet_exit_but_another_broken_pipe_is_one_line(tmp_path: Path) -> None:
    """`pyrunc --help | true`: stdout's reader is gone, exit 1 without a word. A broken pipe
    elsewhere (a child that died, a hook's stdin) is an error like any other: one line."""
    r, w = os.pipe()
    os.close(r)
    try:
        p = subprocess.run([sys.executable, "-m", "libcontainer_py.cli", "--help"], stdout=w,
                           stderr=subprocess.PIPE, text=True, check=False)  # fmt: skip
    finally:
        os.close(w)
    assert (p.returncode, p.stderr) == (1, "")
    script = (
        "import sys\n"
        "import libcontainer_py.cli as cli\n"
        "def broken(*a): raise BrokenPipeError(32, 'Broken pipe')\n"
        "cli._run_verb = broken\n"
        "sys.exit(cli._main(['list']))\n"
    )
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert "BrokenPipeError" in one_line_error(p)
