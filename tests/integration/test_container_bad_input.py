"""Bad input (issue 3): each is one line on stderr naming the config field or host limit, exit 1,
and nothing left behind (the `rt` finalizer checks for processes and mounts)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest


def refused(r: Any, *needles: str, status: int = 1) -> None:
    assert r.rc == status, r
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r
    assert "Traceback" not in r.err
    for needle in needles:
        assert needle in lines[0], r


def create_fails(rt: Any, edit: Any, *needles: str, verb: str = "create") -> None:
    bundle = rt.bundle(["true"], edit=edit)
    refused(rt.pyrunc(verb, "-b", str(bundle), rt.new_id()), *needles)
    assert rt.state_dirs() == []


@pytest.mark.parametrize("verb", ["create", "run"])
def test_missing_rootfs(rt: Any, verb: str) -> None:
    bundle = rt.bundle(["true"])
    shutil.rmtree(bundle / "rootfs")
    refused(rt.pyrunc(verb, "-b", str(bundle), rt.new_id()), "root.path", str(bundle / "rootfs"))
    assert rt.state_dirs() == []


def test_missing_bundle(rt: Any) -> None:
    refused(rt.pyrunc("create", "-b", str(rt.base / "nope"), rt.new_id()), str(rt.base / "nope"))


def test_config_json_that_is_a_directory(rt: Any) -> None:
    bundle = rt.bundle(["true"])
    (bundle / "config.json").unlink()
    (bundle / "config.json").mkdir()
    refused(rt.pyrunc("run", "-b", str(bundle), rt.new_id()), f"{bundle}/config.json:", "Is a directory")
    assert "config.json/config.json" not in rt.pyrunc("create", "-b", str(bundle), rt.new_id()).err
    assert rt.state_dirs() == []


@pytest.mark.parametrize("verb", ["create", "run"])
def test_a_pid_file_that_cannot_be_written(rt: Any, verb: str) -> None:
    """The container is made, then the pid file fails: the flag named, and the container, its
    cgroup and its processes gone (the create is undone)."""
    bundle = rt.bundle(["sleep", "30"])
    cid = rt.new_id()
    pid_file = rt.base / "no-such-dir" / "pid"
    r = rt.pyrunc(verb, *(["-d"] if verb == "run" else []), "--pid-file", str(pid_file), "-b", str(bundle), cid)
    refused(r, "--pid-file", str(pid_file), "No such file or directory")
    assert rt.state_dirs() == []
    assert not [p for p in Path("/sys/fs/cgroup").glob(f"*/pyrunc/{cid}")]


@pytest.mark.parametrize("verb", ["create", "run"])
def test_mount_source_does_not_exist(rt: Any, verb: str) -> None:
    missing = str(rt.base / "no-such-dir")

    def edit(config: dict[str, Any]) -> None:
        config["mounts"].append({"destination": "/data", "type": "bind", "source": missing, "options": ["rbind"]})

    create_fails(rt, edit, "mounts[", ".source", missing, verb=verb)


def test_no_mount_namespace_is_one_line_every_time(rt: Any) -> None:
    """An init that fails early, before it has read what the runtime sent it unasked
    ("cgroup-done", "limits-done"): its error is what create reports, every time (a race once
    lost it to a silent exit 1 or "exited during create"). Twenty library creates, then the CLI."""
    from libcontainer_py.container import Container
    from libcontainer_py.errors import LibcontainerError

    def edit(config: dict[str, Any]) -> None:
        config["linux"]["namespaces"] = []

    bundle = rt.bundle(["true"], edit=edit)
    for i in range(20):
        with pytest.raises(LibcontainerError) as err:
            Container.create(f"nomnt{i}", bundle, root=rt.root)
        assert "linux.namespaces: a mount namespace is required" in str(err.value), (i, err.value)
    assert rt.state_dirs() == []
    refused(rt.pyrunc("run", "-b", str(bundle), rt.new_id()), "linux.namespaces", "mount namespace")
    assert rt.state_dirs() == []


def test_rlimit_soft_above_hard(rt: Any) -> None:
    def edit(config: dict[str, Any]) -> None:
        config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 200, "hard": 100}]

    bundle = rt.bundle(["true"], edit=edit)
    r = rt.pyrunc("create", "-b", str(bundle), rt.new_id())
    refused(r, "rlimits")
    assert rt.state_dirs() == []


def test_namespace_path_of_the_wrong_type(rt: Any) -> None:
    def edit(config: dict[str, Any]) -> None:
        for ns in config["linux"]["namespaces"]:
            if ns["type"] == "uts":
                ns["path"] = "/proc/self/ns/net"

    create_fails(rt, edit, "linux.namespaces[", "].path", "net")


def test_namespace_path_missing(rt: Any) -> None:
    def edit(config: dict[str, Any]) -> None:
        config["linux"]["namespaces"].append({"type": "cgroup", "path": "/no/such/ns"})

    create_fails(rt, edit, "linux.namespaces[5].path", "/no/such/ns")


@pytest.mark.parametrize("verb", [["start"], ["kill"], ["kill", "--all"], ["state"], ["delete"]])
def test_unknown_container_id(rt: Any, verb: list[str]) -> None:
    refused(rt.pyrunc(*verb, "no-such-container"), "does not exist", "no-such-container")


def test_delete_force_of_an_unknown_id_succeeds(rt: Any) -> None:
    # containerd's shim cleans up with delete --force and expects success when already gone.
    assert rt.pyrunc("delete", "--force", "no-such-container").rc == 0


def test_start_on_a_running_container(rt: Any) -> None:
    bundle = rt.bundle(["sleep", "100"])
    cid = rt.new_id()
    assert rt.pyrunc("run", "-d", "-b", str(bundle), cid).rc == 0
    refused(rt.pyrunc("start", cid), cid, "running")
    assert rt.state(cid)["status"] == "running"


def test_start_on_a_stopped_container(rt: Any) -> None:
    bundle = rt.bundle(["true"])
    cid = rt.new_id()
    assert rt.pyrunc("run", "-d", "-b", str(bundle), cid).rc == 0
    rt.wait_status(cid, "stopped")
    refused(rt.pyrunc("start", cid), cid, "stopped")


def test_terminal_refused_clearly(rt: Any) -> None:
    create_fails(rt, lambda c: c["process"].update(terminal=True), "process.terminal")


def test_unknown_verb_and_flag(rt: Any) -> None:
    refused(rt.pyrunc("frobnicate"), "frobnicate", status=3)  # runc's status for an unknown command
    refused(rt.pyrunc("create", "--no-such-flag", "x"), "--no-such-flag")
    refused(rt.pyrunc("--systemd-cgroup", "list"), "--systemd-cgroup")


def test_a_state_root_that_cannot_be_used(rt: Any) -> None:
    bundle = rt.bundle(["true"])
    not_a_dir = rt.base / "a-file"
    not_a_dir.write_text("")
    r = rt.pyrunc("--root", str(not_a_dir), "run", "-b", str(bundle), rt.new_id(), root=False)
    refused(r, f"cannot use {not_a_dir} as the state directory (--root): it is not a directory")
    r = rt.pyrunc("--root", "/proc/no-such-root", "run", "-b", str(bundle), rt.new_id(), root=False)
    refused(r, "/proc/no-such-root", "(--root)", "No such file or directory")
