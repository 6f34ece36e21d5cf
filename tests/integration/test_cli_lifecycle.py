"""The OCI lifecycle (runtime.md) through `pyrunc`: create, start, state, kill, delete, list, run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

SPEC_DIR = Path(os.environ.get("OCI_SPEC_DIR", "/work/shared/oci-runtime-spec"))


def bind(source: Path, destination: str, *options: str) -> Any:
    def edit(config: dict[str, Any]) -> None:
        config["mounts"].append(
            {"destination": destination, "type": "bind", "source": str(source), "options": ["rbind", *options]}
        )

    return edit


def wait_for(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def one_line_error(r: Any, *needles: str) -> None:
    assert r.rc == 1, r
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r
    for needle in needles:
        assert needle in lines[0], r


def test_create_start_kill_delete(rt: Any) -> None:
    out = rt.mkdir("out")
    bundle = rt.bundle(["sh", "-c", "touch /out/ran; exec sleep 100"], edit=bind(out, "/out"))
    cid = rt.new_id()
    r = rt.pyrunc("create", "--bundle", str(bundle), cid)
    assert r.rc == 0, r
    doc = rt.state(cid)
    assert doc["status"] == "created"
    assert doc["pid"] > 0
    assert os.path.exists(f"/proc/{doc['pid']}")
    time.sleep(0.1)
    assert not (out / "ran").exists(), "the program ran before start"

    assert rt.pyrunc("start", cid).rc == 0
    assert wait_for((out / "ran").exists), "the program did not run after start"
    assert rt.state(cid)["status"] == "running"

    again = rt.pyrunc("start", cid)
    one_line_error(again, "running")
    assert rt.state(cid)["status"] == "running"  # no effect on the container

    refused = rt.pyrunc("delete", cid)
    one_line_error(refused, "not stopped")
    assert rt.state(cid)["status"] == "running"

    assert rt.pyrunc("kill", cid, "KILL").rc == 0
    rt.wait_status(cid, "stopped")
    assert rt.state(cid)["pid"] == 0
    one_line_error(rt.pyrunc("kill", cid, "KILL"), "stopped")
    assert rt.pyrunc("delete", cid).rc == 0
    one_line_error(rt.pyrunc("state", cid), "does not exist")
    assert rt.state_dirs() == []


@pytest.mark.parametrize("sig", ["KILL", "SIGKILL", "9", "kill"])
def test_kill_signal_spellings(rt: Any, sig: str) -> None:
    bundle = rt.bundle(["sleep", "100"])
    cid = rt.new_id()
    assert rt.pyrunc("run", "-d", "--bundle", str(bundle), cid).rc == 0
    assert rt.state(cid)["status"] == "running"
    r = rt.pyrunc("kill", cid, sig)
    assert r.rc == 0, r
    rt.wait_status(cid, "stopped")
    assert rt.pyrunc("delete", cid).rc == 0


def test_kill_takes_every_number_kill_2_takes(rt: Any) -> None:
    """0 (is it alive?) and an unnamed real-time signal, as runc passes numbers on (pyrunc refused
    both: signal.Signals has no 0 and no names for 35-63); the init, pid 1 of its namespace with
    no handler for 40, goes on."""
    bundle = rt.bundle(["sleep", "100"])
    cid = rt.new_id()
    assert rt.pyrunc("run", "-d", "--bundle", str(bundle), cid).rc == 0
    for sig in ("0", "40"):
        r = rt.pyrunc("kill", cid, sig)
        assert r.rc == 0, (sig, r)
    assert rt.state(cid)["status"] == "running"
    one_line_error(rt.pyrunc("kill", cid, "65"), "65")
    assert rt.pyrunc("delete", "--force", cid).rc == 0


def test_kill_unknown_signal(rt: Any) -> None:
    bundle = rt.bundle(["sleep", "100"])
    cid = rt.new_id()
    assert rt.pyrunc("run", "-d", "--bundle", str(bundle), cid).rc == 0
    one_line_error(rt.pyrunc("kill", cid, "NOPE"), "NOPE")
    assert rt.state(cid)["status"] == "running"


def test_kill_all_reaches_every_process(rt: Any) -> None:
    # The init ignores TERM; its child does not. Only --all reaches the child.
    out = rt.mkdir("out")
    script = (
        "trap '' TERM; (trap 'touch /out/child-got-term; exit' TERM; while :; do sleep 0.05; done) & "
        "while :; do sleep 0.05; done"
    )
    bundle = rt.bundle(["sh", "-c", script], edit=bind(out, "/out"))
    cid = rt.new_id()
    assert rt.pyrunc("run", "-d", "--bundle", str(bundle), cid).rc == 0
    time.sleep(0.2)
    assert rt.pyrunc("kill", "--all", cid, "TERM").rc == 0
    assert wait_for((out / "child-got-term").exists), "kill --all did not reach the child"
    assert rt.state(cid)["status"] == "running"  # the init ignored it
    assert rt.pyrunc("kill", "--all", cid, "KILL").rc == 0
    rt.wait_status(cid, "stopped")


def test_delete_force_running(rt: Any) -> None:
    bundle = rt.bundle(["sleep", "100"])
    cid = rt.new_id()
    assert rt.pyrunc("run", "-d", "--bundle", str(bundle), cid).rc == 0
    pid = rt.state(cid)["pid"]
    r = rt.pyrunc("delete", "--force", cid)
    assert r.rc == 0, r
    assert not os.path.exists(os.path.join(rt.root, cid))
    assert wait_for(lambda: not _alive(pid))


def test_delete_force_created(rt: Any) -> None:
    bundle = rt.bundle(["sleep", "100"])
    cid = rt.new_id()
    assert rt.pyrunc("create", "-b", str(bundle), cid).rc == 0
    one_line_error(rt.pyrunc("delete", cid), "not stopped")
    assert rt.pyrunc("delete", "-f", cid).rc == 0
    assert rt.state_dirs() == []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except OSError:
        return False


def test_state_is_valid_against_the_schema(rt: Any) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema_path = SPEC_DIR / "schema" / "state-schema.json"
    if not schema_path.exists():
        pytest.skip(f"no {schema_path} (set OCI_SPEC_DIR to the runtime-spec directory)")
    schema = json.loads(schema_path.read_text())
    resolver_base = schema_path.parent.as_uri() + "/"
    bundle = rt.bundle(["sleep", "100"], edit=lambda c: c.update(annotations={"org.example.k": "v"}))
    cid = rt.new_id()
    assert rt.pyrunc("create", "--bundle", str(bundle), cid).rc == 0
    docs = [rt.state(cid)]
    assert rt.pyrunc("start", cid).rc == 0
    docs.append(rt.state(cid))
    assert rt.pyrunc("kill", cid, "9").rc == 0
    rt.wait_status(cid, "stopped")
    docs.append(rt.state(cid))
    validator_cls = jsonschema.validators.validator_for(schema)
    try:  # jsonschema >= 4.18: a referencing registry; older: a RefResolver
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4

        registry: Any = Registry().with_resources(
            # under the bare name too: state-schema.json has no "id", so "defs.json" stays relative
            (uri, Resource.from_contents(json.loads(p.read_text()), default_specification=DRAFT4))
            for p in schema_path.parent.glob("*.json")
            for uri in (p.name, resolver_base + p.name)
        )
        validator = validator_cls(schema, registry=registry)
    except ImportError:  # pragma: no cover
        validator = validator_cls(schema, resolver=jsonschema.RefResolver(resolver_base, schema))
    for doc, status in zip(docs, ("created", "running", "stopped"), strict=True):
        validator.validate(doc)
        assert doc["status"] == status
        assert doc["id"] == cid
        assert doc["bundle"] == str(bundle)
        assert doc["rootfs"] == str(bundle / "rootfs")
        assert doc["created"].endswith("Z") and doc["created"][:4].isdigit()
        assert doc["owner"] in ("", "root")
        assert doc["annotations"] == {"org.example.k": "v"}


def test_list_table_quiet_json(rt: Any) -> None:
    bundle = rt.bundle(["sleep", "100"])
    ids = sorted([rt.new_id("a"), rt.new_id("b")])
    assert rt.pyrunc("create", "-b", str(bundle), ids[0]).rc == 0
    assert rt.pyrunc("run", "-d", "-b", str(bundle), ids[1]).rc == 0

    quiet = rt.pyrunc("list", "-q")
    assert quiet.rc == 0 and quiet.out.split() == ids

    table = rt.pyrunc("list")
    lines = table.out.splitlines()
    assert lines[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows[ids[0]][2] == "created" and rows[ids[1]][2] == "running"
    assert rows[ids[0]][3] == str(bundle)

    as_json = json.loads(rt.pyrunc("list", "--format", "json").out)
    assert {d["id"]: d["status"] for d in as_json} == {ids[0]: "created", ids[1]: "running"}
    assert json.loads(rt.pyrunc("list", "-format=json").out) == as_json  # Go-style one-dash long flag


def test_list_empty_root(rt: Any) -> None:
    assert rt.pyrunc("list", "-q").out == ""
    assert rt.pyrunc("list", "--format", "json").out == "null\n"  # as runc prints no container


def test_duplicate_id_refused(rt: Any) -> None:
    bundle = rt.bundle(["sleep", "100"])
    cid = rt.new_id()
    assert rt.pyrunc("create", "-b", str(bundle), cid).rc == 0
    pid = rt.state(cid)["pid"]
    one_line_error(rt.pyrunc("create", "-b", str(bundle), cid), "already exists")
    doc = rt.state(cid)  # the first container is untouched
    assert doc["status"] == "created" and doc["pid"] == pid


@pytest.mark.parametrize("cid", ["../escape", "a/b", "with space", ".."])
def test_invalid_id_refused(rt: Any, cid: str) -> None:
    bundle = rt.bundle(["true"])
    one_line_error(rt.pyrunc("create", "-b", str(bundle), cid), "invalid container id")
    assert rt.state_dirs() == []
    assert not os.path.exists(rt.base / "escape")


def test_pid_file(rt: Any) -> None:
    bundle = rt.bundle(["sleep", "100"])
    cid = rt.new_id()
    pid_file = rt.base / "init.pid"
    assert rt.pyrunc("create", "-b", str(bundle), "--pid-file", str(pid_file), cid).rc == 0
    assert int(pid_file.read_text()) == rt.state(cid)["pid"]


def test_failed_create_leaves_nothing(rt: Any) -> None:
    # Fails in the init, after the namespaces and some mounts are made: the worst place.
    bundle = rt.bundle(["true"], edit=lambda c: c["process"].update(cwd="/does/not/exist"))
    cid = rt.new_id()
    r = rt.pyrunc("create", "-b", str(bundle), cid)
    one_line_error(r, "process.cwd")
    assert rt.state_dirs() == []
    # the finalizer of `rt` checks that no process and no mount is left


# -- run ---------------------------------------------------------------------------------------------


def test_run_exit_status(rt: Any) -> None:
    bundle = rt.bundle(["sh", "-c", "echo out; echo err >&2; exit 7"])
    cid = rt.new_id()
    r = rt.run(bundle, cid=cid)
    assert (r.rc, r.out, r.err) == (7, "out\n", "err\n")
    assert not os.path.exists(os.path.join(rt.root, cid)), "run did not delete the container"


def test_run_killed_is_128_plus_signal(rt: Any) -> None:
    # (The container's pid 1 cannot KILL itself: the kernel ignores that from inside its namespace.)
    bundle = rt.bundle(["sleep", "100"])
    cid = rt.new_id()
    p = subprocess.Popen(
        [*rt.cmd, "--root", rt.root, "run", "-b", str(bundle), cid],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for(lambda: _running(rt, cid), 10)
        assert rt.pyrunc("kill", cid, "KILL").rc == 0
        assert p.wait(10) == 128 + signal.SIGKILL
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def _running(rt: Any, cid: str) -> bool:
    r = rt.pyrunc("state", cid)
    return r.rc == 0 and json.loads(r.out)["status"] == "running"


def test_run_detach(rt: Any) -> None:
    bundle = rt.bundle(["sleep", "100"])
    cid = rt.new_id()
    start = time.monotonic()
    r = rt.pyrunc("run", "--detach", "--bundle", str(bundle), cid)
    assert r.rc == 0, r
    assert time.monotonic() - start < 10
    assert rt.state(cid)["status"] == "running"


def test_run_forwards_sigterm(rt: Any) -> None:
    out = rt.mkdir("out")
    # As pid 1 of its namespace, sh ignores TERM unless it traps it.
    script = "trap 'echo got-term > /out/log; exit 3' TERM; touch /out/ready; while :; do sleep 0.05; done"
    bundle = rt.bundle(["sh", "-c", script], edit=bind(out, "/out"))
    cid = rt.new_id()
    p = subprocess.Popen(
        [*rt.cmd, "--root", rt.root, "run", "-b", str(bundle), cid],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert wait_for((out / "ready").exists, 10), "container did not start"
        p.send_signal(signal.SIGTERM)
        assert p.wait(10) == 3
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert (out / "log").read_text() == "got-term\n"
    assert not os.path.exists(os.path.join(rt.root, cid))


def _run_with_fd3(rt: Any, bundle: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    """`pyrunc run` with a pipe holding a line at fd 3."""
    r_fd, w_fd = os.pipe()
    os.write(w_fd, b"through-fd-3\n")
    os.close(w_fd)

    def to_fd3() -> None:
        if r_fd != 3:
            os.dup2(r_fd, 3)

    try:
        return subprocess.run(
            [*rt.cmd, "--root", rt.root, "run", *flags, "-b", str(bundle), rt.new_id()],
            pass_fds=(3,),
            preexec_fn=to_fd3,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        os.close(r_fd)


def test_only_stdio_reaches_the_process(rt: Any) -> None:
    # `ls /proc/$$/fd`: the shell's own fds (ls's directory fd is in ls's table, not the shell's;
    # the `; true` stops busybox sh from exec'ing ls in its own place).
    bundle = rt.bundle(["sh", "-c", "ls /proc/$$/fd; true"])
    p = _run_with_fd3(rt, bundle)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["0", "1", "2"]


def test_preserve_fds(rt: Any) -> None:
    bundle = rt.bundle(["sh", "-c", "ls /proc/$$/fd; cat <&3"])
    p = _run_with_fd3(rt, bundle, "--preserve-fds", "1")
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["0", "1", "2", "3", "through-fd-3"]


def cgroup_dirs(cid: str) -> list[str]:
    import glob

    return glob.glob(f"/sys/fs/cgroup/pyrunc/{cid}") + glob.glob(f"/sys/fs/cgroup/*/pyrunc/{cid}")


@pytest.mark.parametrize(("sig", "ends"), [("TERM", True), ("INT", True), ("HUP", True), ("QUIT", True),
                                         ("USR1", False), ("ALRM", False)])  # fmt: skip
def test_kill_of_a_created_container_as_runc(rt: Any, sig: str, ends: bool) -> None:
    """The created init is pid 1 of its pid namespace: the kernel drops a signal sent to it from
    outside unless it has a handler. It has them, while it waits for start, for the signals that
    end runc's (a Go program's runtime exits on those), so `kill ID` with the default SIGTERM
    ends a created container, as runc's does (it did nothing: a stop waited for its SIGKILL);
    USR1 or ALRM leave both runtimes' created containers as they are."""
    import shutil

    bundle = rt.bundle(["sleep", "100"])
    runtimes = [("pyrunc", rt.cmd)] + ([("runc", [shutil.which("runc")])] if shutil.which("runc") else [])
    kw: dict[str, Any] = {"stdin": subprocess.DEVNULL, "capture_output": True, "text": True, "timeout": 30}
    for name, cmd in runtimes:
        cid = rt.new_id(name)
        root = rt.root if name == "pyrunc" else str(rt.base / "runc-root")
        argv = [*cmd, "--root", root]
        # (not pipes for create: the init keeps its stdout and stderr, as runc's does)
        made = subprocess.run([*argv, "create", "--bundle", str(bundle), cid], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)  # fmt: skip
        assert made.returncode == 0, name
        try:
            assert json.loads(subprocess.run([*argv, "state", cid], **kw).stdout)["status"] == "created"
            r = subprocess.run([*argv, "kill", cid, sig], **kw)
            assert r.returncode == 0, (name, r.stderr)

            def stopped(argv: list[str] = argv, cid: str = cid) -> bool:
                return json.loads(subprocess.run([*argv, "state", cid], **kw).stdout)["status"] == "stopped"

            if ends:
                assert wait_for(stopped), f"{name}: a created container outlived SIG{sig}"
            else:
                time.sleep(0.3)
                assert not stopped(), f"{name}: SIG{sig} ended a created container"
        finally:
            subprocess.run([*argv, "delete", "--force", cid], **kw)


