"""exec into a running container: the process joins every namespace of the container and is
set up from the container's process (or --process FILE) with the flags applied."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from libcontainer_py.container import Container


def running(rt: Any, edit: Any = None) -> tuple[str, Path]:
    bundle = rt.bundle(["sleep", "60"], edit=edit)
    cid = rt.new_id("ex")
    r = rt.pyrunc("run", "-d", "--bundle", str(bundle), cid)
    assert r.rc == 0, r
    return cid, bundle


def test_exec_joins_every_namespace_and_status_propagates(rt: Any) -> None:
    cid, _ = running(rt)
    init = Container.load(cid, rt.root).pid
    r = rt.pyrunc(
        "exec", cid, "sh", "-c", "for n in mnt pid net ipc uts cgroup; do readlink /proc/self/ns/$n; done; exit 7"
    )
    assert r.rc == 7, r
    want = [os.readlink(f"/proc/{init}/ns/{n}") for n in ("mnt", "pid", "net", "ipc", "uts", "cgroup")]
    assert r.out.split() == want
    # pid 1 inside is the container's init: the exec'd process is in its pid namespace
    r = rt.pyrunc("exec", cid, "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo $$")
    assert r.out.split()[:2] == ["sleep", "60"] and int(r.out.split()[-1]) > 1


IGNORED_BY_THE_CALLER = ("QUIT", "INT", "HUP", "TERM", "USR1", "PIPE", "XFSZ")
BLOCKED_BY_THE_CALLER = ("TERM", "USR2", "HUP")
# Runs argv with those signals ignored and blocked, as a caller may start a runtime: a shell
# without job control ignores SIGINT and SIGQUIT in its background commands, nohup SIGHUP, and
# both stay across execve, as the mask does.
CALLER = (
    "import os, signal, sys\n"
    f"for name in {IGNORED_BY_THE_CALLER!r}: signal.signal(getattr(signal, 'SIG' + name), signal.SIG_IGN)\n"
    f"signal.pthread_sigmask(signal.SIG_BLOCK, [getattr(signal, 'SIG' + n) for n in {BLOCKED_BY_THE_CALLER!r}])\n"
    "os.execvp(sys.argv[1], sys.argv[1:])\n"
)


def sig_sets(text: str) -> tuple[int, int]:
    """(SigIgn, SigBlk) of a /proc/PID/status text."""
    return tuple(int(text.split(f"{k}:")[1].split()[0], 16) for k in ("SigIgn", "SigBlk"))  # type: ignore[return-value]


def test_no_signal_is_ignored_or_blocked_in_the_container_whatever_its_caller_did(rt: Any) -> None:
    """Ignored signals and the mask stay across execve. runc and crun start the program with none
    ignored and crun with none blocked (runc keeps SIGUSR1 blocked when its caller blocked it, an
    artefact of Go's runtime: not compared), whatever their caller did; Python itself ignores
    SIGPIPE and SIGXFSZ. pyrunc's run and exec, and the library's exec forked and through the
    fork server, passed all of it on (CI's SigIgn checks failed when run as a background job)."""
    import shutil
    import signal

    from libcontainer_py.init import forkserver

    probe = ["grep", "-E", "^Sig(Ign|Blk):", "/proc/self/status"]

    def as_caller(argv: list[str], cwd: Any = None) -> str:
        p = subprocess.run([sys.executable, "-c", CALLER, *argv], capture_output=True, text=True, cwd=cwd,
                           stdin=subprocess.DEVNULL, timeout=60)  # fmt: skip
        assert p.returncode == 0, (argv, p.stdout, p.stderr)
        return p.stdout

    ignored, blocked = sig_sets(as_caller(["cat", "/proc/self/status"]))
    assert (bin(ignored).count("1"), bin(blocked).count("1")) == (7, 3)  # (the caller's, as intended)
    run = [*rt.cmd, "--root", rt.root, "run", "--bundle", str(rt.bundle(probe)), rt.new_id()]
    seen = {"pyrunc run": sig_sets(as_caller(run))}
    cid, _ = running(rt)
    seen["pyrunc exec"] = sig_sets(as_caller([*rt.cmd, "--root", rt.root, "exec", cid, *probe]))
    container = Container.load(cid, rt.root)
    saved = {name: signal.signal(getattr(signal, f"SIG{name}"), signal.SIG_IGN) for name in ("QUIT", "USR1", "HUP")}
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2])
    try:
        for mode in ("fork", "forkserver", "vfork"):
            forkserver.stop()  # (a server started before this caller ignored them would not)
            read, write = os.pipe()
            try:
                res = container.exec({"args": probe, "cwd": "/"}, spawn=mode, stdio=(None, write, None))
                os.close(write)
                write = -1
                assert res.exit_status == 0
                seen[f"library exec, {mode}"] = sig_sets(os.read(read, 200).decode())
            finally:
                os.close(read)
                if write >= 0:
                    os.close(write)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        for name, handler in saved.items():
            signal.signal(getattr(signal, f"SIG{name}"), handler)
        forkserver.stop()
    assert seen == dict.fromkeys(seen, (0, 0)), seen
    if shutil.which("runc"):
        out = as_caller(["runc", "--root", str(rt.base / "runc"), "run", rt.new_id("runc")], cwd=rt.bundle(probe))
        assert sig_sets(out)[0] == 0, out


