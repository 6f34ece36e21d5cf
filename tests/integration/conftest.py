"""Fixtures for the integration tier: real containers on a busybox bundle.

`rt` (a `Runtime`) gives each test
  - a private 0755 work directory under /tmp (pytest's tmp_path sits under 0700 directories, which
    the mapped uid of a user-namespaced container could not search),
  - a unique `--root` state directory inside it,
  - `rt.bundle(args, edit=...)`: a busybox bundle whose config.json is runc's default, edited by a
    callback that gets the config as a dict,
  - `rt.pyrunc(...)`: the CLI as a subprocess, `rt.run(bundle)`: `pyrunc run`,
  - `rt.helper(argv)`: a helper process (say, `unshare --net sleep`) killed by pid at teardown,
and a finalizer that, pass or fail, force-deletes every container left under the root and then
asserts that nothing is left: no state directory, no process whose root is in the work directory,
no mount naming the work directory in /proc/self/mountinfo.

`netns_holders` (a `NetnsHolders`), for the network tests that need no container: processes each
sleeping in a network namespace of its own (`netns_holders.new()`), killed by pid at teardown.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

BUSYBOX = shutil.which("busybox")
PYRUNC = [str(Path(sys.executable).parent / "pyrunc")]
if not os.path.exists(PYRUNC[0]):  # not installed as a script: the module works the same
    PYRUNC = [sys.executable, "-m", "libcontainer_py.cli"]


@pytest.hookimpl(tryfirst=True)  # before tests/conftest.py turns the root marker into a skip
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test that uses `rt` runs real containers: it needs root and a static busybox."""
    del config
    for item in items:
        if "rt" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.root)
            if BUSYBOX is None:
                item.add_marker(pytest.mark.skip(reason="needs busybox-static (apt-get install busybox-static)"))


@dataclass
class Result:
    rc: int
    out: str
    err: str

    def __repr__(self) -> str:
        return f"Result(rc={self.rc}, out={self.out[-2000:]!r}, err={self.err[-2000:]!r})"


def status_fields(text: str) -> dict[str, str]:
    """`/proc/PID/status` text -> {"CapEff": "...", "NoNewPrivs": "1", ...}."""
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        out[key.strip()] = value.strip()
    return out


def all_caps_in_userns(c: dict[str, Any]) -> None:
    """A bundle edit for the strongest attacker a container fields: root of its own user namespace
    with every capability there (CAP_SYS_PTRACE included). Uid and capability checks pass; only a
    victim's non-dumpable mm, made outside that namespace, stands in its way (ptrace_may_access
    needs CAP_SYS_PTRACE in the mm's user namespace, the host's)."""
    from libcontainer_py.capabilities import CAPABILITIES

    for kind in ("bounding", "effective", "permitted"):
        c["process"]["capabilities"][kind] = list(CAPABILITIES)
    c["linux"]["namespaces"].append({"type": "user"})
    c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]


# What attack() prints for each door it got through. Listing /proc/PID/fd (names only) follows the
# directory's mode, root's: the fds themselves, like exe, need ptrace access, which a non-dumpable
# process refuses; so do its cwd and root links.
LEAKS = ("exe-writable", "exe-readable", "mem-readable", "environ-readable", "fd-openable", "cwd-listable",
         "root-listable")  # fmt: skip


def attack(pid: int | str) -> str:
    """A shell script, run in a container, that tries every door into process `pid` (as the
    container sees it) and prints the LEAKS it got through, then `ls -l` of its exe, then "done"."""
    return (
        f"(exec 3>>/proc/{pid}/exe) 2>/dev/null && echo exe-writable; "
        f"(exec 3</proc/{pid}/exe) 2>/dev/null && echo exe-readable; "
        f"dd if=/proc/{pid}/mem bs=1 count=1 skip=4194304 2>/dev/null && echo mem-readable; "
        f"cat /proc/{pid}/environ >/dev/null 2>&1 && echo environ-readable; "
        f"for n in 0 1 2 3 4 5 6 7 8 9 10; do (exec 4</proc/{pid}/fd/$n) 2>/dev/null && echo fd-openable; done; "
        f"ls /proc/{pid}/cwd/ >/dev/null 2>&1 && echo cwd-listable; "
        f"ls /proc/{pid}/root/ >/dev/null 2>&1 && echo root-listable; "
        f"ls -l /proc/{pid}/exe 2>&1; echo done"
    )


def find_stopped(match: Callable[[int, list[str]], bool]) -> int | None:
    """The pid of a stopped process (state T: a checkpoint of _faults.py) for which
    match(pid, fields of /proc/PID/stat after the comm: state ppid pgrp session ...) holds, or
    None. Processes that go away while looked at are skipped."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
            if fields[0] == "T" and match(int(name), fields):
                return int(name)
        except OSError:
            continue
    return None


def wait_stopped(match: Callable[[int, list[str]], bool], timeout: float = 20) -> int | None:
    """find_stopped until it finds one, or None after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = find_stopped(match)
        if pid is not None:
            return pid
        time.sleep(0.02)
    return None


