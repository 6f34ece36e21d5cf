"""linux.seccomp in real containers (issue 6): the talk's sethostname demo, ERRNO with a chosen errno,
an argument condition, LOG, NOTIFY with the library's listener, /proc/self/status, the default
profile, exec'd processes, and bad input (one line naming the field, exit 1, nothing left).

Every sethostname runs in the container's own UTS namespace: the host's name is never touched."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from libcontainer_py.seccomp import default_profile
from libcontainer_py.seccomp.notify import Notification, NotifyListener, Reply, read_string, serve

SIGSYS_STATUS = 128 + 31  # what `pyrunc run` reports for a process killed by SIGSYS


@pytest.fixture(autouse=True)
def _drop_seccomp_cache(rt: Any) -> Iterator[None]:
    """create keeps compiled filters in <root>/.seccomp-cache (a cache, not a container's state);
    remove it before rt's leak check, which counts everything under the root as left behind."""
    yield
    shutil.rmtree(os.path.join(rt.root, ".seccomp-cache"), ignore_errors=True)


def add_caps(config: dict[str, Any], *caps: str) -> None:
    for kind in ("bounding", "effective", "permitted"):
        config["process"]["capabilities"][kind] += list(caps)


def with_seccomp(seccomp: dict[str, Any] | None = None, caps: tuple[str, ...] = ()) -> Any:
    def edit(config: dict[str, Any]) -> None:
        add_caps(config, *caps)
        config["root"]["readonly"] = False  # the tests write to /tmp
        if seccomp is not None:
            config["linux"]["seccomp"] = seccomp

    return edit


def allow_all(*rules: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": list(rules), **extra}


KILL_SETHOSTNAME = allow_all({"names": ["sethostname"], "action": "SCMP_ACT_KILL"})


def assert_nothing_left(rt: Any, cid: str) -> None:
    assert [d for d in rt.state_dirs() if not d.startswith(".")] == [], rt.state_dirs()
    for ctrl in ("memory", "pids", "freezer", "devices"):
        assert not os.path.exists(f"/sys/fs/cgroup/{ctrl}/pyrunc/{cid}"), ctrl


# --- the talk's demo ------------------------------------------------------------------------------


def test_demo_hostname_with_cap_sys_admin_succeeds(rt: Any) -> None:
    host = socket.gethostname()
    bundle = rt.bundle(["sh", "-c", "hostname foo && hostname"], edit=with_seccomp(caps=("CAP_SYS_ADMIN",)))
    assert rt.out(bundle) == "foo\n"
    assert socket.gethostname() == host  # a new UTS namespace: the host is untouched


def test_demo_hostname_killed_by_seccomp(rt: Any) -> None:
    host = socket.gethostname()
    bundle = rt.bundle(
        ["sh", "-c", "hostname foo; echo survived"], edit=with_seccomp(KILL_SETHOSTNAME, caps=("CAP_SYS_ADMIN",))
    )
    # The shell survives its child `hostname`, killed by SIGSYS; 159 is what the shell saw.
    assert rt.out(bundle) == "survived\n"
    bundle = rt.bundle(["hostname", "foo"], edit=with_seccomp(KILL_SETHOSTNAME, caps=("CAP_SYS_ADMIN",)))
    r = rt.run(bundle)
    assert r.rc == SIGSYS_STATUS, r
    assert socket.gethostname() == host


def test_errno_with_a_chosen_errno(rt: Any) -> None:
    rule = {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOSPC}
    bundle = rt.bundle(["sh", "-c", "mkdir /tmp/x; echo rc=$?"], edit=with_seccomp(allow_all(rule)))
    r = rt.run(bundle)
    assert r.rc == 0, r
    assert "rc=1" in r.out
    assert os.strerror(errno.ENOSPC) in r.err, r


def test_default_errno_ret(rt: Any) -> None:
    seccomp = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}],
    }
    bundle = rt.bundle(["sh", "-c", "mkdir /tmp/x"], edit=with_seccomp(seccomp))
    r = rt.run(bundle)
    assert r.rc == 1 and os.strerror(errno.EPERM) in r.err, r


def test_argument_condition_allows_one_value_denies_another(rt: Any) -> None:
    # chmod(path, mode) / fchmodat(dirfd, path, mode): deny mode 0777 only, with EACCES.
    rules = [
        {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EACCES,
         "args": [{"index": 1, "value": 0o777, "op": "SCMP_CMP_EQ"}]},
        {"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EACCES,
         "args": [{"index": 2, "value": 0o777, "op": "SCMP_CMP_EQ"}]},
    ]  # fmt: skip
    script = "touch /tmp/f; chmod 700 /tmp/f; echo a=$?; chmod 777 /tmp/f; echo b=$?; stat -c %a /tmp/f"
    bundle = rt.bundle(["sh", "-c", script], edit=with_seccomp(allow_all(*rules)))
    r = rt.run(bundle)
    assert r.rc == 0, r
    assert r.out.split() == ["a=0", "b=1", "700"], r
    assert os.strerror(errno.EACCES) in r.err


