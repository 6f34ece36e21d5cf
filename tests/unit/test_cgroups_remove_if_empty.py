"""Manager.remove_if_empty on fake trees (temp dirs; no root): one rmdir each, the directory that
pids() lists first, False at the first busy one with what comes after it untouched. A directory
with something in it stands for a busy cgroup (the kernel's EBUSY; a plain directory's ENOTEMPTY)."""

from __future__ import annotations

from pathlib import Path

from libcontainer_py.cgroups import Layout, Mounts, load_manager
from libcontainer_py.cgroups.paths import CgroupMount

V1 = ("blkio", "cpu,cpuacct", "freezer", "memory", "pids")


def v1_tree(tmp_path: Path) -> tuple[dict[str, str], Mounts]:
    paths: dict[str, str] = {}
    mounts: dict[str, CgroupMount] = {}
    for hierarchy in V1:
        d = tmp_path / hierarchy / "pyrunc" / "c1"
        d.mkdir(parents=True)
        for c in hierarchy.split(","):
            paths[c] = str(d)
            mounts[c] = CgroupMount(str(tmp_path / hierarchy), "/", "cgroup", frozenset(hierarchy.split(",")))
    return paths, Mounts(Layout.V1, mounts, None)


def left(paths: dict[str, str]) -> set[str]:
    return {c for c, d in paths.items() if Path(d).exists()}


def test_v1_empty_every_directory_removed_once(tmp_path: Path) -> None:
    paths, mounts = v1_tree(tmp_path)
    m = load_manager(paths, mounts=mounts)
    assert m.remove_if_empty() is True
    assert left(paths) == set() and not m.exists()
    assert m.remove_if_empty() is True  # gone already: nothing to do, not an error


def test_v1_the_listed_directory_busy_leaves_everything(tmp_path: Path) -> None:
    # The freezer directory is what pids() lists: busy, nothing is removed, and the caller lists
    # the processes from it.
    paths, mounts = v1_tree(tmp_path)
    (Path(paths["freezer"]) / "sub").mkdir()
    m = load_manager(paths, mounts=mounts)
    assert m.remove_if_empty() is False
    assert left(paths) == set(paths)


def test_v1_a_later_directory_busy_stops_there(tmp_path: Path) -> None:
    # freezer, then pids and memory (pids() lists them next), removed in that order: memory busy,
    # the ones after it (blkio, cpu) stay, and pids() would read memory's.
    paths, mounts = v1_tree(tmp_path)
    (Path(paths["memory"]) / "sub").mkdir()
    m = load_manager(paths, mounts=mounts)
    assert m.remove_if_empty() is False
    assert left(paths) == {"memory", "blkio", "cpu", "cpuacct"}


def test_v2(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("")
    mounts = Mounts(Layout.V2, {}, CgroupMount(str(tmp_path), "/", "cgroup2"))
    d = tmp_path / "pyrunc" / "c1"
    (d / "sub").mkdir(parents=True)
    m = load_manager({"": str(d)}, mounts=mounts)
    assert m.remove_if_empty() is False and d.exists()
    (d / "sub").rmdir()
    assert m.remove_if_empty() is True and not d.exists()


def test_no_cgroup() -> None:
    assert load_manager({}).remove_if_empty() is True
