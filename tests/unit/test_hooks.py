"""OCI hooks without root: argv and env exactly as given, the state on stdin, exit status, timeout,
the poststop warning policy, and validation at create."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest

from libcontainer_py import hooks
from libcontainer_py.errors import ConfigError
from libcontainer_py.hooks import HOOK_KINDS, ON_ERROR, HookError, run_hook, run_hooks, validate_hooks

STATE = {"ociVersion": "1.3.0", "id": "c1", "status": "creating", "pid": 1234, "bundle": "/b", "annotations": {}}

# /bin/sh as the hook itself, so that argv[0] and the environment are visible as the kernel got them
# (a shebang script would see the interpreter's argv): /proc/$$/cmdline and /proc/$$/environ.
RECORD = (
    '/bin/cat /proc/$$/cmdline > "$OUT/argv"; /bin/cat /proc/$$/environ > "$OUT/env"; '
    '/bin/cat > "$OUT/stdin"; /bin/cat /proc/$$/stat > "$OUT/stat"'
)


def script(tmp_path: Path, body: str, name: str = "hook.sh") -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return str(path)


def test_argv_env_and_stdin_exactly_as_given(tmp_path: Path) -> None:
    hook = {
        "path": "/bin/sh",
        "args": ["custom-argv0", "-c", f"OUT={tmp_path}; {RECORD}", "x", "--flag", "two words"],
        "env": ["A=1", "B=with space", "EMPTY="],
    }
    run_hook("createRuntime", 0, hook, STATE, cwd=tmp_path)
    argv = (tmp_path / "argv").read_bytes().split(b"\0")[:-1]
    assert argv == [b"custom-argv0", b"-c", f"OUT={tmp_path}; {RECORD}".encode(), b"x", b"--flag", b"two words"]
    assert (tmp_path / "env").read_bytes().split(b"\0")[:-1] == [b"A=1", b"B=with space", b"EMPTY="]
    assert json.loads((tmp_path / "stdin").read_text()) == STATE


def test_absent_env_is_an_empty_environment_and_absent_args_is_path(tmp_path: Path) -> None:
    path = script(tmp_path, f"OUT={tmp_path}; {RECORD}")
    os.environ["LEAK_CHECK"] = "1"
    try:
        run_hook("poststart", 0, {"path": path}, STATE)
    finally:
        del os.environ["LEAK_CHECK"]
    assert (tmp_path / "env").read_bytes() == b""
    # The shebang makes the kernel run "/bin/sh <path>": our argv[0] (the path) is what sh got as $0.
    assert (tmp_path / "argv").read_bytes().split(b"\0")[:-1] == [b"/bin/sh", path.encode()]


def test_hook_model_works_too(tmp_path: Path) -> None:
    from libcontainer_py.spec import Hook

    run_hook("prestart", 0, Hook(path="/bin/sh", args=["sh", "-c", f"/bin/cat > {tmp_path}/in"]), STATE)
    assert json.loads((tmp_path / "in").read_text())["id"] == "c1"


def test_exit_status_and_stderr_in_the_error(tmp_path: Path) -> None:
    path = script(tmp_path, 'echo "first line" >&2; echo "no route to netns" >&2; exit 2', "netsetup")
    with pytest.raises(HookError) as info:
        run_hooks("createRuntime", [{"path": "/bin/true"}, {"path": path}], STATE)
    assert str(info.value) == f"hooks.createRuntime[1] ({path}): exit status 2: no route to netns"
    assert (info.value.kind, info.value.index, info.value.returncode) == ("createRuntime", 1, 2)
    assert b"first line" in info.value.stderr


def test_stdout_used_when_stderr_is_empty_and_signal_named(tmp_path: Path) -> None:
    path = script(tmp_path, "echo from-stdout; kill -TERM $$")
    with pytest.raises(HookError, match=r"\): killed by signal SIGTERM: from-stdout$"):
        run_hook("poststart", 3, {"path": path}, STATE)


def test_hook_that_ignores_stdin_is_fine(tmp_path: Path) -> None:
    big = {**STATE, "annotations": {f"k{i}": "v" * 100 for i in range(2000)}}  # > a pipe's 64 KiB
    run_hook("poststart", 0, {"path": "/bin/true"}, big)


def test_timeout_kills_the_process_group_and_fails(tmp_path: Path) -> None:
    # The hook starts a grandchild; both must be gone after the timeout.
    path = script(tmp_path, f'/bin/sleep 60 & echo $! > {tmp_path}/child; echo "waiting" >&2; wait')
    t0 = time.monotonic()
    with pytest.raises(HookError) as info:
        run_hook("createContainer", 0, {"path": path, "timeout": 1}, STATE)
    assert time.monotonic() - t0 < 5
    assert str(info.value) == f"hooks.createContainer[0] ({path}): timeout after 1s (killed): waiting"
    child = int((tmp_path / "child").read_text())
    for _ in range(50):
        if not _alive(child):
            break
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_missing_executable_is_a_hook_error(tmp_path: Path) -> None:
    with pytest.raises(HookError, match=r"^hooks.poststart\[0\] \(/nonexistent/hook\): cannot execute: "):
        run_hook("poststart", 0, {"path": "/nonexistent/hook"}, STATE)


def test_failure_policy_table() -> None:
    assert HOOK_KINDS == ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")
    assert {k for k, v in ON_ERROR.items() if v == "warn"} == {"poststop"}
    assert set(ON_ERROR) == set(HOOK_KINDS) == set(hooks.NAMESPACE)


def test_the_builder_knows_the_same_hook_kinds() -> None:
    """spec/_builder_hooks.py keeps its own copy (importing hooks.py would bring the runtime's
    `signal` into the spec package): the two must not drift."""
    from libcontainer_py.spec.builder import HOOK_KINDS as BUILDER_KINDS

    assert BUILDER_KINDS == HOOK_KINDS


def test_poststop_failures_warn_and_the_rest_still_run(tmp_path: Path) -> None:
    ran = tmp_path / "ran"
    warnings: list[str] = []
    failures = run_hooks(
        "poststop",
        [{"path": "/bin/false"}, {"path": "/bin/sh", "args": ["sh", "-c", f"/bin/touch {ran}"]}],
        STATE,
        warn=warnings.append,
    )
    assert ran.exists()
    assert warnings == ["hooks.poststop[0] (/bin/false): exit status 1"]
    assert [f.index for f in failures] == [0]


def test_raise_policy_stops_at_the_first_failure(tmp_path: Path) -> None:
    ran = tmp_path / "ran"
    with pytest.raises(HookError):
        run_hooks("poststart", [{"path": "/bin/false"}, {"path": "/bin/touch", "args": ["touch", str(ran)]}], STATE)
    assert not ran.exists()


def test_in_container_sets_the_pid_as_the_container_sees_it(tmp_path: Path) -> None:
    out = tmp_path / "in"
    hook = {"path": "/bin/sh", "args": ["sh", "-c", f"/bin/cat > {out}"]}
    hooks.run_hooks_in_container("startContainer", [hook], STATE)
    assert json.loads(out.read_text())["pid"] == os.getpid()
    with pytest.raises(ValueError):
        hooks.run_hooks_in_container("poststart", [hook], STATE)


def test_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown hook kind"):
        run_hooks("preStart", [], STATE)


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hooks_json", "message"),
    [
        ({"prestart": [{"path": "relative/hook"}]}, "hooks.prestart[0].path: must be an absolute path"),
        (
            {"createRuntime": [{"path": "/bin/true"}, {"path": "/no/such"}]},
            "hooks.createRuntime[1].path: /no/such does not exist",
        ),
        ({"poststop": [{"path": "/etc"}]}, "hooks.poststop[0].path: /etc does not exist or is not a regular file"),
        ({"poststart": [{"path": "/bin/true", "timeout": 0}]}, "hooks.poststart[0].timeout: must be greater than zero"),
        ({"startContainer": [{"path": "bin/ldconfig"}]}, "hooks.startContainer[0].path: must be an absolute path"),
    ],
)
def test_validate_hooks_names_the_field(hooks_json: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_hooks(hooks_json)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_validate_hooks_not_executable(tmp_path: Path) -> None:
    plain = tmp_path / "hook"
    plain.write_text("#!/bin/sh\n")
    plain.chmod(0o644)
    with pytest.raises(ConfigError, match=rf"^hooks.createContainer\[0\].path: {plain} is not executable$"):
        validate_hooks({"createContainer": [{"path": str(plain)}]})


def test_validate_hooks_accepts_good_ones_and_container_paths(tmp_path: Path) -> None:
    from libcontainer_py.spec import Hooks

    validate_hooks(None)
    validate_hooks({"createRuntime": [{"path": "/bin/true"}], "startContainer": [{"path": "/sbin/only-in-container"}]})
    validate_hooks(Hooks.model_validate({"poststop": [{"path": "/bin/true", "args": ["true"], "timeout": 5}]}))
    assert stat.S_ISREG(os.stat("/bin/true").st_mode)
