"""Shared pytest set-up: the ``root`` marker's skip (markers are declared in pyproject.toml), and
pyrunc's default state root and default cgroup parents removed at the end when the session made
them."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator

import pytest

IS_ROOT = os.geteuid() == 0
# pyrunc's default --root: the examples (as the talk does `runc run demo`) and podman use it.
DEFAULT_ROOT = "/run/pyrunc"


def _default_cgroup_parents() -> list[str]:
    """The runtime's default cgroup parent (/pyrunc, cgroups/paths.py DEFAULT_PARENT) in each
    hierarchy mounted under /sys/fs/cgroup, this host's cgroup2 mount included."""
    base = "/sys/fs/cgroup"
    try:
        dirs = [base] + [os.path.join(base, d) for d in os.listdir(base)]
    except OSError:
        return []
    return [os.path.join(d, "pyrunc") for d in dirs if os.path.isdir(os.path.join(d, "pyrunc"))]


@pytest.fixture(scope="session", autouse=True)
def _default_cgroup_parent() -> Iterator[None]:
    """The containers made with the default cgroupsPath live under /pyrunc in every hierarchy (as
    runc's under its own parent); the directories the session made go at the end. One that still
    holds a container's cgroup stays (rmdir fails), and shows the leak."""
    before = set(_default_cgroup_parents())
    yield
    for d in set(_default_cgroup_parents()) - before:
        with contextlib.suppress(OSError):
            os.rmdir(d)


@pytest.fixture(scope="session", autouse=True)
def _default_state_root() -> Iterator[None]:
    """When the session made /run/pyrunc, it goes at the end with the seccomp cache in it; a
    container's state left there keeps it (and shows the leak)."""
    made = not os.path.exists(DEFAULT_ROOT)
    yield
    if made and os.path.isdir(DEFAULT_ROOT):
        shutil.rmtree(os.path.join(DEFAULT_ROOT, ".seccomp-cache"), ignore_errors=True)
        with contextlib.suppress(OSError):
            os.rmdir(DEFAULT_ROOT)


@pytest.fixture(autouse=True)
def _no_fork_server_left() -> Iterator[None]:
    """A test that ran a container from a thread, or with spawn="forkserver", started this
    process's fork server (libcontainer_py/init/forkserver.py): it ends with the test."""
    yield
    import sys

    forkserver = sys.modules.get("libcontainer_py.init.forkserver")
    if forkserver is not None:
        forkserver.stop()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``root`` need real privileges (namespaces, mounts): skip them, saying why, otherwise."""
    if IS_ROOT:
        return
    skip_root = pytest.mark.skip(reason="needs root: run as root for namespace and mount tests")
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip_root)
