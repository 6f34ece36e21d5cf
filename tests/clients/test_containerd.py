"""containerd 1.6 + containerd-shim-runc-v2 with pyrunc as the runc binary:
`ctr run --runc-binary <pyrunc> --runc-root DIR ...`.

The shim calls pyrunc with `--root DIR/default --log <bundle>/log.json --log-format json` before every
verb, from the bundle directory, with a relative `root.path` ("rootfs", already overlay-mounted by
the shim) and pipes as stdio; `kill ID SIGNUM`; and after `delete`, a fresh shim process calls
`delete --force` on the already deleted id (runtime-clients.md §1.3).
"""

from __future__ import annotations

import os

from clientlib import IMAGE, CtrHandle, pty_session


def test_run_output(ctr: CtrHandle) -> None:
    cid = ctr.new_id("out")
    r = ctr.run(cid, "echo", "hi", flags=("--rm",))
    assert (r.rc, r.out) == (0, "hi\n"), r


def test_run_exit_status_and_streams(ctr: CtrHandle) -> None:
    cid = ctr.new_id("rc")
    r = ctr.run(cid, "sh", "-c", "echo out; echo err >&2; exit 7", flags=("--rm",))
    assert r.rc == 7, r
    assert r.out == "out\n", r
    assert r.err.startswith("err\n") or "err\n" in r.err, r


def test_run_default_runtime_named(ctr: CtrHandle) -> None:
    cid = ctr.new_id("named")
    r = ctr.run(cid, "sh", "-c", "exit 3", flags=("--rm", "--runtime", "io.containerd.runc.v2"))
    assert r.rc == 3, r


def test_detached_exec_ps_kill_delete(ctr: CtrHandle) -> None:
    cid = ctr.new_id("d")
    r = ctr.run(cid, "sleep", "1000", flags=("-d",))
    assert r.rc == 0, r
    ctr.wait_task(cid, "RUNNING")
    state_dir = ctr.ctrd.runc_root / "default" / cid
    assert (state_dir / "state.json").is_file(), "pyrunc keeps its state under --runc-root/<namespace>"

    r = ctr("task", "exec", "--exec-id", "e1", cid, "sh", "-c", "echo from-exec; exit 5")
    assert (r.rc, r.out) == (5, "from-exec\n"), r
    r = ctr("task", "exec", "--exec-id", "e2", cid, "/nonexistent")
    assert r.rc != 0, r
    assert "no such file or directory" in r.err, r

    pids = ctr.ok("task", "ps", cid).split()
    assert pids[:2] == ["PID", "INFO"] and len(pids) >= 3, pids

    # SIGTERM: `sleep` as PID 1 ignores it (the kernel's rule for PID 1), the task stays RUNNING
    ctr.ok("task", "kill", cid)
    ctr.wait_task(cid, "RUNNING")
    ctr.ok("task", "kill", "-s", "SIGKILL", cid)
    ctr.wait_task(cid, "STOPPED")

    ctr.ok("task", "delete", cid)
    assert not state_dir.exists()
    ctr.ok("containers", "delete", cid)
    assert cid not in ctr.ctrd.tasks()


def test_kill_sigterm_with_handler(ctr: CtrHandle) -> None:
    cid = ctr.new_id("term")
    r = ctr.run(cid, "sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done", flags=("-d",))
    assert r.rc == 0, r
    ctr.wait_task(cid, "RUNNING")
    ctr.ok("task", "kill", cid)  # `pyrunc kill ID 15`
    ctr.wait_task(cid, "STOPPED")
    ctr.ok("task", "delete", cid)


def test_kill_all(ctr: CtrHandle) -> None:
    cid = ctr.new_id("all")
    assert ctr.run(cid, "sh", "-c", "sleep 1000 & sleep 1000", flags=("-d",)).rc == 0
    ctr.wait_task(cid, "RUNNING")
    ctr.ok("task", "kill", "--all", "-s", "SIGKILL", cid)  # `pyrunc kill --all ID 9`
    ctr.wait_task(cid, "STOPPED")
    ctr.ok("task", "delete", cid)