def test_exec_flags(rt: Any) -> None:
    cid, _ = running(rt)
    r = rt.pyrunc(
        "exec", "-u", "1000:1001", "-g", "20", "-e", "FOO=bar", "--cwd", "/tmp", "--cap", "NET_RAW",
        cid, "sh", "-c", "id; echo $FOO; pwd; grep -E '^Cap(Bnd|Amb)' /proc/self/status",
    )  # fmt: skip
    assert r.rc == 0, r
    lines = r.out.splitlines()
    assert lines[0] == "uid=1000 gid=1001 groups=20"
    assert lines[1:3] == ["bar", "/tmp"]
    cap_bnd = int(lines[3].split()[1], 16)
    assert cap_bnd & (1 << 13)  # CAP_NET_RAW added to the bounding set
    r = rt.pyrunc("exec", "--no-new-privs", cid, "grep", "NoNewPrivs", "/proc/self/status")
    assert r.out.split() == ["NoNewPrivs:", "1"]


def test_exec_process_file(rt: Any) -> None:
    cid, bundle = running(rt)
    process = json.loads((bundle / "config.json").read_text())["process"]
    process["args"] = ["sh", "-c", "echo from-file $X; exit 3"]
    process["env"] = ["PATH=/bin:/usr/bin", "X=42"]
    pf = bundle / "process.json"
    pf.write_text(json.dumps(process))
    r = rt.pyrunc("exec", "--process", str(pf), cid)
    assert (r.rc, r.out) == (3, "from-file 42\n"), r


def test_exec_detach_and_pid_file(rt: Any) -> None:
    cid, bundle = running(rt)
    pid_file = bundle / "exec.pid"
    r = rt.pyrunc("exec", "-d", "--pid-file", str(pid_file), cid, "sleep", "30")
    assert r.rc == 0, r
    pid = int(pid_file.read_text())
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[:2] == [b"sleep", b"30"]
    assert pid in Container.load(cid, rt.root).processes()
    r = rt.pyrunc("ps", "--format", "json", cid)
    assert pid in json.loads(r.out)
    r = rt.pyrunc("ps", cid)
    assert r.out.splitlines()[0].split()[:2] == ["UID", "PID"]
    assert any(line.split()[1] == str(pid) for line in r.out.splitlines()[1:])


