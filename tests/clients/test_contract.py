"""The runc contract that containerd's go-runc and podman/conmon rely on: pyrunc and runc run the same
commands side by side, each with its own --root, and must agree on what clients look at: the flags
each verb accepts, exit codes, the words clients match in error texts ("does not exist", "container
not running", "exists", "not stopped"), the JSON --log line, `kill ID SIGNUM`, `delete --force` of a
missing id, `state` keys, `features` fields and the `--version` shape (issue 4, item 4;
runtime-clients.md §3).

Known, deliberate differences (not asserted): pyrunc's messages quote the id and say what to do;
`list --format json` with no containers prints `[]` where runc prints `null` (go-runc reads both as
an empty list); ociVersion is pyrunc's spec version.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
from clientlib import PYRUNC, RUNC, Pair, Result, last_json_line, run

BOTH = ("runc", "pyrunc")


# -- flags ----------------------------------------------------------------------------------------------


def _runc_help_flags(verb: str | None) -> set[str]:
    """The option names in `runc [VERB] --help` (OPTIONS or GLOBAL OPTIONS), e.g. {"--all", "-a"}."""
    assert RUNC is not None
    argv = [RUNC, "--help"] if verb is None else [RUNC, verb, "--help"]
    text = run(argv).out
    section = text.partition("GLOBAL OPTIONS:" if verb is None else "OPTIONS:")[2]
    flags = set()
    for line in section.splitlines():
        spec = line.strip().split("  ")[0]
        for part in spec.split(","):
            words = part.split()
            if words and words[0].startswith("-"):
                flags.add(words[0])
    return flags


def _pyrunc_verb_flags(verb: str) -> set[str]:
    from libcontainer_py.cli import VERBS
    from libcontainer_py.cli._parser import VerbParser

    module = importlib.import_module(f"libcontainer_py.cli.{VERBS[verb][0]}")
    parser = VerbParser(prog=f"pyrunc {verb}", description="")
    module.configure(parser)
    return parser.option_strings()


def _needs_runc() -> None:
    if RUNC is None:
        pytest.skip("runc is not installed: the contract is checked against it (apt-get install runc)")


@pytest.mark.parametrize(
    "verb",
    [
        "create",
        "start",
        "run",
        "state",
        "kill",
        "delete",
        "list",
        "exec",
        "ps",
        "features",
        "spec",
        "pause",
        "resume",
        "update",
        "events",
    ],
)
def test_verb_accepts_runcs_flags(verb: str) -> None:
    _needs_runc()
    from libcontainer_py.cli import VERBS

    assert verb in VERBS, f"pyrunc has no {verb!r} verb"
    missing = _runc_help_flags(verb) - _pyrunc_verb_flags(verb) - {"--help", "-h"}
    assert not missing, f"pyrunc {verb} lacks runc's flags {sorted(missing)}"


def test_global_flags() -> None:
    _needs_runc()
    from libcontainer_py.cli._context import _GLOBAL_FLAGS

    missing = {f for f in _runc_help_flags(None) if f.lstrip("-") not in _GLOBAL_FLAGS}
    assert not missing, f"pyrunc lacks runc's global flags {sorted(missing)}"


@pytest.mark.parametrize(
    "spelling",
    [
        ["--log", "{log}", "--log-format", "json"],  # containerd's shim
        ["--log-format=json", "--log", "{log}"],  # podman / conmon
        ["--log={log}", "--log-format=json"],
        ["-log", "{log}", "-log-format", "json"],  # Go's flag package takes one dash too
    ],
)
def test_json_log_last_line(pair: Pair, spelling: list[str]) -> None:
    """On failure the last line of --log is a JSON object {"level":"error","msg":...}: the shim
    and podman show its msg."""
    for which in BOTH:
        log = pair.base / f"{which}.log"
        flags = [s.format(log=log) for s in spelling]
        r = run([pair.bins[which], "--root", pair.roots[which], *flags, "state", "nope"])
        assert r.rc == 1, (which, r)
        doc = last_json_line(log)
        assert doc["level"] == "error", (which, doc)
        assert "does not exist" in str(doc["msg"]), (which, doc)
        assert '"level":"error"' in log.read_text(), (which, log.read_text())
        # errors also go to stderr: podman reads it for runtimes outside runtime_supports_json
        assert "does not exist" in r.err, (which, r)


# -- unknown ids ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["state", "nope"],
        ["start", "nope"],
        ["kill", "nope"],
        ["kill", "nope", "9"],
        ["kill", "--all", "nope", "9"],
        ["delete", "nope"],
        ["ps", "nope"],
        ["ps", "--format", "json", "nope"],
        ["exec", "nope", "true"],
        ["exec", "--detach", "--pid-file", "/tmp/lcpy-never.pid", "nope", "true"],
    ],
    ids=" ".join,
)
def test_unknown_id(pair: Pair, argv: list[str]) -> None:
    res = pair.both(*argv)
    assert res["pyrunc"].rc == res["runc"].rc, res
    for which in BOTH:
        assert "does not exist" in res[which].err, res
    if argv[0] == "exec":
        assert res["pyrunc"].rc == 255, res


@pytest.mark.parametrize("argv", [["delete", "--force", "nope"], ["delete", "-f", "nope"]], ids=" ".join)
def test_delete_force_missing_id_succeeds(pair: Pair, argv: list[str]) -> None:
    """containerd's cleanup shim and podman call `delete --force` on ids that are already gone."""
    for which in BOTH:
        log = pair.base / f"{which}.log"
        r = run([pair.bins[which], "--root", pair.roots[which], "--log", str(log), "--log-format", "json", *argv])
        assert r.rc == 0, (which, r)