def _term_parent_hook(config: dict[str, Any]) -> None:
    """A createRuntime hook (run by pyrunc itself, mid-create) that sends SIGTERM to pyrunc."""
    config["hooks"] = {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "kill -TERM $PPID; sleep 0.2"]}]}


def test_a_sigterm_during_run_is_passed_on_not_fatal(rt: Any) -> None:
    """SIGTERM to `pyrunc run` while it makes the container: it killed pyrunc half-way and left
    the state directory and the cgroups behind. It is now caught from the start and passed on to
    the container's process once that runs (as runc does): no pid namespace here, so `sleep`,
    not a pid 1, ends of it, and pyrunc exits with its status, 128+15, after deleting it."""

    def edit(config: dict[str, Any]) -> None:
        _term_parent_hook(config)
        config["linux"]["namespaces"] = [n for n in config["linux"]["namespaces"] if n["type"] != "pid"]

    bundle = rt.bundle(["sleep", "20"], edit=edit)
    cid = rt.new_id()
    start = time.monotonic()
    r = rt.run(bundle, cid=cid)
    # -15 would be pyrunc itself killed by the signal
    assert r.rc == 128 + signal.SIGTERM, r
    assert time.monotonic() - start < 15, "the signal was not passed on"
    assert rt.state_dirs() == [] and cgroup_dirs(cid) == []


