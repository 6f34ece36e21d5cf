"""The six OCI hooks in a real container lifecycle (issue 6).

Each hook is the HOST's /bin/sh (absolute path) with a script that appends its kind to an `order`
file and writes its stdin (the state JSON) and the inodes of its mount and network namespaces to a
0755 directory outside the container. That directory is also bind-mounted into the container at the
same path, so startContainer (whose path resolves in the container: busybox's sh) writes there too.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from libcontainer_py.hooks import HOOK_KINDS

RUNTIME_NS = ("prestart", "createRuntime", "poststart", "poststop")
CONTAINER_NS = ("createContainer", "startContainer")
EXPECTED_STATUS = {
    "prestart": "creating",
    "createRuntime": "creating",
    "createContainer": "creating",
    "startContainer": "created",
    "poststart": "running",
    "poststop": "stopped",
}


def recorder(out: Path, kind: str, **extra: Any) -> dict[str, Any]:
    script = (
        f"cat > {out}/{kind}.json; "
        # /proc/self, not /proc/$$: before pivot_root the container's hooks still see the host's
        # /proc, where the pid the container's namespace gave them names another process.
        # One file per readlink: busybox's (startContainer runs the container's) takes one.
        f"for n in mnt net; do readlink /proc/self/ns/$n; done > {out}/{kind}.ns; "
        f"echo {kind} >> {out}/order"
    )
    return {"path": "/bin/sh", "args": ["sh", "-c", script], "env": ["PATH=/usr/bin:/bin"], **extra}


def share(out: Path) -> Any:
    """A config edit: bind-mount `out` into the container at the same path."""

    def edit(config: dict[str, Any]) -> None:
        config["mounts"].append({"destination": str(out), "type": "bind", "source": str(out),
                                 "options": ["rbind", "rw"]})  # fmt: skip

    return edit


def edits(*fns: Any) -> Any:
    def edit(config: dict[str, Any]) -> None:
        for fn in fns:
            fn(config)

    return edit


def hooks(**by_kind: list[dict[str, Any]]) -> Any:
    def edit(config: dict[str, Any]) -> None:
        config["hooks"] = by_kind

    return edit


def ns(pid: int | str = "self") -> list[str]:
    return [os.readlink(f"/proc/{pid}/ns/{n}") for n in ("mnt", "net")]


def order(out: Path) -> list[str]:
    path = out / "order"
    return path.read_text().split() if path.exists() else []


def cgroup_dirs(cid: str) -> list[str]:
    controllers = ("memory", "pids", "cpu", "freezer", "devices")
    return [c for c in controllers if os.path.exists(f"/sys/fs/cgroup/{c}/pyrunc/{cid}")]


def processes_with(marker: str) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        out.append(int(name))
            except OSError:
                continue
    return out


def assert_nothing_left(rt: Any, cid: str) -> None:
    assert rt.state_dirs() == []
    assert cgroup_dirs(cid) == []


def test_every_kind_runs_in_order_where_the_spec_says(rt: Any) -> None:
    out = rt.mkdir("hooks")
    all_hooks = {kind: [recorder(out, kind)] for kind in HOOK_KINDS}
    bundle = rt.bundle(["sleep", "100"], edit=edits(share(out), hooks(**all_hooks)))
    cid = rt.new_id()

    r = rt.pyrunc("create", "--bundle", str(bundle), cid)
    assert r.rc == 0, r
    assert order(out) == ["prestart", "createRuntime", "createContainer"]
    pid = rt.state(cid)["pid"]
    container_ns = ns(pid)
    assert container_ns != ns()

    r = rt.pyrunc("start", cid)
    assert r.rc == 0, r
    assert order(out) == ["prestart", "createRuntime", "createContainer", "startContainer", "poststart"]

    assert rt.pyrunc("kill", cid, "KILL").rc == 0
    rt.wait_status(cid, "stopped")
    r = rt.pyrunc("delete", cid)
    assert r.rc == 0, r
    assert order(out) == list(HOOK_KINDS)

    for kind in HOOK_KINDS:
        state = json.loads((out / f"{kind}.json").read_text())
        assert state["id"] == cid and state["status"] == EXPECTED_STATUS[kind], (kind, state)
        assert state["bundle"] == str(bundle)
        assert (out / f"{kind}.ns").read_text().split() == (ns() if kind in RUNTIME_NS else container_ns), kind
        if kind in CONTAINER_NS:
            assert state["pid"] == 1, (kind, state)  # the pid as the container sees it
        elif kind != "poststop":
            assert state["pid"] == pid, (kind, state)  # as the runtime sees it


def test_args_env_and_cwd_exactly_as_given(rt: Any) -> None:
    out = rt.mkdir("hooks")
    script = f"cat /proc/$$/cmdline > {out}/argv; cat /proc/$$/environ > {out}/environ; pwd > {out}/cwd"
    hook = {"path": "/bin/sh", "args": ["not-sh", "-c", script, "one", "two words"],
            "env": ["ZED=last", "A=1", "SPACED=two words"]}  # fmt: skip
    bare = {"path": "/bin/sh", "args": ["sh", "-c", f"cat /proc/$$/environ > {out}/bare"]}
    bundle = rt.bundle(["true"], edit=hooks(createRuntime=[hook, bare]))
    rt.out(bundle)
    assert (out / "argv").read_bytes().split(b"\0")[:-1] == [b"not-sh", b"-c", script.encode(), b"one", b"two words"]
    assert (out / "environ").read_bytes().split(b"\0")[:-1] == [b"ZED=last", b"A=1", b"SPACED=two words"]
    assert (out / "bare").read_bytes() == b""  # no env: an empty environment, as runc
    assert (out / "cwd").read_text() == f"{bundle}\n"  # runc runs hooks in the bundle


def test_timeout_fails_create_and_leaves_nothing(rt: Any) -> None:
    marker = f"hook-{uuid.uuid4().hex[:8]}"
    hook = {"path": "/bin/sh", "args": ["sh", "-c", f"sleep 30 & wait; : {marker}"], "timeout": 1}
    bundle = rt.bundle(["true"], edit=hooks(createRuntime=[hook]))
    cid = rt.new_id()
    r = rt.pyrunc("create", "--bundle", str(bundle), cid)
    assert r.rc == 1, r
    line = r.err.strip().splitlines()[-1]
    assert "hooks.createRuntime[0]" in line and "timeout after 1s" in line, r
    assert_nothing_left(rt, cid)
    assert processes_with(marker) == []


def test_create_runtime_failure_fails_create(rt: Any) -> None:
    out = rt.mkdir("hooks")
    hook = {"path": "/bin/sh", "args": ["sh", "-c", "echo bad hook >&2; exit 3"]}
    bundle = rt.bundle(["true"], edit=hooks(createRuntime=[hook], poststop=[recorder(out, "poststop")]))
    cid = rt.new_id()
    r = rt.pyrunc("create", "--bundle", str(bundle), cid)
    assert r.rc == 1, r
    line = r.err.strip()
    assert len(line.splitlines()) == 1, r
    assert "hooks.createRuntime[0] (/bin/sh): exit status 3: bad hook" in line, r
    assert_nothing_left(rt, cid)


def test_create_container_failure_fails_create(rt: Any) -> None:
    hook = {"path": "/bin/sh", "args": ["sh", "-c", "exit 4"]}
    bundle = rt.bundle(["true"], edit=hooks(createContainer=[hook]))
    cid = rt.new_id()
    r = rt.pyrunc("create", "--bundle", str(bundle), cid)
    assert r.rc == 1, r
    assert "hooks.createContainer[0]" in r.err and "exit status 4" in r.err, r
    assert_nothing_left(rt, cid)


def test_poststart_failure_kills_and_deletes_and_runs_poststop(rt: Any) -> None:
    out = rt.mkdir("hooks")
    bad = {"path": "/bin/sh", "args": ["sh", "-c", "exit 5"]}
    bundle = rt.bundle(["sleep", "100"], edit=hooks(poststart=[bad], poststop=[recorder(out, "poststop")]))
    cid = rt.new_id()
    assert rt.pyrunc("create", "--bundle", str(bundle), cid).rc == 0
    pid = rt.state(cid)["pid"]
    r = rt.pyrunc("start", cid)
    assert r.rc == 1, r
    assert "hooks.poststart[0]" in r.err and "exit status 5" in r.err, r
    assert order(out) == ["poststop"]
    assert json.loads((out / "poststop.json").read_text())["status"] == "stopped"
    assert not os.path.exists(f"/proc/{pid}/ns") or rt.state_dirs() == []
    assert_nothing_left(rt, cid)


def test_poststop_failure_is_a_warning(rt: Any) -> None:
    out = rt.mkdir("hooks")
    bad = {"path": "/bin/sh", "args": ["sh", "-c", "echo cleanup failed >&2; exit 6"]}
    bundle = rt.bundle(["true"], edit=hooks(poststop=[bad, recorder(out, "poststop")]))
    cid = rt.new_id()
    r = rt.run(bundle, "--detach", cid=cid)
    assert r.rc == 0, r
    rt.wait_status(cid, "stopped")
    r = rt.pyrunc("delete", cid)
    assert r.rc == 0, r
    assert "hooks.poststop[0]" in r.err and "exit status 6" in r.err and "cleanup failed" in r.err, r
    assert order(out) == ["poststop"]  # the next poststop hook still ran
    assert_nothing_left(rt, cid)


def test_start_container_failure_stops_the_program(rt: Any) -> None:
    out = rt.mkdir("hooks")
    bad = {"path": "/bin/sh", "args": ["sh", "-c", "exit 7"]}
    bundle = rt.bundle(["sh", "-c", f"touch {out}/program-ran"], edit=edits(share(out), hooks(startContainer=[bad])))
    r = rt.run(bundle)
    assert r.rc != 0, r
    assert "hooks.startContainer[0]" in r.err, r
    assert not (out / "program-ran").exists()


@pytest.mark.parametrize(
    ("kind", "hook", "message"),
    [
        ("prestart", {"path": "bin/sh"}, "must be an absolute path"),
        ("createRuntime", {"path": "/nonexistent/hook"}, "does not exist"),
        ("poststop", {"path": "NOT-EXECUTABLE"}, "is not executable"),
        ("createContainer", {"path": "/bin/sh", "timeout": 0}, "(got 0)"),
    ],
    ids=["relative", "missing", "not-executable", "zero-timeout"],
)
def test_bad_hook(rt: Any, kind: str, hook: dict[str, Any], message: str) -> None:
    if hook["path"] == "NOT-EXECUTABLE":
        script = rt.base / "hook.sh"
        script.write_text("#!/bin/sh\nexit 0\n")
        script.chmod(0o644)
        hook = {"path": str(script)}
    bundle = rt.bundle(["true"], edit=hooks(**{kind: [hook]}))
    cid = rt.new_id()
    r = rt.run(bundle, cid=cid)
    assert r.rc == 1, r
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r
    field = f"hooks.{kind}[0].{'timeout' if 'timeout' in hook else 'path'}"
    assert field in lines[0] and message in lines[0], r
    assert_nothing_left(rt, cid)