def test_environment_nearly_empty(pair: Pair) -> None:
    """podman's direct calls carry only XDG_RUNTIME_DIR=: no PATH, no HOME (runtime-clients.md §3.7)."""
    assert PYRUNC is not None
    for args in (["delete", "--force", "nope"], ["list", "-q"], ["--version"]):
        r = run([PYRUNC, "--root", pair.roots["pyrunc"], *args], env={"XDG_RUNTIME_DIR": ""})
        assert r.rc == 0, (args, r)


def test_unknown_command_and_flag(pair: Pair) -> None:
    # the same statuses as runc's: 3 for an unknown command (urfave/cli), 1 for an unknown flag
    for argv, status in ((["frobnicate"], 3), (["state", "--frob", "x"], 1), (["--frob", "state", "x"], 1)):
        res = pair.both(*argv)
        for which in BOTH:
            assert res[which].rc == status, (which, res)


# -- the lifecycle, side by side ------------------------------------------------------------------------


def _state(pair: Pair, which: str, cid: str) -> dict[str, Any]:
    r = pair.one(which, "state", cid)
    assert r.rc == 0, (which, r)
    doc: dict[str, Any] = json.loads(r.out)
    return doc


def _wait_stopped(pair: Pair, which: str, cid: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while (doc := _state(pair, which, cid))["status"] != "stopped":
        assert time.monotonic() < deadline, (which, doc)
        time.sleep(0.02)
    return doc


def _agree(res: dict[str, Result], rc: int, *words: str) -> None:
    for which in BOTH:
        assert res[which].rc == rc, res
        for word in words:
            assert word in res[which].err, (word, res)


def test_lifecycle_side_by_side(pair: Pair) -> None:
    cid = pair.new_id()
    bundles = {w: pair.bundle(["sleep", "1000"]) for w in BOTH}

    # create, from the bundle directory as containerd runs it (relative root.path "rootfs")
    for which in BOTH:
        pid_file = bundles[which] / "init.pid"
        r = pair.one(
            which, "create", "--bundle", str(bundles[which]), "--pid-file", str(pid_file), cid, cwd=str(bundles[which])
        )
        assert r.rc == 0, (which, r)
        assert re.fullmatch(r"\d+\n?", pid_file.read_text()), (which, pid_file.read_text())
    states = {w: _state(pair, w, cid) for w in BOTH}
    assert set(states["pyrunc"]) == set(states["runc"]), states
    for which in BOTH:
        doc = states[which]
        assert doc["status"] == "created" and doc["pid"] > 0 and doc["id"] == cid, doc
        assert doc["bundle"] == str(bundles[which]), doc
        assert int((bundles[which] / "init.pid").read_text()) == doc["pid"]

    res = {w: pair.one(w, "create", "--bundle", str(bundles[w]), cid) for w in BOTH}
    _agree(res, 1, "exists")

    _agree(pair.both("start", cid), 0)
    for which in BOTH:
        assert _state(pair, which, cid)["status"] == "running"
    _agree(pair.both("start", cid), 1)
    _agree(pair.both("delete", cid), 1, "not stopped")

    # exec: the status comes through; 255 and the cause when the process cannot start
    _agree(pair.both("exec", cid, "sh", "-c", "exit 3"), 3)
    res = pair.both("exec", cid, "/nonexistent")
    _agree(res, 255, "no such file or directory")
    assert pair.both("ps", "--format", "json", cid)["pyrunc"].rc == 0
    for which in BOTH:
        pids = json.loads(pair.one(which, "ps", "--format", "json", cid).out)
        assert pids == [states[which]["pid"]], (which, pids)

    # exec --process F --detach --pid-file F, in both option orders (podman's, containerd's)
    process = json.loads((bundles["runc"] / "config.json").read_text())["process"]
    process["args"] = ["sleep", "300"]
    for which in BOTH:
        pf = pair.base / f"{which}-process.json"
        pf.write_text(json.dumps(process))
        for n, order in enumerate(
            (
                ["--pid-file", str(pair.base / f"{which}-e1.pid"), "--process", str(pf), "--detach"],
                ["--process", str(pf), "--detach", "--pid-file", str(pair.base / f"{which}-e2.pid")],
            ),
            start=1,
        ):
            r = pair.one(which, "exec", *order, cid)
            assert r.rc == 0, (which, r)
            pid = int((pair.base / f"{which}-e{n}.pid").read_text())
            assert pid in json.loads(pair.one(which, "ps", "--format", "json", cid).out), which

    # kill ID SIGNUM: the number after the id, as the shim and podman send it
    _agree(pair.both("kill", cid, "9"), 0)
    for which in BOTH:
        doc = _wait_stopped(pair, which, cid)
        assert doc["pid"] == 0, doc
    _agree(pair.both("kill", cid, "9"), 1, "container not running")
    _agree(pair.both("kill", "--all", cid, "9"), 0)
    _agree(pair.both("exec", cid, "true"), 255)
    _agree(pair.both("start", cid), 1)
    _agree(pair.both("delete", cid), 0)
    _agree(pair.both("state", cid), 1, "does not exist")


@pytest.mark.parametrize("signal", ["KILL", "SIGKILL", "9"])
def test_kill_signal_spellings(pair: Pair, signal: str) -> None:
    cid = pair.new_id()
    for which in BOTH:
        r = pair.one(which, "run", "--detach", "--bundle", str(pair.bundle(["sleep", "1000"])), cid)
        assert r.rc == 0, (which, r)
    _agree(pair.both("kill", cid, signal), 0)
    for which in BOTH:
        _wait_stopped(pair, which, cid)


def test_delete_force_running(pair: Pair) -> None:
    cid = pair.new_id()
    for which in BOTH:
        r = pair.one(which, "run", "--detach", "--bundle", str(pair.bundle(["sleep", "1000"])), cid)
        assert r.rc == 0, (which, r)
    _agree(pair.both("delete", "--force", cid), 0)
    _agree(pair.both("state", cid), 1, "does not exist")


def test_run_exit_status_and_flags(pair: Pair) -> None:
    """`run` with create's flags (--no-pivot, --no-new-keyring) and an absolute root.path from another
    cwd (podman's way): the status is the process's."""
    cid = pair.new_id()

    def absolute_root(config: dict[str, Any]) -> None:
        config["root"] = {"path": "PLACEHOLDER", "readonly": True}

    for which in BOTH:
        bundle = pair.bundle(["sh", "-c", "exit 7"], edit=absolute_root)
        config = json.loads((bundle / "config.json").read_text())
        config["root"]["path"] = str(bundle / "rootfs")
        (bundle / "config.json").write_text(json.dumps(config))
        r = pair.one(which, "run", "--no-pivot", "--no-new-keyring", "--bundle", str(bundle), cid, cwd="/")
        assert r.rc == 7, (which, r)


def test_container_stdio_is_the_callers(pair: Pair, tmp_path: Path) -> None:
    """containerd hands create three pipes and reads the container's output from them: the init
    keeps fds 0-2 as given, after create returned and after start."""
    del tmp_path
    cid = pair.new_id()
    for which in BOTH:
        bundle = pair.bundle(["sh", "-c", "echo out-$0; echo err >&2"])
        out, err = pair.base / f"{which}.out", pair.base / f"{which}.err"
        with open(out, "w") as o, open(err, "w") as e:
            import subprocess

            p = subprocess.run(
                pair.argv(which, "create", "--bundle", str(bundle), cid),
                stdin=subprocess.DEVNULL,
                stdout=o,
                stderr=e,
                timeout=30,
                check=False,
            )
        assert p.returncode == 0, (which, err.read_text())
        assert pair.one(which, "start", cid).rc == 0
        _wait_stopped(pair, which, cid)
        assert out.read_text() == "out-sh\n", which
        assert "err" in err.read_text(), which
        assert pair.one(which, "delete", cid).rc == 0


# -- features and --version -----------------------------------------------------------------------------


def _features(which: str) -> dict[str, Any]:
    assert PYRUNC is not None and RUNC is not None
    r = run([{"runc": RUNC, "pyrunc": PYRUNC}[which], "features"])
    assert r.rc == 0, r
    doc: dict[str, Any] = json.loads(r.out)
    return doc


def test_features_fields() -> None:
    _needs_runc()
    runc, pyrunc = _features("runc"), _features("pyrunc")
    missing = set(runc) - set(pyrunc)
    assert not missing, f"pyrunc features lacks {sorted(missing)}"
    assert re.fullmatch(r"\d+\.\d+\.\d+", pyrunc["ociVersionMin"]), pyrunc
    assert re.fullmatch(r"\d+\.\d+\.\d+(-\w+)?", pyrunc["ociVersionMax"]), pyrunc
    assert set(runc["linux"]["namespaces"]) <= set(pyrunc["linux"]["namespaces"])
    assert set(runc["linux"]["capabilities"]) <= set(pyrunc["linux"]["capabilities"])
    assert set(runc["mountOptions"]) - set(pyrunc["mountOptions"]) <= {"acl", "noacl"}, "acl: ext2/3 only"


def test_features_hooks() -> None:
    _needs_runc()
    assert set(_features("runc")["hooks"]) <= set(_features("pyrunc")["hooks"])


def test_version_shape() -> None:
    _needs_runc()
    assert PYRUNC is not None and RUNC is not None
    for binary, name in ((RUNC, "runc"), (PYRUNC, "pyrunc")):
        for flag in ("--version", "-v"):
            r = run([binary, flag])
            assert r.rc == 0, r
            lines = r.out.splitlines()
            assert re.fullmatch(rf"{name} version \S+", lines[0]), lines
            assert any(re.fullmatch(r"spec: \S+", ln) for ln in lines), lines


def test_pyrunc_is_a_real_executable() -> None:
    """Clients exec the runtime by path: it must be a file with an absolute interpreter (no pyenv
    shim, no PATH lookup), since podman's calls have no PATH."""
    assert PYRUNC is not None
    with open(PYRUNC, "rb") as f:
        first = f.readline()
    if first.startswith(b"#!"):
        interpreter = first[2:].split()[0].decode()
        assert os.path.isabs(interpreter) and os.access(interpreter, os.X_OK), first