def mount_points(mountinfo: str) -> list[tuple[str, str]]:
    """Sorted (mount point, fstype) pairs from /proc/self/mountinfo text."""
    out = []
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        fields = left.split()
        if len(fields) >= 5 and right:
            out.append((fields[4], right.split()[0]))
    return sorted(out)


class Runtime:
    # helpers for the test modules, here so that they need not import this conftest
    status_fields = staticmethod(status_fields)
    mount_points = staticmethod(mount_points)
    all_caps_in_userns = staticmethod(all_caps_in_userns)
    attack = staticmethod(attack)
    leaks = LEAKS
    find_stopped = staticmethod(find_stopped)
    wait_stopped = staticmethod(wait_stopped)
    cmd = PYRUNC

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = str(base / "state")
        self._n = 0
        self._helpers: list[subprocess.Popen[bytes]] = []

    def attack_from(self, cid: str, victim: int) -> None:
        """Exec attack() of host pid `victim` (by its pid in the container's pid namespace) into
        container `cid`, and assert it got through no door and that the victim's exe link itself
        could not be followed ("Permission denied")."""
        with open(f"/proc/{victim}/status") as f:
            nspid = status_fields(f.read())["NSpid"].split()[-1]
        r = self.pyrunc("exec", cid, "sh", "-c", attack(nspid))
        assert r.out.strip().endswith("done"), r
        for leak in LEAKS:
            assert leak not in r.out, r
        assert "Permission denied" in r.out, r

    # -- bundles -----------------------------------------------------------------------------------
    def bundle(
        self,
        args: Sequence[str] = ("true",),
        *,
        edit: Callable[[dict[str, Any]], None] | None = None,
        name: str | None = None,
    ) -> Path:
        from libcontainer_py.bundle import make_busybox_bundle
        from libcontainer_py.spec.defaults import default_dict

        self._n += 1
        path = self.base / (name or f"bundle{self._n}")
        config = default_dict()
        config["process"]["args"] = list(args)
        config["process"]["terminal"] = False
        if edit is not None:
            edit(config)
        make_busybox_bundle(path, args=config["process"]["args"], config=config, terminal=config["process"]["terminal"])
        return path

    @contextlib.contextmanager
    def stopped_at(
        self, point: str, argv: Sequence[str], match: Callable[[int, int, list[str]], bool], **env: str
    ) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
        """Run `argv` with the checkpoint `point` set (_faults.py; `env`: more variables) and give
        it and the pid of the process that stopped there: match(argv's pid, pid, /proc/PID/stat
        fields after the comm). On the way out, argv's process is killed if it still runs. Its
        output goes to a file: a created container's init keeps the stdio it was given, so a pipe
        would never end."""
        from libcontainer_py._faults import ENV

        with open(self.base / f"out-{self.new_id()}", "w+b") as out:
            victim = subprocess.Popen(
                list(argv), env=dict(os.environ, **env, **{ENV: point}), start_new_session=True,
                stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            )  # fmt: skip
            try:
                stopped = wait_stopped(lambda pid, fields: match(victim.pid, pid, fields))
                if stopped is None:
                    victim.kill()
                    victim.wait()
                    out.seek(0)
                    raise AssertionError(f"nothing stopped at {point}: {out.read()!r}")
                yield victim, stopped
            finally:
                if victim.poll() is None:
                    victim.kill()
                    victim.wait()

    def mkdir(self, name: str) -> Path:
        path = self.base / name
        path.mkdir(mode=0o755)
        os.chmod(path, 0o755)
        return path

    def state_dirs(self) -> list[str]:
        """What is under the state root (nothing, when it was never made)."""
        # Dot entries are caches the runtime keeps (the compiled seccomp filters), not containers.
        if not os.path.isdir(self.root):
            return []
        return sorted(n for n in os.listdir(self.root) if not n.startswith("."))

    def new_id(self, prefix: str = "c") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:8]}"

    # -- the CLI -----------------------------------------------------------------------------------
    def pyrunc(
        self,
        *argv: str,
        root: bool = True,
        input: str | None = None,
        timeout: float = 30,
        cwd: str | os.PathLike[str] | None = None,
    ) -> Result:
        cmd = [*PYRUNC, *(["--root", self.root] if root else []), *argv]
        # Files, not pipes: after `create` or `run -d` the container's init holds pyrunc's stdout
        # and stderr (as runc's does), so reading a pipe to EOF would wait for the container.
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            p = subprocess.run(
                cmd,
                input=input,
                stdin=None if input is not None else subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                text=True,
                timeout=timeout,
                cwd=cwd,
            )
            out.seek(0)
            err.seek(0)
            return Result(p.returncode, out.read(), err.read())

    def run(self, bundle: Path, *flags: str, cid: str | None = None, timeout: float = 30) -> Result:
        return self.pyrunc("run", "--bundle", str(bundle), *flags, cid or self.new_id("run"), timeout=timeout)

    def out(self, bundle: Path, *flags: str) -> str:
        """`pyrunc run` that must succeed; its stdout."""
        r = self.run(bundle, *flags)
        assert r.rc == 0, r
        return r.out

    def state(self, cid: str) -> dict[str, Any]:
        r = self.pyrunc("state", cid)
        assert r.rc == 0, r
        doc: dict[str, Any] = json.loads(r.out)
        return doc

    def wait_status(self, cid: str, status: str, timeout: float = 10) -> dict[str, Any]:
        from libcontainer_py.container import Container

        deadline = time.monotonic() + timeout
        while True:
            doc = Container.load(cid, self.root).state()
            if doc["status"] == status:
                return doc
            if time.monotonic() > deadline:
                raise AssertionError(f"container {cid} is {doc['status']}, not {status}, after {timeout}s")
            time.sleep(0.01)

    # -- helpers -----------------------------------------------------------------------------------
    def helper_run(self, argv: Sequence[str], timeout: float = 30) -> Result:
        """Run a command to its end (say, pyrunc inside `unshare --net`); its output."""
        p = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        return Result(p.returncode, p.stdout, p.stderr)

    def helper(self, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        p = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        self._helpers.append(p)
        return p

    # -- teardown ----------------------------------------------------------------------------------
    def cleanup(self) -> list[str]:
        """Force-delete what is left; return what could not be cleaned (empty: all clean)."""
        from libcontainer_py.container import Container
        from libcontainer_py.state import list_ids

        problems: list[str] = []
        for p in self._helpers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, signal.SIGKILL)
            p.wait(5)
        for cid in list_ids(self.root):
            try:
                Container.load(cid, self.root).delete(force=True)
            except Exception as exc:
                problems.append(f"delete --force {cid}: {exc}")
        from libcontainer_py.state import StateDir

        for orphan in self.state_dirs():  # a create killed before its first state.json
            if StateDir(self.root, orphan).remove_orphan():
                problems.append(f"a create left {orphan!r} without state (removed)")
        _reap_children()
        if self.state_dirs():
            problems.append(f"state left under {self.root}: {self.state_dirs()}")
        deadline = time.monotonic() + 3
        while (procs := processes_under(self.base)) and time.monotonic() < deadline:
            _reap_children()
            time.sleep(0.02)
        if procs:
            problems.append(f"processes left with their root under {self.base}: {procs}")
            for pid in procs:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        mounts = mounts_naming(self.base)
        if mounts:
            problems.append(f"mounts left naming {self.base}: {mounts}")
            for point in reversed(mounts):
                subprocess.run(["umount", "-l", point], check=False, capture_output=True)
        return problems