def test_exec_failures_exit_255_and_leave_nothing(rt: Any) -> None:
    cid, bundle = running(rt)
    before = Container.load(cid, rt.root).processes()
    r = rt.pyrunc("exec", cid, "/no/such/program")
    assert r.rc == 255 and "process.args[0]" in r.err and len(r.err.strip().splitlines()) == 1, r
    r = rt.pyrunc("exec", "--cwd", "/does/not/exist", cid, "true")
    assert r.rc == 255 and "process.cwd" in r.err, r
    r = rt.pyrunc("exec", "-u", "nobody", cid, "true")  # runc: 255 too ("parsing nobody as int")
    assert r.rc == 255 and "--user" in r.err and len(r.err.strip().splitlines()) == 1, r
    # every failure past the flags and the argument count is 255, as runc's; the parser's stay 1
    for argv, needle in ((["--process", str(bundle / "missing.json"), cid], "missing.json"),
                         (["-t", "-d", cid, "true"], "tty"), ([cid], "give a command"),
                         (["--console-socket", str(bundle / "sock"), cid, "true"], "--console-socket")):  # fmt: skip
        r = rt.pyrunc("exec", *argv)
        assert r.rc == 255 and needle in r.err and len(r.err.strip().splitlines()) == 1, (argv, r)
    for argv in (["--bogus", cid, "true"], []):
        assert rt.pyrunc("exec", *argv).rc == 1, argv
    r = rt.pyrunc("exec", "--env", "NOEQUALS", cid, "true")  # runc's init refuses it too
    assert r.rc == 255 and "process.env" in r.err and "NAME=VALUE" in r.err and len(r.err.strip().splitlines()) == 1, r
    bad = bundle / "bad.json"
    bad.write_text('{"cwd": "/", "args": [1]}')
    r = rt.pyrunc("exec", "--process", str(bad), cid)
    assert r.rc == 255 and "bad.json" in r.err and "args[0]" in r.err, r  # runc: 255 for any exec failure
    time.sleep(0.1)
    assert Container.load(cid, rt.root).processes() == before  # nothing left in the container


def test_exec_takes_only_the_process_of_the_containers_config(rt: Any) -> None:
    """exec reads the container's config.json for its process alone (cli/exec.py): a section it
    does not use does not stop it; a broken process is one line naming the file and the field."""
    cid, bundle = running(rt)
    config = json.loads((bundle / "config.json").read_text())
    config["process"]["env"] = [*config["process"]["env"], "FROM_CONFIG=1"]
    (bundle / "config.json").write_text(json.dumps(dict(config, mounts="not a list")))
    r = rt.pyrunc("exec", cid, "sh", "-c", "echo $FROM_CONFIG")
    assert (r.rc, r.out) == (0, "1\n"), r
    (bundle / "config.json").write_text(json.dumps(dict(config, process=dict(config["process"], args=[1]))))
    r = rt.pyrunc("exec", cid, "true")
    assert r.rc == 255 and len(r.err.strip().splitlines()) == 1, r
    assert "cannot read the config" in r.err and "config.json (process)" in r.err and "args" in r.err, r


def test_exec_refused_when_not_running(rt: Any) -> None:
    bundle = rt.bundle(["true"])
    cid = rt.new_id("st")
    assert rt.pyrunc("create", "--bundle", str(bundle), cid).rc == 0
    assert rt.pyrunc("start", cid).rc == 0
    rt.wait_status(cid, "stopped")
    r = rt.pyrunc("exec", cid, "true")
    assert r.rc == 255 and "container not running" in r.err, r
    r = rt.pyrunc("exec", "nope", "true")
    assert r.rc == 255 and "does not exist" in r.err, r


@pytest.mark.parametrize("mode", ["fork", "exec", "vfork"])
def test_library_exec_in_user_namespace(rt: Any, mode: str) -> None:
    def userns(c: dict[str, Any]) -> None:
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]

    cid, _ = running(rt, edit=userns)
    c = Container.load(cid, rt.root)
    from libcontainer_py.spec import Process

    r, w = os.pipe()
    try:
        _pid, status, _console = c.exec(
            Process(args=["sh", "-c", "id -u; cat /proc/self/uid_map"], cwd="/", env=["PATH=/bin"]),
            stdio=(None, w, None), spawn=mode,
        )  # fmt: skip
        os.close(w)
        w = -1
        out = os.read(r, 4096).decode().split()
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
    assert status == 0
    assert out == ["0", "0", "100000", "65536"]