def test_delete_running_is_refused(ctr: CtrHandle) -> None:
    cid = ctr.new_id("busy")
    assert ctr.run(cid, "sleep", "1000", flags=("-d",)).rc == 0
    ctr.wait_task(cid, "RUNNING")
    r = ctr("task", "delete", cid)
    assert r.rc != 0 and "must be stopped" in r.err, r
    r = ctr("task", "delete", "--force", cid)
    assert r.rc == 0, r


def test_create_failure(ctr: CtrHandle) -> None:
    """pyrunc's create fails: the shim shows the msg of the last JSON line in --log, and its cleanup
    `delete --force` of the (never completed) id exits 0. Nothing remains."""
    cid = ctr.new_id("fail")
    r = ctr.run(cid, "/nonexistent", flags=("--rm",))
    assert r.rc == 1, r
    assert "OCI runtime create failed" in r.err and "/nonexistent" in r.err, r
    assert "no such file or directory" in r.err, r
    assert cid not in ctr("containers", "ls", "-q").out.split()
    assert not (ctr.ctrd.runc_root / "default" / cid).exists()


def test_missing_runtime_binary(ctr: CtrHandle) -> None:
    cid = ctr.new_id("nobin")
    r = ctr("run", "--rm", "--runc-binary", "/nonexistent/pyrunc", IMAGE, cid, "true")
    assert r.rc != 0, r


def test_env_cwd(ctr: CtrHandle) -> None:
    cid = ctr.new_id("env")
    r = ctr.run(
        cid,
        "sh",
        "-c",
        "echo $FOO; pwd",
        flags=("--rm", "--env", "FOO=bar", "--cwd", "/tmp"),
    )
    assert (r.rc, r.out.split()) == (0, ["bar", "/tmp"]), r


def test_no_seccomp_no_new_privileges(ctr: CtrHandle) -> None:
    """ctr's spec sets noNewPrivileges and adds no seccomp filter."""
    cid = ctr.new_id("nnp")
    r = ctr.run(cid, "grep", "-E", "^(NoNewPrivs|Seccomp):", "/proc/self/status", flags=("--rm",))
    assert r.rc == 0, r
    fields = dict(line.split(":\t") for line in r.out.splitlines())
    assert fields == {"NoNewPrivs": "1", "Seccomp": "0"}, r


def test_pause_resume(ctr: CtrHandle) -> None:
    cid = ctr.new_id("p")
    assert ctr.run(cid, "sleep", "1000", flags=("-d",)).rc == 0
    ctr.wait_task(cid, "RUNNING")
    ctr.ok("task", "pause", cid)
    ctr.wait_task(cid, "PAUSED")
    ctr.ok("task", "resume", cid)
    ctr.wait_task(cid, "RUNNING")


def test_metrics(ctr: CtrHandle) -> None:
    cid = ctr.new_id("m")
    assert ctr.run(cid, "sleep", "1000", flags=("-d",)).rc == 0
    ctr.wait_task(cid, "RUNNING")
    r = ctr("task", "metrics", cid)
    assert r.rc == 0 and "memory" in r.out.lower(), r


def test_run_terminal(ctr: CtrHandle) -> None:
    cid = ctr.new_id("tty")
    rc, shown = pty_session(
        ctr.argv("run", "--rm", "-t", *ctr.ctrd.runc_flags, IMAGE, cid, "sh"),
        [("#", "tty; stty size\r"), ("30 150", "exit 3\r")],
        env=dict(os.environ),
    )
    assert "/dev/pts/0" in shown, shown
    assert rc == 3, shown


def test_exec_terminal(ctr: CtrHandle) -> None:
    cid = ctr.new_id("etty")
    assert ctr.run(cid, "sleep", "1000", flags=("-d",)).rc == 0
    ctr.wait_task(cid, "RUNNING")
    rc, shown = pty_session(
        ctr.argv("task", "exec", "-t", "--exec-id", "x1", cid, "sh"),
        [("#", "tty\r"), ("/dev/pts/", "exit 4\r")],
        env=dict(os.environ),
    )
    assert rc == 4, shown
