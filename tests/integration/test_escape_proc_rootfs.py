"""CVE-2019-19921 class: /proc mounted over a symlink, and a rootfs that is itself a symlink.

runc mounted procfs wherever a symlink at /proc pointed (an image racing a volume could aim it at
a directory it controls, and LSM profiles, masked and readonly paths then missed the real procfs).
A procfs or sysfs mount whose destination passes through a symlink is refused. A rootfs that is a
symlink is resolved once, before anything is mounted, and everything happens in its target.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

import pytest


@pytest.mark.parametrize("kind", ["proc", "sys"])
@pytest.mark.parametrize("target", ["host", "relative"])
def test_proc_and_sys_over_a_symlink_are_refused(rt: Any, kind: str, target: str) -> None:
    host = rt.mkdir("host-proc")
    bundle = rt.bundle(["true"])
    rootfs = bundle / "rootfs"
    shutil.rmtree(rootfs / kind)
    os.symlink(str(host) if target == "host" else "tmp", rootfs / kind)
    r = rt.run(bundle)
    assert r.rc != 0, r
    fstype = "proc" if kind == "proc" else "sysfs"
    assert f"{fstype} must be mounted on an ordinary directory" in r.err, r
    assert "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1, r
    assert os.listdir(host) == []
    assert rt.state_dirs() == []
    with open("/proc/self/mountinfo") as f:  # nothing mounted on the host (the fixture checks too)
        assert str(host) not in f.read()


def test_a_rootfs_that_is_a_symlink_is_resolved_once(rt: Any) -> None:
    bundle = rt.bundle(["sh", "-c", "ls /proc/self/ns >/dev/null && cat /marker"])
    real = rt.base / "real-rootfs"
    os.rename(bundle / "rootfs", real)
    (real / "marker").write_text("the real one\n")
    os.symlink(str(real), bundle / "rootfs")
    cid = rt.new_id("rl")
    r = rt.pyrunc("create", "--bundle", str(bundle), cid)
    assert r.rc == 0, r
    assert json.loads(rt.pyrunc("state", cid).out)["rootfs"] == str(real)
    assert rt.pyrunc("delete", "--force", cid).rc == 0
    r = rt.run(bundle)
    assert r.rc == 0 and r.out == "the real one\n", r


def test_a_dangling_rootfs_symlink_fails_cleanly(rt: Any) -> None:
    bundle = rt.bundle(["true"])
    shutil.rmtree(bundle / "rootfs")
    os.symlink(str(rt.base / "nowhere"), bundle / "rootfs")
    r = rt.run(bundle)
    assert r.rc != 0 and "root.path" in r.err and len(r.err.strip().splitlines()) == 1, r
    assert rt.state_dirs() == []
