"""rootfs planning: mount plans, /proc checks, devices, paths.clean, mountinfo (no root needed)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from libcontainer_py._sys import consts as c
from libcontainer_py.mountinfo import mount_containing, parse_mountinfo
from libcontainer_py.rootfs import MOUNT_OPTIONS, MountError, RootfsError
from libcontainer_py.rootfs.devices import DEFAULT_DEVICES, needs_dev_setup, plan_devices
from libcontainer_py.rootfs.errors import DeviceError
from libcontainer_py.rootfs.idmap import IDMap, map_text
from libcontainer_py.rootfs.mounts import check_proc_destination, plan_mount, plan_mounts
from libcontainer_py.rootfs.paths import clean
from libcontainer_py.spec import LinuxDevice, Mount


def mnt(**kw: Any) -> Mount:
    return Mount.model_validate(kw)


BUNDLE = Path("/run/bundle")


def test_bind_source_relative_to_bundle() -> None:
    p = plan_mount(0, mnt(destination="/data", source="vol/a", options=["rbind", "ro"]), BUNDLE)
    assert p.kind == "bind"
    assert p.source == "/run/bundle/vol/a"
    assert p.mount_flags == c.MS_BIND | c.MS_REC
    assert p.options.needs_bind_remount
    assert p.label == "bind /run/bundle/vol/a on /data"


def test_bind_absolute_source_and_type_bind() -> None:
    p = plan_mount(1, mnt(destination="data", type="bind", source="/srv/../srv/x"), BUNDLE)
    assert p.kind == "bind"
    assert p.source == "/srv/x"
    assert p.destination == "/data"  # a relative destination is relative to "/"
    assert p.mount_flags == c.MS_BIND


def test_fs_mount_plan() -> None:
    p = plan_mount(
        3,
        mnt(
            destination="/dev/shm/",
            type="tmpfs",
            source="shm",
            options=["nosuid", "mode=1777", "size=65536k"],
        ),
        BUNDLE,
    )
    assert (p.kind, p.source, p.destination) == ("tmpfs", "shm", "/dev/shm")
    assert p.mount_flags == c.MS_NOSUID
    assert p.options.data == "mode=1777,size=65536k"
    assert p.field == "mounts[3]"
    assert p.label == "tmpfs on /dev/shm"


def test_source_defaults_to_type() -> None:
    assert plan_mount(0, mnt(destination="/proc", type="proc"), BUNDLE).source == "proc"


def test_destination_cannot_climb() -> None:
    assert plan_mount(0, mnt(destination="/../../etc", type="tmpfs"), BUNDLE).destination == "/etc"


def test_missing_type_is_an_error() -> None:
    with pytest.raises(MountError, match=r"^mounts\[2\]\.type: required"):
        plan_mount(2, mnt(destination="/x", source="foo"), BUNDLE)


def test_bind_without_source_is_an_error() -> None:
    with pytest.raises(MountError, match=r"^mounts\[0\]\.source: required for a bind mount on /x"):
        plan_mount(0, mnt(destination="/x", options=["bind"]), BUNDLE)


def test_idmap_only_on_binds() -> None:
    with pytest.raises(MountError, match=r"mounts\[0\]\.options: idmap"):
        plan_mount(0, mnt(destination="/x", type="tmpfs", options=["idmap"]), BUNDLE)


def test_mappings_imply_idmap_and_come_in_pairs() -> None:
    m = {"containerID": 0, "hostID": 1000, "size": 1}
    p = plan_mount(0, mnt(destination="/x", source="/s", options=["bind"], uidMappings=[m], gidMappings=[m]), BUNDLE)
    assert p.options.idmap and p.uid_mappings == (IDMap(0, 1000, 1),)
    with pytest.raises(MountError, match="together"):
        plan_mount(0, mnt(destination="/x", source="/s", options=["bind"], uidMappings=[m]), BUNDLE)
    assert map_text([IDMap(0, 1000, 1), IDMap(1, 100000, 65536)]) == "0 1000 1\n1 100000 65536\n"


def test_plan_mounts_indexes() -> None:
    plans = plan_mounts([mnt(destination="/proc", type="proc"), mnt(destination="/tmp", type="tmpfs")], BUNDLE)
    assert [p.field for p in plans] == ["mounts[0]", "mounts[1]"]
    assert plan_mounts(None, BUNDLE) == []


@pytest.mark.parametrize(
    ("kind", "real", "ok"),
    [
        ("proc", "proc", True),
        ("tmpfs", "proc", False),
        ("tmpfs", "proc/sys", False),
        ("bind", "proc/self/attr", False),
        ("bind", "proc/cpuinfo", True),
        ("bind", "proc/meminfo", True),
        ("tmpfs", "procfoo", True),
        ("tmpfs", "dev/shm", True),
    ],
)
def test_check_proc_destination(kind: str, real: str, ok: bool) -> None:
    opts = ["bind"] if kind == "bind" else []
    p = plan_mount(
        0,
        mnt(destination="/" + real, type=None if kind == "bind" else kind, source="/lxcfs/x", options=opts),
        BUNDLE,
    )
    if ok:
        check_proc_destination(p, real)
    else:
        with pytest.raises(MountError, match=r"^mounts\[0\]"):
            check_proc_destination(p, real)


@pytest.mark.parametrize(
    ("given", "rel"),
    [
        ("/", "."),
        ("", "."),
        ("/dev/shm", "dev/shm"),
        ("dev//shm/", "dev/shm"),
        ("/a/../../b", "b"),
        ("../../etc", "etc"),
        ("/./x/.", "x"),
    ],
)
def test_clean(given: str, rel: str) -> None:
    assert clean(given) == rel


def test_default_devices() -> None:
    devs = plan_devices(None)
    assert [d.path for d in devs] == [
        "/dev/null",
        "/dev/zero",
        "/dev/full",
        "/dev/random",
        "/dev/urandom",
        "/dev/tty",
    ]
    null = devs[0]
    assert null.mode == 0o20666 and null.rdev == os.makedev(1, 3)
    assert len(DEFAULT_DEVICES) == 6


def test_spec_devices_add_and_override() -> None:
    fuse = LinuxDevice.model_validate(
        {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o600, "uid": 5, "gid": 6}
    )
    null = LinuxDevice.model_validate({"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o644})
    fifo = LinuxDevice.model_validate({"path": "/run/fifo", "type": "p"})
    devs = {d.path: d for d in plan_devices([fuse, null, fifo])}
    assert devs["/dev/fuse"].mode == 0o20600 and (devs["/dev/fuse"].uid, devs["/dev/fuse"].gid) == (5, 6)
    assert devs["/dev/fuse"].field == "linux.devices[0]"
    assert devs["/dev/null"].file_mode == 0o644 and devs["/dev/null"].field == "linux.devices[1]"
    assert devs["/run/fifo"].mode & 0o170000 == 0o010000 and devs["/run/fifo"].rdev == 0
    assert len(devs) == 8


def test_device_errors_name_the_field() -> None:
    bad = LinuxDevice.model_validate({"path": "/dev/x", "type": "b"})
    with pytest.raises(DeviceError, match=r"^linux\.devices\[0\]: major and minor"):
        plan_devices([bad])
    rel = LinuxDevice.model_validate({"path": "dev/x", "type": "c", "major": 1, "minor": 1})
    with pytest.raises(DeviceError, match=r"^linux\.devices\[0\]\.path"):
        plan_devices([rel])
    assert issubclass(DeviceError, RootfsError)


def test_needs_dev_setup() -> None:
    assert needs_dev_setup(plan_mounts([mnt(destination="/dev", type="tmpfs")], BUNDLE))
    assert not needs_dev_setup(plan_mounts([mnt(destination="/dev/", source="/dev", options=["rbind"])], BUNDLE))


MOUNTINFO = """\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
23 22 0:5 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
24 22 0:30 /sub /mnt/with\\040space ro,nosuid master:3 - tmpfs tmpfs rw,size=10k
25 22 0:31 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
"""


def test_parse_mountinfo() -> None:
    infos = parse_mountinfo(MOUNTINFO)
    assert [m.mountpoint for m in infos] == ["/", "/proc", "/mnt/with space", "/sys/fs/cgroup/cpu,cpuacct"]
    root, _, spaced, cg = infos
    assert root.shared and not root.slave
    assert spaced.slave and not spaced.shared
    assert spaced.root == "/sub" and "ro" in spaced.options and spaced.super_options == ("rw", "size=10k")
    assert cg.fstype == "cgroup" and cg.super_options == ("rw", "cpu", "cpuacct")
    assert mount_containing("/mnt/with space/x", infos) is spaced
    assert mount_containing("/mnt/other", infos) is root
    assert mount_containing("/proc", infos) is infos[1]


def test_features_lists_mount_options() -> None:
    from libcontainer_py.features import features_document

    assert features_document()["mountOptions"] == sorted(MOUNT_OPTIONS)
