"""The planned init's rootfs steps (rootfs/plan.py) without a kernel: what a config must be for
them (check: NotPlanned and why), the cgroup binds' sources from a given mount table and
/proc/self/cgroup, and the shape of the steps written (slots released, the order of the stages).
What they do in a real container is tests/integration/test_planned_init.py's."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from libcontainer_py import _sys
from libcontainer_py.init.opplan import OpPlan
from libcontainer_py.mountinfo import parse_mountinfo
from libcontainer_py.rootfs import plan as rplan
from libcontainer_py.spec import fast
from libcontainer_py.spec.defaults import default_dict

BUNDLE = "/run/bundle"


def spec_with(edit: Any = None) -> Any:
    d = copy.deepcopy(default_dict())
    d["process"]["terminal"] = False
    if edit is not None:
        edit(d)
    return fast.build(d)


def test_the_default_config_is_planned() -> None:
    checked = rplan.check(spec_with(), BUNDLE, no_pivot=False)
    assert [p.destination for p in checked.mounts][:3] == ["/proc", "/dev", "/dev/pts"]
    assert [d.path for d in checked.devices] == ["/dev/null", "/dev/zero", "/dev/full", "/dev/random",
                                                 "/dev/urandom", "/dev/tty"]


def _mount(**m: Any) -> Any:
    return lambda d: d["mounts"].append(m)


def _dev_options(options: list[str]) -> Any:
    def edit(d: dict[str, Any]) -> None:
        for m in d["mounts"]:
            if m["destination"] == "/dev":
                m["options"] = options

    return edit


def _bind_dev(d: dict[str, Any]) -> None:
    d["mounts"] = [m for m in d["mounts"] if m["destination"] != "/dev"]
    d["mounts"].append({"destination": "/dev", "type": "bind", "source": "/dev", "options": ["rbind"]})


def _device(**dev: Any) -> Any:
    return lambda d: d["linux"].setdefault("devices", []).append({"type": "c", "major": 1, "minor": 3, **dev})


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (_dev_options(["nosuid", "ro"]), "a read-only /dev"),
        (_bind_dev, "/dev is not one fresh mount of the config's"),
        (lambda d: d["mounts"].pop(1), "/dev is not one fresh mount of the config's"),
        (_mount(destination="/etc", type="tmpfs", source="tmpfs", options=["tmpcopyup"]), "tmpcopyup"),
        (_mount(destination="/x", type="bind", source="/", options=["rbind", "rro"]), "a recursive attribute"),
        (_mount(destination="/x", type="bind", source="/no/such/source", options=["bind"]), ".source is missing"),
        (_mount(destination="/proc/foo", type="tmpfs", source="tmpfs"), "mounts inside /proc are not allowed"),
        (_device(path="/dev/net/tun"), "a device outside /dev"),
        (_device(path="/dev/null2", fileMode=0o4666), "set-ID or sticky bits"),
        (lambda d: d["linux"].update(rootfsPropagation="slave"), "linux.rootfsPropagation"),
    ],
    ids=[
        "ro-dev", "bind-dev", "no-dev", "tmpcopyup", "rro", "missing-source", "in-proc", "dev-net-tun",
        "setuid-device", "propagation",
    ],
)  # fmt: skip
def test_what_is_not_planned(edit: Any, why: str) -> None:
    spec = spec_with(edit)
    with pytest.raises(rplan.NotPlanned, match=why):
        rplan.check(spec, BUNDLE, no_pivot=False)


def test_no_pivot_is_not_planned() -> None:
    with pytest.raises(rplan.NotPlanned, match="--no-pivot"):
        rplan.check(spec_with(), BUNDLE, no_pivot=True)


def test_covers() -> None:
    etc = spec_with(_mount(destination="/etc", type="tmpfs", source="tmpfs"))
    mounts = rplan.check(etc, BUNDLE, no_pivot=False).mounts
    assert rplan.covers(mounts, "/etc/passwd")
    assert not rplan.covers(rplan.check(spec_with(), BUNDLE, no_pivot=False).mounts, "/etc/passwd")
    assert not rplan.covers(mounts, "/etcetera")


HYBRID = """\
30 25 0:26 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
31 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,cpu,cpuacct
32 25 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,memory
33 25 0:29 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,xattr,name=systemd
"""
OWN = {
    frozenset(): "/user.slice/session-1.scope",
    frozenset({"cpu", "cpuacct"}): "/user.slice",
    frozenset({"memory"}): "/user.slice/u",
    frozenset({"name=systemd"}): "/user.slice/session-1.scope",
}


def test_cgroup_bind_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    """The container's directory where the runtime joins the init, the runtime's own elsewhere:
    what the init's /proc/self/cgroup will name, before the init is in it."""
    monkeypatch.setattr("libcontainer_py.mountinfo.cgroup_mounts", lambda: parse_mountinfo(HYBRID))
    monkeypatch.setattr("libcontainer_py.rootfs.mounts._own_cgroups", lambda: OWN)
    container = {
        "cpu": "/sys/fs/cgroup/cpu,cpuacct/pyrunc/c1",
        "cpuacct": "/sys/fs/cgroup/cpu,cpuacct/pyrunc/c1",
        "memory": "/sys/fs/cgroup/memory/pyrunc/c1",
    }
    assert rplan.cgroup_bind_sources(container) == {
        "": "/sys/fs/cgroup/unified/user.slice/session-1.scope",
        "cpu,cpuacct": "/sys/fs/cgroup/cpu,cpuacct/pyrunc/c1",
        "memory": "/sys/fs/cgroup/memory/pyrunc/c1",
        "systemd": "/sys/fs/cgroup/systemd/user.slice/session-1.scope",
    }
    # pure v2: the container's own directory
    pure = "40 25 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
    monkeypatch.setattr("libcontainer_py.mountinfo.cgroup_mounts", lambda: parse_mountinfo(pure))
    assert rplan.cgroup_bind_sources({"": "/sys/fs/cgroup/pyrunc/c1"}) == {"": "/sys/fs/cgroup/pyrunc/c1"}