def test_masked_eq_condition(rt: Any) -> None:
    # umask is not a good probe (it cannot fail); open(2) flags are: deny O_CREAT|O_EXCL creation by
    # masking the flags argument (openat's index 2) with O_EXCL.
    rule = {"names": ["openat", "open"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EROFS,
            "args": [{"index": 2, "value": os.O_EXCL, "valueTwo": os.O_EXCL, "op": "SCMP_CMP_MASKED_EQ"}]}  # fmt: skip
    # busybox `mkdir` does not open; `set -C` (noclobber) makes the shell's `>` use O_EXCL.
    script = "echo ok > /tmp/a && cat /tmp/a; set -C; echo no > /tmp/b; echo rc=$?"
    bundle = rt.bundle(["sh", "-c", script], edit=with_seccomp(allow_all(rule)))
    r = rt.run(bundle)
    assert r.rc == 0, r
    assert r.out.split() == ["ok", "rc=1"], r
    assert os.strerror(errno.EROFS) in r.err, r


def test_log_action_lets_the_syscall_run(rt: Any) -> None:
    rule = {"names": ["sethostname"], "action": "SCMP_ACT_LOG"}
    bundle = rt.bundle(["sh", "-c", "hostname logged && hostname"],
                       edit=with_seccomp(allow_all(rule), caps=("CAP_SYS_ADMIN",)))  # fmt: skip
    assert rt.out(bundle) == "logged\n"
    with open("/proc/sys/kernel/seccomp/actions_logged") as f:
        assert "log" in f.read().split()


def test_proc_status_shows_filter_mode(rt: Any) -> None:
    bundle = rt.bundle(["grep", "^Seccomp", "/proc/self/status"], edit=with_seccomp(KILL_SETHOSTNAME))
    fields = rt.status_fields(rt.out(bundle))
    assert fields["Seccomp"] == "2"
    assert fields["Seccomp_filters"] == "1"
    plain = rt.status_fields(rt.out(rt.bundle(["grep", "^Seccomp", "/proc/self/status"])))
    assert plain["Seccomp"] == "0"


def test_filter_loaded_without_no_new_privileges(rt: Any) -> None:
    # Without noNewPrivileges the filter is loaded before the capability drop (it needs CAP_SYS_ADMIN).
    def edit(config: dict[str, Any]) -> None:
        config["process"]["noNewPrivileges"] = False
        config["linux"]["seccomp"] = KILL_SETHOSTNAME
        add_caps(config, "CAP_SYS_ADMIN")

    bundle = rt.bundle(["sh", "-c", "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; hostname x"], edit=edit)
    r = rt.run(bundle)
    assert r.rc == SIGSYS_STATUS, r
    fields = rt.status_fields(r.out)
    assert fields["Seccomp"] == "2" and fields["NoNewPrivs"] == "0", r


# --- NOTIFY ---------------------------------------------------------------------------------------


def test_notify_with_the_library_listener(rt: Any) -> None:
    sock_dir = rt.mkdir("agent")
    path = str(sock_dir / "seccomp.sock")
    seen: list[str] = []
    received: dict[str, Any] = {}
    errors: list[BaseException] = []

    def handler(n: Notification) -> Reply:
        target = read_string(n.pid, n.args[0] if n.syscall == "mkdir" else n.args[1])
        seen.append(f"{n.syscall} {target}")
        return Reply.deny(errno.EACCES) if target.endswith("/forbidden") else Reply.allow()

    def agent(listener: NotifyListener) -> None:
        try:
            cps = listener.accept(timeout=20)
            received.update(state=cps.state, metadata=cps.metadata, pid=cps.pid)
            try:
                serve(cps.seccomp_fd, handler)
            finally:
                cps.close()
        except BaseException as exc:  # reported by the test below
            errors.append(exc)

    seccomp = allow_all(
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"},
        listenerPath=path,
        listenerMetadata="demo-agent",
    )
    script = "mkdir /tmp/ok && echo ok-made; mkdir /tmp/forbidden; echo rc=$?; ls -d /tmp/ok /tmp/forbidden"
    bundle = rt.bundle(["sh", "-c", script], edit=with_seccomp(seccomp))
    with NotifyListener(path) as listener:
        thread = threading.Thread(target=agent, args=(listener,), daemon=True)
        thread.start()
        r = rt.run(bundle)
        thread.join(10)
    assert not thread.is_alive()
    assert not errors, errors
    assert not os.path.exists(path)
    assert r.out.splitlines()[:2] == ["ok-made", "rc=1"], r
    assert os.strerror(errno.EACCES) in r.err
    assert [s.split()[1] for s in seen] == ["/tmp/ok", "/tmp/forbidden"], seen
    assert received["metadata"] == "demo-agent"
    assert received["state"]["status"] == "creating"
    assert received["state"]["pid"] == received["pid"] > 0


def test_notify_listener_not_there_fails_create(rt: Any) -> None:
    path = str(rt.base / "nobody-listens.sock")
    seccomp = allow_all({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}, listenerPath=path)
    bundle = rt.bundle(["true"], edit=with_seccomp(seccomp))
    cid = rt.new_id()
    r = rt.run(bundle, cid=cid)
    assert r.rc == 1, r
    assert path in r.err
    assert_nothing_left(rt, cid)


# --- the default profile --------------------------------------------------------------------------


def test_default_profile_runs_a_shell_and_denies_unshare_and_mount(rt: Any) -> None:
    profile = default_profile()
    assert sum(len(rule["names"]) for rule in profile["syscalls"]) > 250
    script = (
        "echo hi | cat; ls / >/dev/null && echo ls-ok; "
        "unshare -U true; echo unshare=$?; "
        "mount -t tmpfs none /mnt; echo mount=$?"
    )
    bundle = rt.bundle(["sh", "-c", script], edit=with_seccomp(profile))
    r = rt.run(bundle)
    assert r.rc == 0, r
    assert r.out.splitlines() == ["hi", "ls-ok", "unshare=1", "mount=1"], r
    assert os.strerror(errno.EPERM) in r.err


# --- exec -----------------------------------------------------------------------------------------


def test_exec_gets_the_filter(rt: Any) -> None:
    cid = rt.new_id()
    bundle = rt.bundle(["sleep", "100"], edit=with_seccomp(KILL_SETHOSTNAME, caps=("CAP_SYS_ADMIN",)))
    r = rt.pyrunc("run", "-d", "--bundle", str(bundle), cid)
    assert r.rc == 0, r
    r = rt.pyrunc("exec", cid, "grep", "^Seccomp:", "/proc/self/status")
    assert r.rc == 0 and r.out.split() == ["Seccomp:", "2"], r
    r = rt.pyrunc("exec", cid, "hostname", "foo")
    assert r.rc == SIGSYS_STATUS, r
    assert rt.pyrunc("delete", "--force", cid).rc == 0


# --- bad input: one line naming the field, exit 1, nothing left -----------------------------------


@pytest.mark.parametrize(
    ("seccomp", "field"),
    [
        (allow_all({"names": ["mkdir"], "action": "SCMP_ACT_EXPLODE"}), "linux.seccomp.syscalls[0].action"),
        ({"defaultAction": "SCMP_ACT_BOGUS"}, "linux.seccomp.defaultAction"),
        (allow_all({"names": ["mkdir"], "action": "SCMP_ACT_KILL", "errnoRet": 5}),
         "linux.seccomp.syscalls[0].errnoRet"),
        (allow_all(architectures=["SCMP_ARCH_VAX"]), "linux.seccomp.architectures[0]"),
        (allow_all(listenerMetadata="x"), "linux.seccomp.listenerMetadata"),
        (allow_all({"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}), "linux.seccomp.listenerPath"),
    ],
    ids=["unknown-action", "unknown-default", "errnoRet-on-kill", "unknown-arch", "metadata-no-path",
         "notify-no-path"],
)  # fmt: skip
def test_bad_seccomp(rt: Any, seccomp: dict[str, Any], field: str) -> None:
    cid = rt.new_id()
    bundle = rt.bundle(["true"], edit=with_seccomp(seccomp))
    r = rt.run(bundle, cid=cid)
    assert r.rc == 1, r
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r
    assert field in lines[0], r
    assert_nothing_left(rt, cid)


def test_a_profile_warning_is_printed_once_compiled_or_cached(rt: Any) -> None:
    """create validated the profile, and compile_filter validated it again and kept the warnings
    it emits: a validation warning was printed twice. Once now, from the compile and from the
    cache alike."""
    profile = allow_all({"names": ["sethostname"], "action": "SCMP_ACT_ERRNO"}, listenerPath="/tmp/nobody.sock")
    bundle = rt.bundle(["true"], edit=with_seccomp(profile))
    for _ in ("compiled", "from the cache"):
        r = rt.run(bundle)
        assert r.rc == 0, r
        warned = [line for line in r.err.splitlines() if "listenerPath" in line]
        assert warned == ["pyrunc: warning: linux.seccomp.listenerPath: ignored, no rule uses SCMP_ACT_NOTIFY"], r.err
