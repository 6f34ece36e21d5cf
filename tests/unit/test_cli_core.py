"""pyrunc's core conventions, in-process: global flags (Go-style, one dash too), verb flags,
errors as one line with exit status 1, --log with --log-format json."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from libcontainer_py.cli import _main
from libcontainer_py.cli._context import UsageError, parse_globals
from libcontainer_py.cli._parser import VerbParser


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = _main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize(
    "argv",
    [
        ["--root", "/x/y", "list"],
        ["--root=/x/y", "list"],
        ["-root", "/x/y", "list"],
        ["-root=/x/y", "list"],
    ],
)
def test_root_spellings(argv: list[str]) -> None:
    opts, rest = parse_globals(argv)
    assert opts.root == "/x/y" and rest == ["list"]


def test_globals_stop_at_the_verb() -> None:
    opts, rest = parse_globals(["--debug", "--log", "/l", "--log-format", "json", "kill", "--all", "x"])
    assert (opts.debug, opts.log, opts.log_format) == (True, "/l", "json")
    assert rest == ["kill", "--all", "x"]


def test_relative_root_is_made_absolute() -> None:
    opts, _ = parse_globals(["--root", "rel", "list"])
    assert opts.root == os.path.abspath("rel")


def test_boolean_with_value() -> None:
    assert parse_globals(["--debug=false", "list"])[0].debug is False
    assert parse_globals(["--debug=true", "list"])[0].debug is True


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--nope", "list"], "--nope"),
        (["--root"], "--root"),
        (["--log-format", "xml", "list"], "xml"),
        (["--root", "", "list"], "--root"),
    ],
)
def test_bad_globals(argv: list[str], needle: str) -> None:
    with pytest.raises(UsageError, match=needle):
        parse_globals(argv)


def _parser() -> VerbParser:
    p = VerbParser("pyrunc test", "test")
    p.add_argument("--bundle", "-b", default=".")
    p.add_argument("--detach", "-d", action="store_true")
    p.add_argument("--preserve-fds", type=int, default=0)
    p.add_argument("container_id")
    return p


@pytest.mark.parametrize(
    "argv",
    [
        ["--bundle", "/b", "-d", "id"],
        ["-bundle", "/b", "-detach", "id"],
        ["-bundle=/b", "--detach", "id"],
        ["-b", "/b", "-d", "id"],
    ],
)
def test_verb_flags_one_or_two_dashes(argv: list[str]) -> None:
    args = _parser().parse_verb_args(argv)
    assert (args.bundle, args.detach, args.container_id) == ("/b", True, "id")


def test_verb_flag_value_may_start_with_a_dash() -> None:
    assert _parser().parse_verb_args(["--bundle", "-odd", "id"]).bundle == "-odd"


def test_verb_parse_error_is_a_usage_error() -> None:
    # the verb, once: "pyrunc: " is put in front where the line is reported
    with pytest.raises(UsageError, match=r"^test: argument --preserve-fds: invalid int value: 'many'$"):
        _parser().parse_verb_args(["--preserve-fds", "many", "id"])
    with pytest.raises(UsageError):
        _parser().parse_verb_args([])


def test_errors_are_one_line_exit_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for argv in (
        ["--root", str(tmp_path), "state", "nope"],
        ["--root", str(tmp_path), "start", "nope"],
        ["--root", str(tmp_path), "kill", "nope", "KILL"],
        ["--root", str(tmp_path), "delete", "nope"],
        ["--root", str(tmp_path), "state", "../bad"],
        ["--systemd-cgroup", "list"],
        ["--root", str(tmp_path), "create", "--preserve-fds", "-1", "x"],
        ["--root", str(tmp_path), "create", "--console-socket", "/s", "x"],
    ):
        status, out, err = run_cli(capsys, *argv)
        assert status == 1, argv
        assert out == ""
        assert err.count("\n") == 1 and err.startswith("pyrunc: "), (argv, err)
        assert "Traceback" not in err
    status, out, err = run_cli(capsys, "frobnicate")  # an unknown command: one line, runc's status 3
    assert (status, out) == (3, "") and err.count("\n") == 1 and err.startswith("pyrunc: "), err


def test_unknown_id_says_does_not_exist(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _status, _out, err = run_cli(capsys, "--root", str(tmp_path), "state", "ghost")
    assert "does not exist" in err and "ghost" in err


def test_json_log(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = tmp_path / "log.json"
    status, _out, err = run_cli(
        capsys, "--log", str(log), "--log-format", "json", "--root", str(tmp_path), "state", "x"
    )
    assert status == 1
    entry = json.loads(log.read_text().splitlines()[-1])
    assert entry["level"] == "error"
    assert "does not exist" in entry["msg"]
    assert "time" in entry
    assert "does not exist" in err  # stderr still gets it


def test_text_log(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    run_cli(capsys, "--log", str(log), "--root", str(tmp_path), "state", "x")
    line = log.read_text().splitlines()[-1]
    assert "level=error" in line and "does not exist" in line


def test_list_of_an_empty_root(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run_cli(capsys, "--root", str(tmp_path / "none"), "list", "-q") == (0, "", "")
    status, out, _ = run_cli(capsys, "--root", str(tmp_path / "none"), "list", "-format", "json")
    assert (status, out) == (0, "null\n")  # runc's answer for no container (a nil Go slice)
    status, out, _ = run_cli(capsys, "--root", str(tmp_path / "none"), "list")
    assert status == 0 and out.split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]


def test_delete_force_of_unknown_is_quiet(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run_cli(capsys, "--root", str(tmp_path), "delete", "--force", "ghost") == (0, "", "")


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(capsys, "--help")
    assert status == 0 and "create" in out and "--root" in out
    status, out, _ = run_cli(capsys, "-v")
    assert status == 0 and out.startswith("pyrunc version")


def test_verb_parser_matches_argparse_semantics(capsys: pytest.CaptureFixture[str]) -> None:
    p = VerbParser("pyrunc t", "t")
    p.add_argument("--env", "-e", action="append", default=[])
    p.add_argument("--format", "-f", choices=("table", "json"), default="table")
    p.add_argument("--tty", nargs="?", const=True, default=None)
    p.add_argument("container_id", metavar="CONTAINER_ID")
    p.add_argument("signal", nargs="?", default="SIGTERM")
    args = p.parse_verb_args(["-e", "A=1", "--env=B=2", "id", "-f", "json", "KILL", "--tty"])
    assert (args.env, args.format, args.container_id, args.signal, args.tty) == (
        ["A=1", "B=2"],
        "json",
        "id",
        "KILL",
        True,
    )
    args = p.parse_verb_args(["id"])
    assert (args.env, args.format, args.signal, args.tty) == ([], "table", "SIGTERM", None)
    for argv, needle in [
        (["-f", "yaml", "id"], r"argument --format/-f: invalid choice: 'yaml' \(choose from 'table', 'json'\)"),
        (["id", "SIG", "extra"], "unrecognized arguments: extra"),
        (["--nope", "id"], "unrecognized arguments: --nope"),
        (["id", "--env"], "argument --env/-e: expected one argument"),
        ([], "the following arguments are required: CONTAINER_ID"),
    ]:
        with pytest.raises(UsageError, match=needle):
            p.parse_verb_args(argv)
    with pytest.raises(SystemExit) as exc:
        p.parse_verb_args(["--help"])
    assert exc.value.code == 0 and "--format, -f FORMAT" in capsys.readouterr().out


def test_verb_parser_command_after_id() -> None:
    p = VerbParser("pyrunc exec", "t")
    p.add_argument("--user", "-u")
    p.add_argument("container_id")
    p.command_after_id = True
    args = p.parse_verb_args(["-u", "1000", "id", "ls", "-l", "--user"])
    assert (args.user, args.container_id, args.command) == ("1000", "id", ["ls", "-l", "--user"])


def test_fast_verbs_are_the_verbs_with_a_fast_path() -> None:
    """cli.FAST_VERBS (no code pack before their fast form) names exactly the verb modules that
    define fast()."""
    import importlib

    from libcontainer_py import cli

    with_fast = {v for v, (mod, _help) in cli.VERBS.items()
                 if hasattr(importlib.import_module(f"libcontainer_py.cli.{mod}"), "fast")}  # fmt: skip
    assert with_fast == cli.FAST_VERBS


@pytest.mark.parametrize(
    ("argv", "closed", "rc", "err"),
    [
        (["--version"], "1", 0, ""),
        (["list"], "1", 0, ""),
        (["state", "nope"], "1", 1, "pyrunc: container 'nope' does not exist\n"),
        (["state", "nope"], "0", 1, "pyrunc: container 'nope' does not exist\n"),
        (["list"], "2", 0, ""),
    ],
)
def test_a_closed_stdio_fd_is_no_traceback(tmp_path: Path, argv: list[str], closed: str, rc: int, err: str) -> None:
    """pyrunc started with fd 0, 1 or 2 closed: the interpreter leaves sys.stdout (or stdin, or
    stderr) as None, and writing to it was a traceback. What it writes there goes to /dev/null,
    as Go's runtime arranges for runc; errors still reach stderr (when it is open)."""
    import subprocess
    import sys

    root = str(tmp_path / "root")
    code = "from libcontainer_py.cli import main; main()"
    # Closed before the interpreter starts (bash's N>&-), as a supervisor would leave it.
    p = subprocess.run(["bash", "-c", f'exec "$@" {closed}>&-', "bash", sys.executable, "-c", code, "--root", root,
                        *argv], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert p.returncode == rc, p
    assert "Traceback" not in p.stderr and "internal error" not in p.stderr, p.stderr
    assert p.stderr == err
