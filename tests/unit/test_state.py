"""state.py without root: statuses and their rules, ids, the state directory, pid reuse."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from libcontainer_py import _status
from libcontainer_py import state as state_mod
from libcontainer_py.errors import LibcontainerError
from libcontainer_py.state import (
    ContainerExists,
    ContainerNotFound,
    ContainerState,
    CorruptState,
    StateDir,
    Status,
    list_ids,
    now_rfc3339,
    process_start_time,
    status_of,
    validate_id,
)


@pytest.mark.parametrize(
    ("status", "start", "kill", "delete"),
    [
        (Status.CREATING, False, False, True),
        (Status.CREATED, True, True, False),
        (Status.RUNNING, False, True, False),
        (Status.PAUSED, False, True, False),
        (Status.STOPPED, False, False, True),
    ],
)
def test_lifecycle_rules(status: Status, start: bool, kill: bool, delete: bool) -> None:
    assert (status.can_start(), status.can_kill(), status.can_delete()) == (start, kill, delete)


@pytest.mark.parametrize("cid", ["a", "web-1", "x_y.z+1", "A" * 1024, "123"])
def test_valid_ids(cid: str) -> None:
    assert validate_id(cid) == cid


@pytest.mark.parametrize("cid", ["", ".", "..", "a/b", "../x", "with space", "tab\t", "é", "A" * 1025, "a\nb", "a\n"])
def test_invalid_ids(cid: str) -> None:
    with pytest.raises(LibcontainerError, match="invalid container id"):
        validate_id(cid)


def test_state_dir_refuses_a_bad_id(tmp_path: Path) -> None:
    with pytest.raises(LibcontainerError):
        StateDir(str(tmp_path), "../escape")


def test_state_round_trip(tmp_path: Path) -> None:
    d = StateDir(str(tmp_path / "root"), "c1")
    d.create()
    st = ContainerState(id="c1", bundle="/b", rootfs="/b/rootfs", pid=42, pid_start=7, annotations={"k": "v"})
    d.save(st)
    assert d.load() == st
    assert list_ids(str(tmp_path / "root")) == ["c1"]
    # written atomically: no temporary file left next to it
    assert sorted(os.listdir(d.path)) == ["state.json"]
    assert json.loads(Path(d.state_file).read_text())["pid"] == 42


def test_state_ignores_unknown_fields() -> None:
    text = json.dumps({"id": "c", "bundle": "/b", "rootfs": "/r", "from_the_future": 1})
    assert ContainerState.from_json(text).id == "c"


def test_duplicate_id(tmp_path: Path) -> None:
    StateDir(str(tmp_path), "dup").create()
    with pytest.raises(ContainerExists, match="already exists"):
        StateDir(str(tmp_path), "dup").create()


def test_missing_container(tmp_path: Path) -> None:
    d = StateDir(str(tmp_path), "ghost")
    with pytest.raises(ContainerNotFound, match="does not exist"):
        d.load()
    with pytest.raises(ContainerNotFound), d.lock():
        pass


def test_corrupt_state_says_how_to_recover(tmp_path: Path) -> None:
    d = StateDir(str(tmp_path), "bad")
    d.create()
    Path(d.state_file).write_text("{not json")
    with pytest.raises(CorruptState, match="delete --force"):
        d.load()
    assert isinstance(CorruptState("x"), LibcontainerError)


def test_remove_corrupt_removes_only_a_corrupt_state(tmp_path: Path) -> None:
    good = StateDir(str(tmp_path), "good")
    good.create()
    good.save(ContainerState(id="good", bundle="/b", rootfs="/r"))
    assert not good.remove_corrupt() and os.path.exists(good.state_file)
    assert not StateDir(str(tmp_path), "never").remove_corrupt()
    bad = StateDir(str(tmp_path), "bad")
    bad.create()
    Path(bad.state_file).write_text('{"id": 3}')  # JSON, but not a state
    assert bad.remove_corrupt() and not os.path.exists(bad.path)
    assert list_ids(str(tmp_path)) == ["good"]


def test_remove(tmp_path: Path) -> None:
    d = StateDir(str(tmp_path), "gone")
    d.create()
    d.save(ContainerState(id="gone", bundle="/b", rootfs="/r"))
    os.mkfifo(d.exec_fifo)
    d.remove()
    assert not os.path.exists(d.path)
    d.remove()  # twice is fine
    assert list_ids(str(tmp_path)) == []
    assert list_ids(str(tmp_path / "never-made")) == []


def test_list_skips_directories_without_state(tmp_path: Path) -> None:
    (tmp_path / "half").mkdir()
    d = StateDir(str(tmp_path), "whole")
    d.create()
    d.save(ContainerState(id="whole", bundle="/b", rootfs="/r"))
    assert list_ids(str(tmp_path)) == ["whole"]


def test_lock_serialises(tmp_path: Path) -> None:
    d = StateDir(str(tmp_path), "locked")
    d.create()
    order: list[str] = []
    with d.lock():
        def second() -> None:
            with d.lock():
                order.append("second")

        t = threading.Thread(target=second)
        t.start()
        time.sleep(0.1)
        order.append("first")
    t.join(5)
    assert order == ["first", "second"]


def test_process_start_time() -> None:
    me = process_start_time(os.getpid())
    assert isinstance(me, int) and me > 0
    assert process_start_time(os.getpid()) == me
    assert process_start_time(2**22 + 12345) is None


def test_process_start_time_of_a_zombie_is_none() -> None:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os._exit(0)
    try:
        deadline = time.monotonic() + 5
        while process_start_time(pid) is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert process_start_time(pid) is None  # a zombie counts as exited
    finally:
        os.waitpid(pid, 0)


def _state(tmp_path: Path, **fields: object) -> tuple[ContainerState, StateDir]:
    d = StateDir(str(tmp_path), "s")
    d.create()
    st = ContainerState(id="s", bundle="/b", rootfs="/r", **fields)  # type: ignore[arg-type]
    return st, d


def test_status_derivation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    me, start = os.getpid(), process_start_time(os.getpid())
    st, d = _state(tmp_path, pid=me, pid_start=start, stage="created")
    assert status_of(st, d) is Status.RUNNING
    os.mkfifo(d.exec_fifo)
    # a fifo is not enough: the init must still be waiting on it (named pyrunc:[2:INIT]); a fifo
    # left by a start killed after it released the init names a running container
    assert status_of(st, d) is Status.RUNNING
    monkeypatch.setattr(_status, "comm", lambda pid: state_mod.INIT_COMM)
    assert status_of(st, d) is Status.CREATED
    st.pid_start = (start or 0) + 1  # the pid now names another process: reused
    assert status_of(st, d) is Status.STOPPED
    st.pid = 0
    assert status_of(st, d) is Status.STOPPED


def test_status_while_creating(tmp_path: Path) -> None:
    """"creating" while create holds the directory's lock (pid or not yet); once the lock is gone
    without the stage becoming "created", create died: "stopped", whatever is left running."""
    st, d = _state(tmp_path, pid=os.getpid(), stage="creating")
    with d.creating():
        assert status_of(st, d) is Status.CREATING
        st.pid = 0
        assert status_of(st, d) is Status.CREATING  # no init yet, create still at work
        other = StateDir(d.root, d.id)  # another process's view (the state verb)
        assert status_of(st, other) is Status.CREATING
    assert status_of(st, d) is Status.STOPPED  # create died before it had a pid
    st.pid = os.getpid()
    assert status_of(st, d) is Status.STOPPED  # ... or after: the container never came to be


def test_now_rfc3339() -> None:
    stamp = now_rfc3339()
    assert len(stamp) == len("2026-01-02T03:04:05.123456789Z") and stamp.endswith("Z")
    assert time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")


def test_read_state_takes_only_a_finished_well_formed_state(tmp_path: Path) -> None:
    """_status.read_state (the fast path of `pyrunc state` and `events --stats`) gives the fields
    with ContainerState's defaults, and None for whatever the library must answer itself."""
    d = StateDir(str(tmp_path), "s")
    d.create()
    assert _status.read_state(str(tmp_path), "s") is None  # no state.json yet
    assert _status.read_state(str(tmp_path), "nope") is None
    assert _status.read_state(str(tmp_path), "../s") is None  # an invalid id
    st = ContainerState(id="s", bundle="/b", rootfs="/r", pid=7, stage="created", annotations={"a": "b"})
    d.save(st)
    got = _status.read_state(str(tmp_path), "s")
    assert got is not None and got["dir"] == d.path
    for name in ("id", "bundle", "rootfs", "pid", "pid_start", "created", "owner", "oci_version", "annotations",
                 "cgroup_paths"):
        assert got[name] == getattr(st, name), name
    for change in ({"stage": "creating"}, {"pid": "7"}, {"cgroup_paths": []}, {"id": None}):
        data = json.loads(Path(d.state_file).read_text())
        data.update(change)
        Path(d.state_file).write_text(json.dumps(data))
        assert _status.read_state(str(tmp_path), "s") is None, change
    data = json.loads(Path(d.state_file).read_text())
    del data["bundle"]
    Path(d.state_file).write_text(json.dumps(data))
    assert _status.read_state(str(tmp_path), "s") is None
    Path(d.state_file).write_text("{not json")
    assert _status.read_state(str(tmp_path), "s") is None


def test_cgroup_frozen_is_what_the_drivers_say(tmp_path: Path) -> None:
    from libcontainer_py.cgroups import load_manager

    fz = tmp_path / "freezer"
    fz.mkdir()
    v2 = tmp_path / "v2"
    v2.mkdir()
    for paths, file, values in (({"freezer": str(fz), "memory": str(tmp_path)}, fz / "freezer.state",
                                 ("THAWED", "FREEZING", "FROZEN", "")),
                                ({"": str(v2) + "/"}, v2 / "cgroup.freeze", ("0", "1", ""))):
        for value in values:
            file.write_text(value + "\n")
            assert _status.cgroup_frozen(paths) == load_manager(paths).is_frozen(), (paths, value)
        file.unlink()
        assert _status.cgroup_frozen(paths) is False
    assert _status.cgroup_frozen({}) is False
    assert _status.cgroup_frozen({"memory": str(tmp_path)}) is False
