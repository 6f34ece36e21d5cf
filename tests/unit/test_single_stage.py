"""Which configs get their init forked straight from the runtime (init/child.py single_stage)."""

from __future__ import annotations

import pytest

from libcontainer_py.init.child import single_stage
from libcontainer_py.namespaces import plan

DEFAULT = [("pid", None), ("network", None), ("ipc", None), ("uts", None), ("mount", None)]


@pytest.mark.parametrize(
    ("namespaces", "single"),
    [
        (DEFAULT, True),
        ([*DEFAULT, ("cgroup", None)], True),  # unshared by the init after it joined its cgroup
        ([("mount", None)], True),  # no pid namespace: the init lives in ours, one fork is enough
        ([("pid", None), ("mount", None), ("network", "/proc/1/ns/net")], True),  # setns by the init
        ([*DEFAULT, ("user", None)], False),  # what it creates must be owned by the new user ns
        ([("mount", None), ("user", "/proc/1/ns/user")], False),
        ([("mount", None), ("pid", "/proc/1/ns/pid")], False),  # setns(pid) applies to children only
        ([*DEFAULT, ("time", None)], False),  # offsets before any process enters it
        ([("mount", None), ("time", "/proc/1/ns/time")], False),
    ],
)
def test_single_stage(namespaces: list[tuple[str, str | None]], single: bool) -> None:
    assert single_stage(plan(namespaces)) is single