def _reap_children() -> None:
    """Reap zombies re-parented to the test process: a library create makes it a child subreaper,
    so the inits of containers that `pyrunc create` (a subprocess) made end up as its children."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def processes_under(base: Path) -> list[int]:
    prefix = str(base) + "/"
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            root = os.readlink(f"/proc/{name}/root")
            with open(f"/proc/{name}/stat") as f:
                state = f.read().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if state not in ("Z", "X") and (root + "/").startswith(prefix):
            out.append(int(name))
    return out


def mounts_naming(base: Path) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if str(base) in line]


class NetnsHolders:
    """Processes sleeping in network namespaces of their own (`unshare --net sleep`), to stand for a
    host or a container in the network tests, so that no interface of the machine is touched.
    `new()` returns one once it is in its new namespace; `close()` kills and reaps every one made,
    by pid (the `netns_holders` fixture calls it at teardown, pass or fail; earlier is harmless)."""

    def __init__(self) -> None:
        self._procs: list[subprocess.Popen[bytes]] = []

    def new(self) -> subprocess.Popen[bytes]:
        ours = os.readlink("/proc/self/ns/net")
        proc = subprocess.Popen(["unshare", "--net", "--", "sleep", "600"])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if os.readlink(f"/proc/{proc.pid}/ns/net") != ours:
                    self._procs.append(proc)
                    return proc
            except FileNotFoundError:
                break
            time.sleep(0.005)
        proc.kill()
        proc.wait()
        raise RuntimeError("unshare --net did not start")

    def close(self) -> None:
        for proc in self._procs:
            proc.kill()
        for proc in self._procs:
            proc.wait()
        self._procs.clear()


@pytest.fixture
def netns_holders() -> Iterator[NetnsHolders]:
    holders = NetnsHolders()
    try:
        yield holders
    finally:
        holders.close()


@pytest.fixture
def rt() -> Iterator[Runtime]:
    if os.geteuid() != 0:
        pytest.skip("needs root: run as root for namespace and mount tests")
    base = Path(tempfile.mkdtemp(prefix="lcpy-it-", dir="/tmp"))
    os.chmod(base, 0o755)
    runtime = Runtime(base)
    try:
        yield runtime
    finally:
        problems = runtime.cleanup()
        # Pass or fail, the work directory goes: but only once nothing is mounted under it (a
        # bind mount left there would let rmtree reach into whatever it shows).
        if not mounts_naming(base):
            shutil.rmtree(base, ignore_errors=True)
    assert not problems, "; ".join(problems)
