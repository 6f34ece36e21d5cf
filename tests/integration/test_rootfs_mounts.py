"""rootfs on a real kernel: each test forks a child that unshares a mount namespace, builds a busybox
rootfs from a spec, pivots into it and reports what /proc/self/mountinfo (and the tree) look like
over a pipe. The namespace, and every mount in it, dies with the child: nothing leaks to the host.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from libcontainer_py import _sys
from libcontainer_py._sys import consts as c
from libcontainer_py.mountinfo import MountInfo, parse_mountinfo
from libcontainer_py.rootfs import finalize_rootfs, prepare_rootfs
from libcontainer_py.spec import Spec

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(not _sys.shim_available(), reason="the C shim is not built"),
    pytest.mark.skipif(shutil.which("busybox") is None, reason="needs busybox-static (apt-get install busybox-static)"),
]


def in_child(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in a forked child inside a new mount namespace; return its JSON result or raise
    AssertionError with the child's exception."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(r)
            _sys.unshare(c.CLONE_NEWNS)
            out = {"ok": fn()}
        except BaseException as exc:
            out = {"error": f"{type(exc).__name__}: {exc}", "tb": traceback.format_exc()}
        try:
            os.write(w, json.dumps(out).encode())
        finally:
            os._exit(0)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 1 << 16):
        chunks.append(chunk)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    res = json.loads(b"".join(chunks))
    if "error" in res:
        raise ChildError(res["error"], res["tb"])
    return res["ok"]


class ChildError(Exception):
    def __init__(self, message: str, tb: str) -> None:
        super().__init__(message)
        self.tb = tb


def mountinfo() -> str:
    with open("/proc/self/mountinfo") as f:
        return f.read()


def by_point(text: str) -> dict[str, MountInfo]:
    return {m.mountpoint: m for m in parse_mountinfo(text)}


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    from libcontainer_py.bundle import make_busybox_rootfs

    make_busybox_rootfs(tmp_path / "rootfs")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "hello").write_text("hi\n")
    (tmp_path / "file.txt").write_text("a file\n")
    return tmp_path


def spec_of(mounts: list[dict[str, Any]], **linux: Any) -> Spec:
    cfg: dict[str, Any] = {"ociVersion": "1.2.0", "root": {"path": "rootfs"}, "mounts": mounts}
    if linux:
        cfg["linux"] = linux
    return Spec.from_dict(cfg)


DEFAULT_MOUNTS: list[dict[str, Any]] = [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {
        "destination": "/dev",
        "type": "tmpfs",
        "source": "tmpfs",
        "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
    },
    {
        "destination": "/dev/pts",
        "type": "devpts",
        "source": "devpts",
        "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
    },
    {
        "destination": "/dev/shm",
        "type": "tmpfs",
        "source": "shm",
        "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    },
    {
        "destination": "/dev/mqueue",
        "type": "mqueue",
        "source": "mqueue",
        "options": ["nosuid", "noexec", "nodev"],
    },
    {
        "destination": "/sys",
        "type": "sysfs",
        "source": "sysfs",
        "options": ["nosuid", "noexec", "nodev", "ro"],
    },
]


def test_default_spec_mounts_devices_and_pivot(bundle: Path) -> None:
    spec = Spec.from_dict(
        {
            "ociVersion": "1.2.0",
            "root": {"path": "rootfs", "readonly": True},
            "mounts": [
                *DEFAULT_MOUNTS,
                {
                    "destination": "/sys/fs/cgroup",
                    "type": "cgroup",
                    "source": "cgroup",
                    "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
                },
                {
                    "destination": "/data",
                    "type": "bind",
                    "source": "data",
                    "options": ["rbind", "ro", "nosuid"],
                },
                {"destination": "/etc/file.txt", "source": str(bundle / "file.txt"), "options": ["bind"]},
            ],
            "linux": {
                "devices": [
                    {
                        "path": "/dev/fuse",
                        "type": "c",
                        "major": 10,
                        "minor": 229,
                        "fileMode": 0o640,
                        "uid": 7,
                        "gid": 8,
                    }
                ],
                "maskedPaths": ["/proc/acpi", "/proc/kcore", "/proc/timer_list", "/does/not/exist"],
                "readonlyPaths": ["/proc/sys", "/proc/bus", "/also/missing"],
            },
        }
    )

    def child() -> dict[str, Any]:
        prepare_rootfs(spec, bundle, in_userns=False)
        cwd = os.getcwd()
        finalize_rootfs(spec)
        devs = {n: os.lstat(f"/dev/{n}") for n in os.listdir("/dev")}
        try:
            open("/rootwrite", "w").close()
            root_writable = True
        except OSError:
            root_writable = False
        return {
            "mi": mountinfo(),
            "cwd": cwd,
            "dev": {
                n: [s.st_mode, os.major(s.st_rdev), os.minor(s.st_rdev), s.st_uid, s.st_gid] for n, s in devs.items()
            },
            "links": {n: os.readlink(f"/dev/{n}") for n in devs if stat.S_ISLNK(devs[n].st_mode)},
            "hello": Path("/data/hello").read_text(),
            "file": Path("/etc/file.txt").read_text(),
            "root_writable": root_writable,
            "acpi": os.listdir("/proc/acpi") if os.path.isdir("/proc/acpi") else None,
            "timer_list": Path("/proc/timer_list").read_text() if os.path.exists("/proc/timer_list") else None,
        }

    res = in_child(child)
    mi = by_point(res["mi"])
    assert res["cwd"] == "/"
    assert "ro" in mi["/"].options and not res["root_writable"]
    assert mi["/proc"].fstype == "proc"
    assert mi["/dev"].fstype == "tmpfs" and "nosuid" in mi["/dev"].options
    assert "size=65536k" in mi["/dev"].super_options and "mode=755" in mi["/dev"].super_options
    assert "relatime" not in mi["/dev"].options  # strictatime
    assert mi["/dev/pts"].fstype == "devpts" and "ptmxmode=666" in mi["/dev/pts"].super_options
    assert {"nosuid", "nodev", "noexec"} <= mi["/dev/shm"].options
    assert mi["/dev/mqueue"].fstype == "mqueue"
    assert mi["/sys"].fstype == "sysfs" and "ro" in mi["/sys"].options
    assert "/sys/fs/cgroup" in mi and "ro" in mi["/sys/fs/cgroup"].options
    assert {"ro", "nosuid"} <= mi["/data"].options and res["hello"] == "hi\n"
    assert res["file"] == "a file\n" and mi["/etc/file.txt"].root.endswith("/file.txt")
    # maskedPaths: a directory gets a read-only tmpfs, a file /dev/null; missing ones are skipped.
    assert mi["/proc/acpi"].fstype == "tmpfs" and "ro" in mi["/proc/acpi"].options
    if res["timer_list"] is not None:
        assert res["timer_list"] == ""
        assert mi["/proc/timer_list"].fstype == "tmpfs"  # the container's /dev (a tmpfs) holds /dev/null
    # readonlyPaths: bind onto itself, ro,nosuid,nodev,noexec.
    assert {"ro", "nosuid", "nodev", "noexec"} <= mi["/proc/sys"].options
    assert {"ro", "nosuid", "nodev", "noexec"} <= mi["/proc/bus"].options
    # Devices: the defaults and linux.devices, with their modes and owners.
    dev = res["dev"]
    for name, (major, minor) in {
        "null": (1, 3),
        "zero": (1, 5),
        "full": (1, 7),
        "random": (1, 8),
        "urandom": (1, 9),
        "tty": (5, 0),
    }.items():
        mode, ma, mi_, uid, gid = dev[name]
        assert stat.S_ISCHR(mode) and stat.S_IMODE(mode) == 0o666 and (ma, mi_) == (major, minor)
    mode, ma, mi_, uid, gid = dev["fuse"]
    assert stat.S_ISCHR(mode) and stat.S_IMODE(mode) == 0o640 and (ma, mi_, uid, gid) == (10, 229, 7, 8)
    assert res["links"] == {
        "fd": "/proc/self/fd",
        "stdin": "/proc/self/fd/0",
        "stdout": "/proc/self/fd/1",
        "stderr": "/proc/self/fd/2",
        "ptmx": "pts/ptmx",
        **({"core": "/proc/kcore"} if os.path.exists("/proc/kcore") else {}),
    }


def test_symlink_attack_stays_inside_rootfs(bundle: Path) -> None:
    rootfs = bundle / "rootfs"
    os.symlink("/etc", rootfs / "evil")
    os.symlink("../../../../../../../../tmp/pwned-by-rootfs-test", rootfs / "evil2")
    os.symlink("/proc", rootfs / "myproc")
    host_etc = sorted(os.listdir("/etc"))
    spec = spec_of(
        [
            {"destination": "/evil/x", "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/evil2/y", "type": "bind", "source": "data", "options": ["bind"]},
            {"destination": "/proc", "type": "proc", "source": "proc"},
        ]
    )

    def child() -> dict[str, Any]:
        prepare_rootfs(spec, bundle, in_userns=False)
        return {
            "mi": mountinfo(),
            "x": os.path.isdir("/etc/x"),
            "y": os.listdir("/tmp/pwned-by-rootfs-test/y"),
        }

    res = in_child(child)
    mi = by_point(res["mi"])
    assert mi["/etc/x"].fstype == "tmpfs" and res["x"]
    assert res["y"] == ["hello"] and "/tmp/pwned-by-rootfs-test/y" in mi
    # On the host: /etc untouched, the dangling target was created inside the rootfs only.
    assert sorted(os.listdir("/etc")) == host_etc
    assert not os.path.exists("/etc/x")
    assert not os.path.exists("/tmp/pwned-by-rootfs-test")
    assert (rootfs / "etc" / "x").is_dir()
    assert (rootfs / "tmp" / "pwned-by-rootfs-test" / "y").is_dir()

    # A symlink to /proc does not get around the /proc destination check.
    spec2 = spec_of([{"destination": "/myproc/sys", "type": "tmpfs", "source": "tmpfs"}])
    with pytest.raises(ChildError, match=r"mounts\[0\] \(tmpfs on /myproc/sys\): mounts inside /proc"):
        in_child(lambda: prepare_rootfs(spec2, bundle, in_userns=False))


def test_missing_bind_source_names_the_field(bundle: Path) -> None:
    spec = spec_of(
        [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/data", "source": "nope", "options": ["rbind"]},
        ]
    )
    with pytest.raises(ChildError) as info:
        in_child(lambda: prepare_rootfs(spec, bundle, in_userns=False))
    assert str(info.value) == f"MountError: mounts[1].source: {bundle}/nope: no such file or directory"


def test_kernel_error_names_the_field(bundle: Path) -> None:
    spec = spec_of([{"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["size=bogus"]}])
    with pytest.raises(ChildError) as info:
        in_child(lambda: prepare_rootfs(spec, bundle, in_userns=False))
    assert str(info.value) == "MountError: mounts[0] (tmpfs on /dev/shm): mount: invalid argument"


def test_recursive_options_reach_submounts(bundle: Path) -> None:
    sub = bundle / "data" / "sub"
    sub.mkdir()
    spec = spec_of(
        [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/top-ro", "source": "data", "options": ["rbind", "ro"]},
            {"destination": "/all-ro", "source": "data", "options": ["rbind", "rro", "rnosuid", "rnoatime"]},
            {"destination": "/plain", "source": "data", "options": ["bind", "rprivate"]},
        ]
    )

    def child() -> str:
        _sys.mount(None, "/", None, c.MS_REC | c.MS_PRIVATE, None)
        _sys.mount("tmpfs", str(sub), "tmpfs", 0, "size=1m")
        prepare_rootfs(spec, bundle, in_userns=False)
        return mountinfo()

    mi = by_point(in_child(child))
    assert "ro" in mi["/top-ro"].options and "rw" in mi["/top-ro/sub"].options  # MS_REMOUNT: top only
    for point in ("/all-ro", "/all-ro/sub"):
        assert {"ro", "nosuid", "noatime"} <= mi[point].options, point
    assert "/plain/sub" not in mi  # bind without r: no submounts
    assert not mi["/plain"].shared and not mi["/plain"].slave


def test_tmpcopyup_and_tmpfs_mode(bundle: Path) -> None:
    etc = bundle / "rootfs" / "etc"
    (etc / "sub").mkdir()
    (etc / "sub" / "deep").write_text("deep\n")
    os.symlink("passwd", etc / "pw-link")
    os.chmod(etc, 0o751)
    spec = spec_of(
        [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/etc", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]},
            {"destination": "/run", "type": "tmpfs", "source": "tmpfs"},
        ]
    )

    def child() -> dict[str, Any]:
        prepare_rootfs(spec, bundle, in_userns=False)
        return {
            "mi": mountinfo(),
            "files": sorted(os.listdir("/etc")),
            "deep": Path("/etc/sub/deep").read_text(),
            "link": os.readlink("/etc/pw-link"),
            "mode": stat.S_IMODE(os.stat("/etc").st_mode),
            "run": stat.S_IMODE(os.stat("/run").st_mode),
        }

    res = in_child(child)
    assert by_point(res["mi"])["/etc"].fstype == "tmpfs"
    assert res["files"] == sorted(os.listdir(etc))
    assert res["deep"] == "deep\n" and res["link"] == "passwd"
    assert res["mode"] == 0o751
    assert res["run"] == os.stat(bundle / "rootfs" / "run").st_mode & 0o7777  # an existing dir keeps its mode


def test_no_pivot_and_rootfs_propagation(bundle: Path) -> None:
    spec = spec_of(DEFAULT_MOUNTS[:2], rootfsPropagation="shared")

    def child() -> dict[str, Any]:
        prepare_rootfs(spec, bundle, in_userns=False, no_pivot=True)
        return {"mi": mountinfo(), "cwd": os.getcwd(), "bb": os.path.exists("/bin/busybox")}

    res = in_child(child)
    assert res["cwd"] == "/" and res["bb"]
    mi = by_point(res["mi"])
    assert mi["/proc"].fstype == "proc"

    def child2() -> str:
        prepare_rootfs(spec, bundle, in_userns=False)
        return mountinfo()

    assert by_point(in_child(child2))["/"].shared


def test_in_userns_devices_are_bind_mounts(bundle: Path) -> None:
    spec = spec_of(DEFAULT_MOUNTS[:2])

    def child() -> str:
        prepare_rootfs(spec, bundle, in_userns=True)
        with open("/dev/null", "w") as f:
            f.write("x")
        return mountinfo()

    mi = by_point(in_child(child))
    for name in ("null", "zero", "full", "random", "urandom", "tty"):
        assert mi[f"/dev/{name}"].root == f"/{name}" or mi[f"/dev/{name}"].root.endswith(name)


def test_existing_different_device_is_an_error(bundle: Path) -> None:
    (bundle / "rootfs" / "dev" / "null").write_text("not a device")
    spec = spec_of([{"destination": "/proc", "type": "proc", "source": "proc"}])
    with pytest.raises(ChildError, match=r"default devices \(/dev/null\): a different file exists there"):
        in_child(lambda: prepare_rootfs(spec, bundle, in_userns=False))


def test_idmapped_bind(bundle: Path) -> None:
    owned = bundle / "data" / "hello"
    assert os.stat(owned).st_uid == 0
    m = [{"containerID": 0, "hostID": 1000, "size": 1}]
    spec = spec_of(
        [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {
                "destination": "/mapped",
                "source": "data",
                "options": ["bind", "idmap"],
                "uidMappings": m,
                "gidMappings": m,
            },
        ]
    )

    def child() -> list[int]:
        prepare_rootfs(spec, bundle, in_userns=False)
        st = os.stat("/mapped/hello")
        return [st.st_uid, st.st_gid]

    try:
        assert in_child(child) == [1000, 1000]
    except ChildError as exc:
        if "not supported" in str(exc) or "invalid argument" in str(exc):
            pytest.skip(f"the filesystem under {bundle} does not support idmapped mounts: {exc}")
        raise


# --- in a user namespace ------------------------------------------------------------------------------
# sysfs falls back to an rbind of /sys, devices are bind mounts of the host's nodes, and bind remounts
# keep the flags the kernel locked. The child maps root to root in a new user namespace (a process may
# map its own euid) and then unshares its mount namespace.


def enter_userns() -> None:
    _sys.unshare(c.CLONE_NEWUSER)
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write("0 0 1\n")
    with open("/proc/self/gid_map", "w") as f:
        f.write("0 0 1\n")
    _sys.unshare(c.CLONE_NEWNS)


def in_child_userns(fn: Callable[[], Any]) -> Any:
    """in_child for a ``fn`` that calls enter_userns: a machine without user namespaces skips."""
    try:
        return in_child(fn)
    except ChildError as exc:
        if "enter_userns" in exc.tb and "Operation not permitted" in str(exc):
            pytest.skip(f"user namespaces are not available here: {exc}")
        raise


def test_rootfs_in_user_namespace(tmp_path: Path) -> None:
    from libcontainer_py.bundle import make_busybox_rootfs

    make_busybox_rootfs(tmp_path / "rootfs")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "hello").write_text("hi\n")
    spec = Spec.from_dict(
        {
            "ociVersion": "1.2.0",
            "root": {"path": "rootfs"},
            "mounts": [
                {
                    "destination": "/dev",
                    "type": "tmpfs",
                    "source": "tmpfs",
                    "options": ["nosuid", "mode=755"],
                },
                {
                    "destination": "/sys",
                    "type": "sysfs",
                    "source": "sysfs",
                    "options": ["nosuid", "noexec", "nodev", "ro"],
                },
                {"destination": "/data", "source": "data", "options": ["rbind", "ro", "nosuid"]},
            ],
        }
    )
    rootfs = os.path.realpath(tmp_path / "rootfs")
    seen: dict[str, str] = {}

    def child() -> dict[str, Any]:
        enter_userns()

        def snapshot() -> None:
            with open("/proc/self/mountinfo") as f:
                seen["mi"] = f.read()

        prepare_rootfs(spec, tmp_path, in_userns=True, before_pivot=snapshot)
        return {
            "mi": seen["mi"],
            "hello": Path("/data/hello").read_text(),
            "null": os.path.exists("/dev/null"),
        }

    res = in_child_userns(child)
    mi = by_point(res["mi"])
    sys_mount = mi[f"{rootfs}/sys"]
    assert sys_mount.fstype == "sysfs" and "ro" in sys_mount.options  # the host's /sys, rbound, then ro
    assert {"ro", "nosuid"} <= mi[f"{rootfs}/data"].options
    assert mi[f"{rootfs}/dev/null"].root.endswith("null")  # a bind of the host's node, not a mknod
    assert res["hello"] == "hi\n" and res["null"]


def test_cgroup_mounts_are_read_once_until_forgotten(tmp_path: Path) -> None:
    """mountinfo.cgroup_mounts: read once per process (a library caller's inits find them in
    their copy of it), read again after forget_cgroup_mounts (what a child that joins another
    mount namespace calls). Shown with a cgroup mount made in a private mount namespace after the
    first read (a bind of the host's first: a fresh cgroup2 mount would set the hierarchy's root
    flags for the whole host): the cache does not see it, a fresh read does."""
    from libcontainer_py import mountinfo as mi

    target = tmp_path / "cg2"
    target.mkdir()

    def child() -> list[Any]:
        _sys.mount(None, "/", None, c.MS_PRIVATE | c.MS_REC, None)
        mi.forget_cgroup_mounts()
        first = mi.cgroup_mounts()
        again = mi.cgroup_mounts()
        _sys.mount(first[0].mountpoint, str(target), None, c.MS_BIND, None)
        cached = [m.mountpoint for m in mi.cgroup_mounts()]
        mi.forget_cgroup_mounts()
        fresh = [m.mountpoint for m in mi.cgroup_mounts()]
        real = [m.mountpoint for m in mi.read_mountinfo(fstypes=("cgroup", "cgroup2"))]
        return [again is first, str(target) in cached, str(target) in fresh, fresh == real]

    # (the mount ends with the child's namespace)
    assert in_child(child) == [True, False, True, True]


def test_v1_cgroup_binds_keep_the_flags_locked_in_a_user_namespace(tmp_path: Path) -> None:
    """rootfs/mounts.py _mount_cgroup in a user namespace whose mount namespace holds v1
    hierarchies mounted nosuid,nodev,noexec: those flags are locked there (the mounts crossed into
    a namespace of a less privileged user namespace). The config asks "ro" alone: the kernel
    refuses that remount of each bind (EPERM), and remount_bind asks again with the locked flags.
    The hierarchies are stand-ins, tmpfs directories described as cgroup mounts: this host's own
    cgroup mounts carry no flag to lock (rw,relatime)."""
    from libcontainer_py.rootfs import mounts, plan_mounts

    hierarchies = [tmp_path / "fakea", tmp_path / "fakeb"]
    for d in hierarchies:
        d.mkdir()
    root = tmp_path / "root"
    (root / "sys" / "fs" / "cgroup").mkdir(parents=True)
    spec = spec_of([{"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro"]}])
    plan = plan_mounts(spec.mounts, tmp_path)[0]
    lines = "".join(
        f"{40 + i} 30 0:{90 + i} / {d} rw,nosuid,nodev,noexec,relatime - cgroup cgroup rw,{d.name}\n"
        for i, d in enumerate(hierarchies)
    )

    def child() -> dict[str, Any]:
        _sys.mount(None, "/", None, c.MS_REC | c.MS_PRIVATE)
        for i, d in enumerate(hierarchies):
            _sys.mount("tmpfs", d, "tmpfs", c.MS_NOSUID | c.MS_NODEV | c.MS_NOEXEC, None)
            (d / "marker").write_text(str(i))
        enter_userns()
        mounts.cgroup_mounts = lambda: parse_mountinfo(lines)
        mounts._own_cgroups = lambda: {frozenset({d.name}): "/" for d in hierarchies}
        root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY)
        target = os.open(root / "sys" / "fs" / "cgroup", os.O_PATH | os.O_DIRECTORY)
        base = root / "sys" / "fs" / "cgroup"
        # The kernel's refusal itself, on a bind made here the same way:
        os.mkdir(tmp_path / "probe")
        _sys.mount(str(hierarchies[0]), tmp_path / "probe", None, c.MS_BIND | c.MS_REC)
        try:
            _sys.mount(None, tmp_path / "probe", None, c.MS_REMOUNT | c.MS_BIND | c.MS_RDONLY)
            refused = 0
        except OSError as exc:
            refused = exc.errno or -1
        mounts._mount_cgroup(root_fd, target, "sys/fs/cgroup", plan, cgroupns=False)
        return {
            "mi": mountinfo(),
            "refused": refused,
            "markers": [(base / d.name / "marker").read_text() for d in hierarchies],
        }

    res = in_child_userns(child)
    mi = by_point(res["mi"])
    assert res["refused"] == errno.EPERM  # "ro" alone would clear the locked flags
    assert res["markers"] == ["0", "1"]
    for d in hierarchies:
        assert {"ro", "nosuid", "nodev", "noexec"} <= mi[f"{root}/sys/fs/cgroup/{d.name}"].options