def test_library_exec_of_a_dict_needs_no_pydantic(rt: Any) -> None:
    """container.exec() takes the process in process.json's form: checked as a process.json is
    (a bad field is the usual one-line ConfigError), without the pydantic models (checked in a
    fresh interpreter, since this one has them loaded)."""
    import subprocess
    import sys

    cid, _ = running(rt)
    script = (
        "import os, sys\n"
        "from libcontainer_py.container import Container\n"
        "from libcontainer_py.errors import ConfigError\n"
        "c = Container.load(sys.argv[1], sys.argv[2])\n"
        "r, w = os.pipe()\n"
        "res = c.exec({'args': ['sh', '-c', 'id -u; exit 3'], 'cwd': '/', 'user': {'uid': 7, 'gid': 7}},"
        " stdio=(None, w, None))\n"
        "os.close(w)\n"
        "print(res.exit_status, os.read(r, 100).decode().strip(), 'pydantic' in sys.modules)\n"
        "try:\n"
        "    c.exec({'args': ['true'], 'cwd': 'relative'})\n"
        "except ConfigError as e:\n"
        "    print('ConfigError:', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", script, cid, rt.root], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()
    assert first == "3 7 False"
    assert second.startswith("ConfigError:") and "cwd" in second, second


def test_the_joining_interpreter_is_out_of_the_containers_reach(rt: Any) -> None:
    """CVE-2019-5736: while exec's child is still the host's Python interpreter inside the
    container's namespaces, root of the container's user namespace, with every capability there,
    can neither open its /proc/PID/exe (the host interpreter), nor read its memory or environment.

    The kernel has several layers here, and they overlap: the explicit PR_SET_DUMPABLE 0 before
    joining (runc's defence), the dumpable reset when setresuid changes the uid, and the capability
    subset check of ptrace. The test checks the outcome, whichever layer gives it."""
    import subprocess

    from libcontainer_py._faults import ENV

    # The strongest attacker: root of its own user namespace with every capability there.
    cid, _ = running(rt, edit=rt.all_caps_in_userns)
    env = dict(os.environ, **{ENV: "exec:joined"})
    victim = subprocess.Popen([*rt.cmd, "--root", rt.root, "exec", cid, "true"], env=env, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        stopped = None
        while stopped is None and time.monotonic() < deadline:
            for pid in Container.load(cid, rt.root).processes():
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rpartition(")")[2].split()
                with open(f"/proc/{pid}/comm") as f:
                    comm = f.read().strip()
                if fields[0] == "T" and comm == "pyrunc:[EXEC]":
                    stopped = pid
            time.sleep(0.02)
        assert stopped is not None, "exec's child never reached the checkpoint"
        # its pid as the container sees it
        rt.attack_from(cid, stopped)
        os.kill(stopped, __import__("signal").SIGCONT)
        assert victim.wait(20) == 0
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()


def _userns(c: dict[str, Any]) -> None:
    c["linux"]["namespaces"].append({"type": "user"})
    c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]


@pytest.mark.parametrize("userns", [False, True])
def test_the_runtimes_children_show_pyrunc_init_not_pyruncs_command_line(rt: Any, userns: bool) -> None:
    """A created container's init, and exec's child until execve, were copies of pyrunc and showed
    its command line: the host's paths (the venv, --root, --bundle) to `ps` in the container, and on
    the host a created container looked like a `pyrunc create` still at work. They show
    "pyrunc init" now, as runc's show "runc init" (init/pidfork.py child_begins)."""
    import signal

    bundle = rt.bundle(["sleep", "60"], edit=_userns if userns else None)
    cid = rt.new_id("title")
    # (files, not pipes: the init keeps create's stdout and stderr)
    assert rt.pyrunc("create", "--bundle", str(bundle), cid).rc == 0
    init = rt.state(cid)["pid"]
    seen = Path(f"/proc/{init}/cmdline").read_bytes()
    assert seen.rstrip(b"\0") == b"pyrunc init" and str(rt.base).encode() not in seen, seen
    r = rt.pyrunc("exec", cid, "sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline")
    assert r.rc == 0 and r.out.strip() == "pyrunc init", r
    # exec's child, stopped in the container's namespaces before its setup
    argv = [*rt.cmd, "--root", rt.root, "exec", cid, "true"]
    with rt.stopped_at("exec:joined", argv, lambda victim, _pid, fields: int(fields[1]) == victim) as (victim, child):
        assert Path(f"/proc/{child}/cmdline").read_bytes().rstrip(b"\0") == b"pyrunc init"
        os.kill(child, signal.SIGCONT)
        assert victim.wait(20) == 0
    assert rt.pyrunc("delete", "--force", cid).rc == 0
