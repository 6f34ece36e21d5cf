"""CVE-2024-21626: leaked host file descriptors, and a working directory outside the root.

runc leaked an fd of the host's /sys/fs/cgroup into the container's init; `process.cwd` set to
/proc/self/fd/7 then started the program in a HOST directory (and `runc exec` likewise), from
which "../../.." reaches the host's "/". Here the caller leaks on purpose: pyrunc is started with
host directories open on fds 3-10 (inheritable, as a careless supervisor might). Only 0-2 and
--preserve-fds reach the program, nothing of the caller's enters the init (init/process_setup
close_inherited_fds), and a cwd that is not under the container's root is refused (check_cwd).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

LEAKED = range(3, 11)


def pyrunc_leaking(
    rt: Any, host_dir: Path, *argv: str, preserve: Path | None = None, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """pyrunc with `host_dir` open on fds 3-10 (or with fd 3 = `preserve` and 4-10 leaked)."""
    redirs = " ".join(f'{n}<"$PRESERVE"' if preserve is not None and n == 3 else f'{n}<"$LEAK"' for n in LEAKED)
    env = dict(os.environ, LEAK=str(host_dir), PRESERVE=str(preserve or ""), **(env or {}))
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.run(
            ["bash", "-c", f'exec "$@" {redirs}', "bash", *rt.cmd, "--root", rt.root, *argv],
            env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, text=True, timeout=30,
        )  # fmt: skip
        out.seek(0)
        err.seek(0)
        return p.returncode, out.read(), err.read()


def fds_of(pid: int) -> dict[int, str]:
    """What process `pid`'s fds point at, read from the host (the program does not have to open
    anything to be inspected)."""
    return {int(n): os.readlink(f"/proc/{pid}/fd/{n}") for n in os.listdir(f"/proc/{pid}/fd")}


@pytest.mark.parametrize("init", ["planned", "python"])
def test_only_stdio_and_preserved_fds_reach_the_program(rt: Any, init: str) -> None:
    """Both inits: the planned one (init/vinit.py) closes them in C, the Python one in Python."""
    host_dir = rt.mkdir("host-secret")
    preserved = rt.base / "preserved.txt"
    preserved.write_text("passed on purpose\n")
    bundle = rt.bundle(["sh", "-c", "read line <&3; [ \"$line\" = 'passed on purpose' ] && exec sleep 60"])
    cid = rt.new_id("fds")
    rc, out, err = pyrunc_leaking(
        rt, host_dir, "--debug", "run", "-d", "--preserve-fds", "1", "--bundle", str(bundle), cid,
        preserve=preserved, env={"LIBCONTAINER_PY_INIT": init},
    )  # fmt: skip
    assert rc == 0, (out, err)
    assert f"init {init}" in err, err
    pid = rt.wait_status(cid, "running")["pid"]
    deadline = time.monotonic() + 10
    while not Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"sleep\0"):  # the check passed
        assert time.monotonic() < deadline, Path(f"/proc/{pid}/cmdline").read_bytes()
        time.sleep(0.02)
    seen = fds_of(pid)
    assert sorted(seen) == [0, 1, 2, 3], seen  # fd 3 is the preserved one; 4-10 (leaked) are gone
    assert seen[3] == str(preserved), seen
    assert not any(str(host_dir) in target for target in seen.values()), seen


def test_exec_gets_only_stdio_and_preserved_fds(rt: Any) -> None:
    host_dir = rt.mkdir("host-secret")
    cid = rt.new_id("fdx")
    assert rt.pyrunc("run", "-d", "--bundle", str(rt.bundle(["sleep", "60"])), cid).rc == 0
    pid_file = rt.base / "exec.pid"
    rc, out, err = pyrunc_leaking(rt, host_dir, "exec", "-d", "--pid-file", str(pid_file), cid, "sleep", "60")
    assert rc == 0, (out, err)
    seen = fds_of(int(pid_file.read_text()))
    assert sorted(seen) == [0, 1, 2], seen
    assert not any(str(host_dir) in target for target in seen.values()), seen


@pytest.mark.parametrize("verb", ["run", "exec"])
def test_a_cwd_through_proc_self_fd_cannot_reach_the_host(rt: Any, verb: str) -> None:
    """process.cwd (or exec --cwd) /proc/self/fd/N for every N a host directory was leaked on:
    the process fails cleanly (the fd is not there, or the directory is outside the root), and
    the marker it would write through "../../../.." never appears on the host."""
    host_dir = rt.mkdir("host-secret")
    script = "echo escaped > ../../../../../../tmp/lcpy-escaped-$N; echo escaped > here-$N; pwd"
    cid = None
    if verb == "exec":
        cid = rt.new_id("cwdx")
        assert rt.pyrunc("run", "-d", "--bundle", str(rt.bundle(["sleep", "60"])), cid).rc == 0
    for n in LEAKED:
        sh = ["sh", "-c", script.replace("$N", str(n))]
        if verb == "run":

            def edit(c: dict[str, Any], n: int = n) -> None:
                c["process"]["cwd"] = f"/proc/self/fd/{n}"

            bundle = rt.bundle(sh, edit=edit)
            rc, out, err = pyrunc_leaking(rt, host_dir, "run", "--bundle", str(bundle), rt.new_id("cwd"))
        else:
            assert cid is not None
            rc, out, err = pyrunc_leaking(rt, host_dir, "exec", "--cwd", f"/proc/self/fd/{n}", cid, *sh)
        assert rc != 0, (n, out, err)
        assert "process.cwd" in err or "cwd" in err, (n, err)
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, (n, err)
        assert os.listdir(host_dir) == [], (n, os.listdir(host_dir))
        assert not os.path.exists(f"/tmp/lcpy-escaped-{n}"), n
    assert rt.state_dirs() == ([cid] if cid else [])


def test_a_cwd_inside_the_root_still_works(rt: Any) -> None:
    """The cwd check does not refuse what is legitimately inside the container."""

    def edit(c: dict[str, Any]) -> None:
        c["process"]["cwd"] = "/usr/bin"

    r = rt.run(rt.bundle(["pwd"], edit=edit))
    assert r.rc == 0 and r.out.strip() == "/usr/bin", r
    state = json.dumps(rt.state_dirs())
    assert state == "[]"


@pytest.mark.parametrize("attacker", ["default", "all-caps-in-userns"])
def test_execs_child_is_out_of_reach_at_birth(rt: Any, attacker: str) -> None:
    """exec forks one child, born in the container's pid namespace (init/setns.py spawn_one): for
    its first steps it is the host's interpreter, in the host's mount namespace, holding every fd
    of the caller (host directories on 3-10 here). Stopped right there (checkpoint "exec:born"),
    it is attacked from inside the container: its exe, fds, cwd, root, memory and environment must
    all be out of reach (it is non-dumpable from birth). Then it goes on and the exec succeeds."""
    import signal

    from libcontainer_py.container import Container

    host_dir = rt.mkdir("host-secret")
    cid = rt.new_id("born")
    bundle = rt.bundle(["sleep", "60"], edit=rt.all_caps_in_userns if attacker != "default" else None)
    assert rt.pyrunc("run", "-d", "--bundle", str(bundle), cid).rc == 0
    init_pidns = os.readlink(f"/proc/{Container.load(cid, rt.root).pid}/ns/pid")
    redirs = " ".join(f'{n}<"$LEAK"' for n in LEAKED)
    argv = ["bash", "-c", f'exec "$@" {redirs}', "bash", *rt.cmd, "--root", rt.root, "exec", cid, "true"]

    def born_in_the_container(victim: int, pid: int, fields: list[str]) -> bool:
        return int(fields[1]) == victim and os.readlink(f"/proc/{pid}/ns/pid") == init_pidns

    with rt.stopped_at("exec:born", argv, born_in_the_container, LEAK=str(host_dir)) as (victim, born):
        # the window is real: the caller's host directories are open in it, and no namespace but
        # the pid one is joined yet
        assert any(str(host_dir) in target for target in fds_of(born).values()), fds_of(born)
        assert os.readlink(f"/proc/{born}/ns/mnt") == os.readlink("/proc/self/ns/mnt")
        rt.attack_from(cid, born)
        os.kill(born, signal.SIGCONT)
        assert victim.wait(20) == 0


@pytest.mark.parametrize("spawn", ["fork", "forkserver"])
def test_a_caller_with_its_stdio_closed_gives_no_fd_of_its_own_as_stdio(rt: Any, spawn: str) -> None:
    """A daemon may run with fds 0-2 closed. The runtime's first fds then took those numbers, and
    the container got them as its stdio: Container.create gave the container's state directory
    (a host directory: fchdir there, then "..", is a way out of the root) as fd 0, and run() one of
    its own pipes. Go's runtime opens /dev/null on a closed 0-2 at the start of every program
    (runc's too); the library does so before it opens anything."""
    bundle = rt.bundle(["sleep", "30"])
    code = f"""
import os, sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
os.close(0); os.close(1)
import libcontainer_py as lc
from libcontainer_py.container import Container
from libcontainer_py.init import forkserver
r = lc.run({str(bundle)!r}, ["sh", "-c", "readlink /proc/$$/fd/0 >&2"], root={rt.root!r}, capture_output=True,
           spawn={spawn!r})
seen = [r.stderr.decode().strip()]
c = Container.create("closed-stdio", {str(bundle)!r}, root={rt.root!r}, spawn={spawn!r}, start=True)
seen.append({{n: os.readlink(f"/proc/{{c.pid}}/fd/{{n}}") for n in (0, 1)}})
c.delete(force=True)
forkserver.stop()
os.write(2, repr(seen).encode())
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    run_stdin, created = ast.literal_eval(p.stderr.strip().splitlines()[-1])
    assert run_stdin == "/dev/null"
    assert created == {0: "/dev/null", 1: "/dev/null"}