def _kinds() -> dict[int, str]:
    names = ["OPENAT2", "ENSURE_AT", "CLOSE", "MOUNT", "PIVOT_ROOT", "MKNOD_AT", "SYMLINK_AT", "READONLY", "MASK"]
    return {_sys.plan_const(f"LC_OP_{n}"): n for n in names}


@pytest.mark.skipif(not _sys.shim_available(), reason="needs the built shim (its LC_OP_* numbers)")
def test_the_steps_release_every_slot_and_pivot_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("libcontainer_py.mountinfo.cgroup_mounts", lambda: parse_mountinfo(HYBRID))
    monkeypatch.setattr("libcontainer_py.rootfs.mounts._own_cgroups", lambda: OWN)
    spec = spec_with()
    checked = rplan.check(spec, BUNDLE, no_pivot=False)
    plan = OpPlan(floor=3)
    plan.fds.extend([7, 9])  # (ours: the slots must go above them)
    sources = rplan.cgroup_bind_sources({})
    rplan.add_prepare(plan, "/run/bundle/rootfs", checked, cgroup_sources=lambda: sources, cgroupns=False)
    rplan.add_finalize(plan, spec)
    kinds = _kinds()
    opened: set[int] = set()
    order = []
    for op in plan.ops:
        kind = kinds.get(op[0], "other")
        order.append(kind)
        if kind in ("OPENAT2", "ENSURE_AT"):
            slot = op[4]
            assert slot > 9 and slot not in opened, (kind, slot)
            opened.add(slot)
        elif kind == "CLOSE":
            opened.discard(op[1])
    assert opened == set()  # every fd the child opens is closed before its execve
    assert order.count("PIVOT_ROOT") == 1
    pivot = order.index("PIVOT_ROOT")
    assert order.index("MKNOD_AT") < pivot < order.index("READONLY") < order.index("MASK")
    # the v1 cgroup binds: one per hierarchy named as the host's, sources as worked out
    binds = [op for op in plan.ops if kinds.get(op[0]) == "MOUNT" and op[5] in {s.encode() for s in sources.values()}]
    assert len(binds) == 3  # cpu,cpuacct, memory, systemd (not the unified one, as runc)
