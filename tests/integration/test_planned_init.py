"""The planned init (init/vinit.py, rootfs/plan.py, _sys/vfork_init.c) against the Python init
(init/child.py): the same configs run by each, observed inside the container, must show the same
thing: ids, capabilities, limits, the mount table, /dev, the cgroup, the environment. Then what
sends a config to the Python init, the fallback when a step of the planned one fails (a symlink on
a mount's destination, a program not found), and what only the planned init has to get right: a
caller with threads needs no fork server, and the caller's own state is as it was."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from libcontainer_py.container import Container
from libcontainer_py.errors import LibcontainerError

PROBE = r"""
id; umask; ulimit -n; ulimit -Hn; ulimit -u; cat /proc/self/oom_score_adj; pwd; hostname
cat /proc/sys/kernel/domainname; echo sid=$(cut -d' ' -f6 /proc/self/stat) pid=$$
grep -E '^(Uid|Gid|Groups|Cap|NoNewPrivs|Seccomp|Sig(Ign|Blk|Cgt))' /proc/self/status
env | sort
ls -l /proc/self/fd 2>/dev/null | sed -n 's/.* \([0-9]*\) -> /\1 -> /p' | sed 's/\[[0-9]*\]//; s/#[0-9]*/#/'
stat -c '%N %A %u %g %t %T' /dev/* /dev/pts/ptmx | sort
cut -d' ' -f4- /proc/self/mountinfo
cat /proc/self/cgroup
cat /sys/class/net/lo/operstate 2>&1
ls /sys/fs/cgroup
"""


def seen(bundle: Path, root: str, cid: str, monkeypatch: pytest.MonkeyPatch, *, python: bool) -> tuple[str, int, str]:
    """(init_kind, exit status, output) of the bundle run with start=True by the planned init, or
    by the Python one (LIBCONTAINER_PY_INIT=python)."""
    with monkeypatch.context() as m:
        if python:
            m.setenv("LIBCONTAINER_PY_INIT", "python")
        read, write = os.pipe()
        try:
            c = Container.create(cid, bundle, root=root, start=True, stdio=(None, write, write))
        finally:
            os.close(write)
        try:
            with os.fdopen(read, "rb") as f:
                out = f.read().decode()
            status = c.wait(timeout=30)
        finally:
            c.delete(force=True)
    assert c.init_kind is not None
    return c.init_kind, status, out


def _diff(planned: str, python: str) -> str:
    import difflib

    return "".join(difflib.unified_diff(planned.splitlines(True), python.splitlines(True), "planned", "python"))


def _rich(c: dict[str, Any], data: Path) -> None:
    """Most of what a planned init does, in one config (a bundle's data dir: `data`)."""
    p = c["process"]
    p["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [10, 20], "umask": 0o027}
    p["cwd"] = "/tmp"
    p["env"] = [e for e in p["env"] if not e.startswith("HOME=")] + ["PLANNED=yes"]
    p["rlimits"] = [
        {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024},
        {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400},
    ]
    p["oomScoreAdj"] = 100
    p["noNewPrivileges"] = False
    caps = ["CAP_CHOWN", "CAP_NET_RAW", "CAP_KILL"]
    p["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted", "inheritable", "ambient")}
    c["hostname"] = "planned"
    c["domainname"] = "example.org"
    c["root"]["readonly"] = False
    (data / "dir").mkdir(exist_ok=True)
    (data / "file").write_text("a file\n")
    (data / "dir" / "inside").write_text("inside\n")
    c["mounts"] += [
        {"destination": "/data", "type": "bind", "source": str(data / "dir"),
         "options": ["rbind", "ro", "nosuid", "rprivate"]},
        {"destination": "/etc/planfile", "type": "bind", "source": "data/file", "options": ["bind"]},
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=1m"]},
        {"destination": "/var/new/deep", "type": "tmpfs", "source": "tmpfs", "options": ["noexec"]},
        {"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]},  # (0755 there)
    ]
    c["linux"]["devices"] = [
        {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o600, "uid": 1000, "gid": 1000}
    ]
    c["linux"]["maskedPaths"] += ["/etc/planfile", "/etc/hostname"]
    c["linux"]["readonlyPaths"] += ["/etc", "/nothing/here"]
    c["linux"]["resources"]["pids"] = {"limit": 50}


def _cgroupns(c: dict[str, Any]) -> None:
    c["linux"]["namespaces"].append({"type": "cgroup"})


def _seccomp(c: dict[str, Any]) -> None:
    from libcontainer_py.seccomp.profiles import default_profile

    c["linux"]["seccomp"] = default_profile()


def _host_network(c: dict[str, Any]) -> None:
    c["linux"]["namespaces"] = [ns for ns in c["linux"]["namespaces"] if ns["type"] != "network"]


def _cgroup2(c: dict[str, Any]) -> None:
    for m in c["mounts"]:
        if m["destination"] == "/sys/fs/cgroup":
            m["type"] = m["source"] = "cgroup2"


CONFIGS = {
    "default": lambda c, data: None,
    "rich": _rich,
    "cgroup-namespace": lambda c, data: _cgroupns(c),
    "seccomp": lambda c, data: _seccomp(c),
    "host-network": lambda c, data: _host_network(c),
    "cgroup2-mount": lambda c, data: _cgroup2(c),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_the_planned_init_sets_up_what_the_python_init_does(
    rt: Any, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = rt.mkdir(f"data-{name}")
    cid = rt.new_id("pl")
    outs = []
    for python in (False, True):
        # A bundle each: what an init makes in the rootfs (a mount's missing destination) stays.
        bundle = rt.bundle(["sh", "-c", PROBE], edit=lambda c: CONFIGS[name](c, data))
        (bundle / "data").symlink_to(data)  # (a bind source relative to the bundle: "data/file")
        kind, status, out = seen(bundle, rt.root, cid, monkeypatch, python=python)
        assert kind.startswith("python: ") if python else kind == "planned", kind
        assert status == 0, out
        outs.append(out.replace(str(bundle), "BUNDLE"))
    planned, python = outs
    assert planned == python, _diff(planned, python)
    if name == "rich":
        assert "uid=1000 gid=1000 groups=10,20,1000" in planned or "groups=10,20" in planned, planned
        assert "\n0027\n512\n1024\n300\n100\n/tmp\nplanned\nexample.org\n" in planned, planned
        assert "HOME=/\n" in planned and "PLANNED=yes" in planned, planned
        assert "/dev/fuse crw------- 1000 1000 a e5" in planned, planned
        assert " /data ro,nosuid" in planned and " /etc ro,nosuid,nodev,noexec" in planned, planned
        # a tmpfs over an existing directory keeps its mode; over a new one, tmpfs's default
        assert "/ /run rw,relatime - tmpfs tmpfs rw,size=1024k,mode=755\n" in planned, planned
        assert "/ /var/new/deep rw,noexec,relatime - tmpfs tmpfs rw\n" in planned, planned
    if name == "default":
        assert "sid=1 pid=1" in planned and "\nunknown\n" in planned, planned  # (lo up: UNKNOWN)
    assert rt.state_dirs() == []


def test_a_joined_network_namespace(rt: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """linux.namespaces[].path of a network namespace: joined by setns in the planned child."""
    holder = subprocess.Popen(["unshare", "--net", "sh", "-c", "ip link set lo up; exec sleep 60"])
    try:
        path = f"/proc/{holder.pid}/ns/net"
        for _ in range(100):
            if os.readlink(path) != os.readlink("/proc/self/ns/net"):
                break
            threading.Event().wait(0.01)

        def edit(c: dict[str, Any]) -> None:
            for ns in c["linux"]["namespaces"]:
                if ns["type"] == "network":
                    ns["path"] = path

        bundle = rt.bundle(["sh", "-c", "readlink /proc/self/ns/net"], edit=edit)
        kind, status, out = seen(bundle, rt.root, rt.new_id("pl"), monkeypatch, python=False)
        assert (kind, status) == ("planned", 0), out
        assert out.strip() == os.readlink(path)
    finally:
        holder.kill()
        holder.wait()


def test_a_symlink_on_a_destination_takes_the_python_init(rt: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The planned child looks destinations up without following a symlink; on one it fails its
    step and the Python init runs the config instead, which resolves it inside the root."""

    def edit(c: dict[str, Any]) -> None:
        c["mounts"].append({"destination": "/evil/x", "type": "tmpfs", "source": "tmpfs"})

    bundle = rt.bundle(["sh", "-c", "grep ' /etc/x ' /proc/self/mountinfo | cut -d' ' -f5,9"], edit=edit)
    os.symlink("/etc", bundle / "rootfs" / "evil")
    kind, status, out = seen(bundle, rt.root, rt.new_id("pl"), monkeypatch, python=False)
    assert kind.startswith("python: step "), kind
    assert (status, out) == (0, "/etc/x tmpfs\n")
    assert not os.path.exists("/etc/x")
    assert (bundle / "rootfs" / "etc" / "x").is_dir()


def test_a_step_that_fails_late_leaves_the_python_init_a_clean_start(
    rt: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A config device at /dev/ptmx: the planned child makes it, then its /dev/ptmx -> pts/ptmx
    link finds it in the way (EEXIST), after the cgroup was joined and every mount made. The
    child's namespaces and mounts are gone with it; the Python init (which replaces the node with
    the link, as runc) runs in the same cgroup, and the container is as it would have been."""

    def edit(c: dict[str, Any]) -> None:
        c["linux"]["devices"] = [{"path": "/dev/ptmx", "type": "c", "major": 5, "minor": 2, "fileMode": 0o666}]

    probe = "readlink /dev/ptmx; cut -d: -f2- /proc/self/cgroup | grep '^memory:'; grep -c . /proc/self/mountinfo"
    bundle = rt.bundle(["sh", "-c", probe], edit=edit)
    cid = rt.new_id("pl")
    mounts_before = Path("/proc/self/mountinfo").read_text().count("\n")
    kind, status, out = seen(bundle, rt.root, cid, monkeypatch, python=False)
    assert kind.startswith("python: step ") and "File exists" in kind, kind
    assert status == 0, out
    lines = out.splitlines()
    assert lines[:2] == ["pts/ptmx", f"memory:/pyrunc/{cid}"], out
    kind, _, python = seen(rt.bundle(["sh", "-c", probe], edit=edit), rt.root, cid, monkeypatch, python=True)
    assert python == out, _diff(out, python)
    assert Path("/proc/self/mountinfo").read_text().count("\n") == mounts_before


def test_a_program_not_found_is_the_python_inits_error(rt: Any) -> None:
    """A failed execve: the Python init runs the config and says it, one line, and nothing is
    left: no state, no cgroup (rt's cleanup checks the rest)."""
    bundle = rt.bundle(["no-such-program"])
    cid = rt.new_id("pl")
    with pytest.raises(LibcontainerError) as info:
        Container.create(cid, bundle, root=rt.root, start=True)
    assert 'exec: "no-such-program": executable file not found in $PATH' in str(info.value)
    assert rt.state_dirs() == []
    assert not any(Path(d, "pyrunc", cid).exists() for d in Path("/sys/fs/cgroup").iterdir())


def _hook(c: dict[str, Any]) -> None:
    c["hooks"] = {"prestart": [{"path": "/bin/true"}]}


def _userns(c: dict[str, Any]) -> None:
    c["linux"]["namespaces"].append({"type": "user"})
    c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def _tmpcopyup(c: dict[str, Any]) -> None:
    c["mounts"].append({"destination": "/etc", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]})


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (_hook, "python: hooks that run during create"),
        (_userns, "python: a user namespace"),
        (lambda c: c["linux"].update(sysctl={"net.ipv4.ip_forward": "1"}), "python: linux.sysctl"),
        (lambda c: c["linux"].update(personality={"domain": "LINUX"}), "python: linux.personality"),
        (lambda c: c["linux"].update(rootfsPropagation="slave"), "python: linux.rootfsPropagation"),
        (lambda c: c["linux"]["namespaces"].append({"type": "time"}), "python: a time namespace"),
        (lambda c: c["linux"]["resources"].update(pids={"limit": 0}), "python: a pids limit of 0"),
        (_tmpcopyup, "python: mounts[7]: idmap, tmpcopyup or a recursive attribute"),
    ],
    ids=["hooks", "userns", "sysctl", "personality", "propagation", "timens", "pids-0", "tmpcopyup"],
)
def test_what_takes_the_python_init(rt: Any, edit: Any, why: str) -> None:
    bundle = rt.bundle(["true"], edit=edit)
    try:
        c = Container.create(rt.new_id("pl"), bundle, root=rt.root, start=True)
    except LibcontainerError:
        c = None  # (pids 0: the Python init cannot start the program either)
        assert why.endswith("of 0")
        return
    try:
        c.wait(timeout=30)
    finally:
        c.delete(force=True)
    assert c.init_kind == why


def test_an_explicit_spawn_mode_is_the_python_init(rt: Any) -> None:
    bundle = rt.bundle(["true"])
    for spawn, kind in (("fork", "python: spawn 'fork'"), ("vfork", "planned"), ("auto", "planned")):
        c = Container.create(rt.new_id("pl"), bundle, root=rt.root, start=True, spawn=spawn)
        try:
            assert c.wait(timeout=30) == 0
        finally:
            c.delete(force=True)
        assert c.init_kind == kind


def test_a_caller_with_threads_needs_no_fork_server(rt: Any) -> None:
    """The planned child forks nothing of the caller's: a caller with threads (a notebook) gets it
    too, and no fork server is started for it."""
    from libcontainer_py.init import forkserver

    bundle = rt.bundle(["sh", "-c", "echo $$"])
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        before = forkserver._server
        read, write = os.pipe()
        try:
            c = Container.create(rt.new_id("pl"), bundle, root=rt.root, start=True, stdio=(None, write, write))
        finally:
            os.close(write)
        try:
            with os.fdopen(read, "rb") as f:
                assert f.read() == b"1\n"
            assert c.wait(timeout=30) == 0
        finally:
            c.delete(force=True)
        assert c.init_kind == "planned"
        assert forkserver._server is before
    finally:
        stop.set()
        other.join()


def test_the_callers_state_is_as_it_was(rt: Any) -> None:
    """The clone shares our memory: the dumpable flag and the command line it changes for its time,
    the signal mask it blocks, the handlers the child resets (its own copies) are ours after."""
    from libcontainer_py import _sys

    bundle = rt.bundle(["true"])
    with open("/proc/self/cmdline", "rb") as f:
        cmdline = f.read()
    handler = signal.signal(signal.SIGUSR1, lambda *_: None)
    try:
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
        c = Container.create(rt.new_id("pl"), bundle, root=rt.root, start=True)
        try:
            assert c.wait(timeout=30) == 0
        finally:
            c.delete(force=True)
        assert c.init_kind == "planned"
        assert _sys.prctl(3) == 1  # PR_GET_DUMPABLE
        with open("/proc/self/cmdline", "rb") as f:
            assert f.read() == cmdline
        assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == mask
        assert callable(signal.getsignal(signal.SIGUSR1))
    finally:
        signal.signal(signal.SIGUSR1, handler)


def test_pyrunc_run_says_which_init_under_debug(rt: Any) -> None:
    bundle = rt.bundle(["true"])
    r = rt.pyrunc("--debug", "run", "--bundle", str(bundle), rt.new_id("pl"))
    assert r.rc == 0, r
    assert "init planned" in r.err, r


def test_the_config_on_disk_is_the_python_inits_too(rt: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run of the rich config from pyrunc, both inits: the same output (the CLI's way in)."""
    data = rt.mkdir("data-cli")
    cid = rt.new_id("pl")
    outs = []
    for python in (False, True):
        bundle = rt.bundle(["sh", "-c", PROBE], edit=lambda c: _rich(c, data))
        (bundle / "data").symlink_to(data)
        env = {"LIBCONTAINER_PY_INIT": "python"} if python else {}
        with monkeypatch.context() as m:
            for k, v in env.items():
                m.setenv(k, v)
            r = rt.pyrunc("--debug", "run", "--bundle", str(bundle), cid)
        assert r.rc == 0, r
        assert ("init python: " if python else "init planned") in r.err, r
        outs.append(r.out.replace(str(bundle), "BUNDLE"))
    assert outs[0] == outs[1], _diff(*outs)
