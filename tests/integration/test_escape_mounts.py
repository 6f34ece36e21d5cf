"""Mount targets, masks, /dev/console and procfs writes through symlinks: CVE-2021-30465 and the
2025 advisories CVE-2025-31133 (maskedPaths via a replaced /dev/null), CVE-2025-52565 (/dev/console
bind through a symlink) and CVE-2025-52881 (procfs writes redirected).

The image (the rootfs) is the attacker's: it plants symlinks (absolute, relative with "../..",
pointing at a host directory that exists) where the config mounts, masks or writes, and the test
checks that the host directory stays empty and host files keep their content; the container
either fails with one clean line or runs with everything inside its own root.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from libcontainer_py.tty import ConsoleError, receive_from_socket


def digest(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def one_clean_line(err: str) -> bool:
    return "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_mount_destinations_through_symlinks_stay_in_the_root(rt: Any) -> None:
    host = rt.mkdir("host-target")  # exists on the host: a symlink aimed at it must not reach it
    payload = rt.base / "payload.txt"
    payload.write_text("bound\n")

    def edit(c: dict[str, Any]) -> None:
        c["mounts"] += [
            {"destination": "/abs/sub", "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/rel/sub2", "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/abs/file", "type": "bind", "source": str(payload), "options": ["bind"]},
            {"destination": "/etclink/x", "type": "tmpfs", "source": "tmpfs"},
        ]

    bundle = rt.bundle(
        ["sh", "-c", f"grep -c ' {host}/sub' /proc/self/mounts; cat {host}/file; grep -c ' /etc/x ' /proc/self/mounts"],
        edit=edit,
    )
    rootfs = bundle / "rootfs"
    os.symlink(str(host), rootfs / "abs")  # absolute: "/tmp/lcpy-it-.../host-target"
    os.symlink("../" * 12 + str(host).lstrip("/"), rootfs / "rel")  # climbs far above the rootfs
    os.symlink("/etc", rootfs / "etclink")
    etc_before = sorted(os.listdir("/etc"))
    r = rt.run(bundle)
    assert r.rc == 0, r
    assert r.out.split() == ["2", "bound", "1"], r  # both tmpfs and the bind landed, in the container
    assert os.listdir(host) == []  # the host directory was never touched
    assert sorted(os.listdir("/etc")) == etc_before
    # they were made inside the rootfs, at the symlinks' targets taken relative to it
    assert (rootfs / str(host).lstrip("/") / "sub").is_dir()
    assert (rootfs / "etc" / "x").is_dir()


def test_devices_through_a_dev_symlink_stay_in_the_root(rt: Any) -> None:
    host = rt.mkdir("host-dev")
    bundle = rt.bundle(["sh", "-c", "[ -c /dev/null ] && [ -c /dev/zero ] && echo devices-ok"])
    rootfs = bundle / "rootfs"
    shutil.rmtree(rootfs / "dev")
    os.symlink(str(host), rootfs / "dev")
    r = rt.run(bundle)
    assert r.rc == 0 and "devices-ok" in r.out, r
    assert os.listdir(host) == []


def test_masked_and_readonly_paths_through_symlinks_stay_in_the_root(rt: Any) -> None:
    passwd = digest("/etc/passwd")

    def edit(c: dict[str, Any]) -> None:
        c["linux"]["maskedPaths"] += ["/masklink", "/maskdir"]
        c["linux"]["readonlyPaths"] += ["/rolink"]

    bundle = rt.bundle(
        ["sh", "-c", "wc -c < /etc/passwd; ls /var | wc -l; touch /etc/ro-test 2>/dev/null || echo etc-ro"], edit=edit
    )
    rootfs = bundle / "rootfs"
    (rootfs / "var" / "x").mkdir(parents=True, exist_ok=True)
    os.symlink("/etc/passwd", rootfs / "masklink")
    os.symlink("../../../../../../var", rootfs / "maskdir")
    os.symlink("/etc", rootfs / "rolink")
    r = rt.run(bundle)
    assert r.rc == 0, r
    assert r.out.split() == ["0", "0", "etc-ro"], r  # the container's own files got masked / made ro
    assert digest("/etc/passwd") == passwd
    assert not os.path.exists("/etc/ro-test")


def dev_bind_bundle(rt: Any, args: list[str], plant: dict[str, str], terminal: bool = False) -> Path:
    """A bundle whose /dev is a bind mount of a directory the image controls (so the runtime makes
    no device nodes there), with the symlinks in `plant` (name -> target) in it."""
    devdir = rt.mkdir(f"devdir{rt._n}")
    for name, target in plant.items():
        if target == "<file>":
            (devdir / name).write_text("not a device\n")
        else:
            os.symlink(target, devdir / name)

    def edit(c: dict[str, Any]) -> None:
        for m in c["mounts"]:
            if m["destination"] == "/dev":
                m.clear()
                m.update({"destination": "/dev", "type": "bind", "source": str(devdir), "options": ["rbind"]})
        c["process"]["terminal"] = terminal

    return rt.bundle(args, edit=edit)


@pytest.mark.parametrize("null", ["/proc/sys/kernel/core_pattern", "<file>", "/etc/hostname"])
def test_masked_paths_are_masked_with_the_real_dev_null_only(rt: Any, null: str) -> None:
    """CVE-2025-31133: the container's /dev/null replaced by a symlink (here: to the host's
    core_pattern, through the container's procfs) or a plain file. Binding "/dev/null" over the
    masked paths would put core_pattern (read-write without readonlyPaths) where /proc/kcore was."""
    core = digest("/proc/sys/kernel/core_pattern")

    def no_readonly(c: dict[str, Any]) -> None:
        c["linux"]["readonlyPaths"] = []

    bundle = dev_bind_bundle(rt, ["sh", "-c", "cat /proc/timer_list | wc -c"], {"null": null})
    cfg = bundle / "config.json"
    import json

    doc = json.loads(cfg.read_text())
    no_readonly(doc)
    cfg.write_text(json.dumps(doc))
    r = rt.run(bundle)
    if r.rc == 0:  # only acceptable if the mask really is empty
        assert r.out.strip() == "0", r
    else:
        assert "/dev/null is not the null device" in r.err and one_clean_line(r.err), r
    assert digest("/proc/sys/kernel/core_pattern") == core
    assert r.rc != 0, r  # what this runtime does: it refuses


def test_the_console_is_never_mounted_through_a_symlink(rt: Any) -> None:
    """CVE-2025-52565: /dev/console is a symlink (to core_pattern, through the container's procfs)
    when the pty is bound over it."""
    core = digest("/proc/sys/kernel/core_pattern")
    bundle = dev_bind_bundle(
        rt, ["true"], {"console": "/proc/sys/kernel/core_pattern", "ptmx": "pts/ptmx"}, terminal=True
    )
    sock_path = rt.base / "console.sock"
    got: list[int] = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(sock_path))
        listener.listen(1)

        def receive() -> None:
            with contextlib.suppress(OSError, ConsoleError):  # nobody connects when create refuses
                got.append(receive_from_socket(listener, timeout=3))

        t = threading.Thread(target=receive, daemon=True)
        t.start()
        r = rt.pyrunc("create", "--bundle", str(bundle), "--console-socket", str(sock_path), rt.new_id("con"))
        t.join(15)
    for fd in got:
        os.close(fd)
    assert r.rc != 0, r
    assert "/dev/console" in r.err and one_clean_line(r.err), r
    assert digest("/proc/sys/kernel/core_pattern") == core
    assert rt.state_dirs() == []


def test_procfs_writes_refuse_a_proc_that_is_not_procfs(rt: Any) -> None:
    """CVE-2025-52881: sysctls are written under the container's /proc. Here the config mounts
    no procfs and the image's /proc holds ordinary files at those paths: the writes would land in
    the image's files (on the host's disk) and the runtime would believe them applied. (And
    oom_score_adj, which is written through the host's /proc, never touches the image's file.)"""

    def edit(c: dict[str, Any]) -> None:
        c["mounts"] = [m for m in c["mounts"] if m["destination"] != "/proc"]
        c["linux"]["sysctl"] = {"kernel.domainname": "pwned"}

    bundle = rt.bundle(["true"], edit=edit)
    fake = bundle / "rootfs" / "proc" / "sys" / "kernel" / "domainname"
    fake.parent.mkdir(parents=True)
    fake.write_text("untouched\n")
    r = rt.run(bundle)
    assert r.rc != 0, r
    assert "kernel.domainname" in r.err and "not a procfs" in r.err and one_clean_line(r.err), r
    assert fake.read_text() == "untouched\n"

    def oom(c: dict[str, Any]) -> None:
        c["mounts"] = [m for m in c["mounts"] if m["destination"] != "/proc"]
        c["process"]["oomScoreAdj"] = 999
        # masks are mounted through /proc/self/fd: without a procfs they would fail first
        c["linux"]["maskedPaths"] = []
        c["root"]["readonly"] = False

    # oom_score_adj never goes through the container's /proc: the runtime's first child writes it
    # through the host's, before it enters any namespace (process_setup.write_oom_score_adj)
    bundle = rt.bundle(["sleep", "30"], edit=oom)
    fake = bundle / "rootfs" / "proc" / "self" / "oom_score_adj"
    fake.parent.mkdir(parents=True)
    fake.write_text("untouched\n")
    cid = rt.new_id("oom")
    r = rt.pyrunc("run", "-d", "--bundle", str(bundle), cid)
    assert r.rc == 0, r
    with open(f"/proc/{rt.state(cid)['pid']}/oom_score_adj") as f:
        assert f.read().strip() == "999"
    assert fake.read_text() == "untouched\n"
    assert rt.pyrunc("delete", "--force", cid).rc == 0
    assert rt.state_dirs() == []


def test_procfs_writes_still_work_on_a_real_procfs(rt: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["linux"]["sysctl"] = {"kernel.domainname": "example.org", "net.ipv4.ip_forward": "1"}
        c["linux"]["namespaces"].append({"type": "network"}) if not any(
            n["type"] == "network" for n in c["linux"]["namespaces"]
        ) else None
        c["process"]["oomScoreAdj"] = 321

    bundle = rt.bundle(
        ["sh", "-c", "cat /proc/sys/kernel/domainname /proc/sys/net/ipv4/ip_forward /proc/self/oom_score_adj"],
        edit=edit,
    )
    r = rt.run(bundle)
    assert r.rc == 0, r
    assert r.out.split() == ["example.org", "1", "321"], r