def test_a_sigterm_during_create_does_not_leave_half_a_container(rt: Any) -> None:
    """`pyrunc create` catches it, finishes, and drops it (runc's create does the same): a created
    container, complete, that delete removes."""
    bundle = rt.bundle(["sleep", "20"], edit=_term_parent_hook)
    cid = rt.new_id()
    r = rt.pyrunc("create", "--bundle", str(bundle), cid)
    assert r.rc == 0, r
    assert rt.state(cid)["status"] == "created"
    assert rt.pyrunc("delete", "--force", cid).rc == 0
    assert rt.state_dirs() == [] and cgroup_dirs(cid) == []


def test_a_corrupt_state_is_named_and_delete_force_removes_it(rt: Any) -> None:
    """The error says "remove it with delete --force"; delete --force then failed with the same
    error. It now removes the directory, with a warning that whatever the container had could not
    be identified from it, and leaves the other containers alone."""
    cid = rt.new_id()
    other = rt.new_id()
    assert rt.pyrunc("run", "-d", "--bundle", str(rt.bundle(["sleep", "60"])), other).rc == 0
    os.makedirs(os.path.join(rt.root, cid))
    Path(rt.root, cid, "state.json").write_text("{not json")
    for argv in (["state", cid], ["delete", cid], ["kill", cid]):
        r = rt.pyrunc(*argv)
        one_line_error(r, "is corrupt", "delete --force")
    r = rt.pyrunc("list", "-q")
    assert r.rc == 0 and r.out.split() == [other] and "is corrupt" in r.err, r
    r = rt.pyrunc("delete", "--force", cid)
    assert r.rc == 0, r
    assert "state.json was corrupt" in r.err and "directory was removed" in r.err, r
    assert not os.path.exists(os.path.join(rt.root, cid))
    r = rt.pyrunc("list", "-q")
    assert r.out.split() == [other] and r.err == "", r
    assert rt.pyrunc("delete", "--force", other).rc == 0
