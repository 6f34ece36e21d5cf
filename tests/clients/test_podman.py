"""podman 4.3 + conmon 2.1 with pyrunc as the OCI runtime: `podman --runtime <pyrunc> ...`.

podman passes no --root, so pyrunc keeps its state in its default root (/run/pyrunc); conmon calls
create (and exec), podman itself start, kill and delete, and conmon's exit command a separate
`podman container cleanup` (runtime-clients.md §2.3). Every container here runs with the two
ulimits this VM needs (§2.1) unless the test is about them, and with `--network none` unless it is
about the network (the default netavark network would add a bridge and iptables chains to the host).
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from clientlib import HEX64, IMAGE, ULIMITS, PodHandle, pty_session

NONET = ("--network", "none")


def test_run_output_and_exit_status(pod: PodHandle) -> None:
    r = pod("run", "--rm", *NONET, *ULIMITS, IMAGE, "sh", "-c", "echo out; echo err >&2; exit 9")
    assert r.rc == 9, r
    assert r.out == "out\n", r
    assert "err" in r.err, r


def test_run_echo(pod: PodHandle) -> None:
    r = pod("run", "--rm", *NONET, *ULIMITS, IMAGE, "echo", "hi")
    assert (r.rc, r.out) == (0, "hi\n"), r


def test_create_failure_is_reported(pod: PodHandle) -> None:
    """pyrunc's create fails (the binary is missing): podman shows pyrunc's message, read from the
    JSON --log it passes because containers.conf lists "pyrunc" in runtime_supports_json, and maps
    "no such file or directory" to 127. Nothing is left: podman calls `delete --force` after."""
    name = pod.name("fail")
    r = pod("run", "--rm", "--name", name, *NONET, *ULIMITS, IMAGE, "/nonexistent")
    assert r.rc == 127, r
    assert "/nonexistent" in r.err and "no such file or directory" in r.err, r


def test_ulimit_error_names_the_limit(pod: PodHandle) -> None:
    """Without --ulimit podman asks for RLIMIT_NOFILE and RLIMIT_NPROC 1048576. Above the host's
    hard limit (and with no CAP_SYS_RESOURCE) that cannot be granted: pyrunc must say which rlimit,
    the value asked and the host's limit (runc says only "error setting rlimit type 7"); podman
    maps the failure to 126. The limit is the one conmon passes on (podman adjusts its own), so the
    test reads the number from the message rather than from this process."""
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if nofile == resource.RLIM_INFINITY or nofile >= 1048576:
        pytest.skip(f"the host's hard RLIMIT_NOFILE ({nofile}) allows podman's default: nothing to report")
    with open("/proc/self/status") as f:
        cap_eff = next(int(line.split()[1], 16) for line in f if line.startswith("CapEff:"))
    if cap_eff >> 24 & 1:  # CAP_SYS_RESOURCE: the runtime raises the hard limit, as runc does
        pytest.skip("the runtime has CAP_SYS_RESOURCE here and grants podman's default: nothing to report")
    r = pod("run", "--rm", *NONET, IMAGE, "true")
    assert r.rc == 126, r
    m = re.search(r"RLIMIT_NOFILE\b.*\b1048576\b.*host's hard limit is (\d+)", r.err)
    assert m and int(m.group(1)) < 1048576, r
    r = pod("run", "--rm", *NONET, "--ulimit", "nofile=1024:1024", IMAGE, "true")
    if r.rc == 0:
        return  # the host allows podman's NPROC
    assert r.rc == 126, r
    m = re.search(r"RLIMIT_NPROC\b.*\b1048576\b.*host's hard limit is (\d+)", r.err)
    assert m and int(m.group(1)) < 1048576, r


def test_ulimits_given_work(pod: PodHandle) -> None:
    r = pod("run", "--rm", *NONET, *ULIMITS, IMAGE, "sh", "-c", "ulimit -Hn; ulimit -Sn; ulimit -Hu")
    assert (r.rc, r.out.split()) == (0, ["1024", "1024", "4096"]), r


def test_detached_exec_ps_stop(pod: PodHandle) -> None:
    name = pod.name("d")
    cid = pod.ok("run", "-d", "--name", name, *NONET, *ULIMITS, IMAGE, "sleep", "1000").strip()
    assert HEX64.fullmatch(cid), cid
    assert os.path.isfile(f"/run/pyrunc/{cid}/state.json"), "pyrunc keeps its state in its default root"
    assert name in pod.ok("ps", "--format", "{{.Names}}").split()
    assert pod.inspect(name, "{{.State.Status}}") == "running"

    r = pod("exec", name, "sh", "-c", "echo from-exec; exit 5")
    assert (r.rc, r.out) == (5, "from-exec\n"), r
    # podman maps the runtime's "no such file or directory" to 127 (the runtime exits 255)
    r = pod("exec", name, "/nonexistent")
    assert r.rc == 127, r
    r = pod("exec", "-d", name, "sleep", "300")
    assert r.rc == 0, r
    r = pod("exec", "--user", "1000:1000", name, "id")
    assert r.rc == 0 and "uid=1000" in r.out and "gid=1000" in r.out, r
    procs = pod.ok("exec", name, "ps", "-o", "pid,comm")
    assert "sleep" in procs, procs

    # `sleep` as PID 1 ignores SIGTERM: after -t podman sends SIGKILL (kill ID 15, kill ID 9)
    t0 = time.monotonic()
    r = pod("stop", "-t", "1", name, timeout=60)
    assert r.rc == 0, r
    assert time.monotonic() - t0 < 20
    assert pod.inspect(name, "{{.State.Status}}") == "exited"
    assert pod.inspect(name, "{{.State.ExitCode}}") == "137"
    assert name in pod.ok("ps", "-a", "--format", "{{.Names}}").split()
    pod.ok("rm", name)
    assert not os.path.exists(f"/run/pyrunc/{cid}")


def test_stop_with_sigterm_handler(pod: PodHandle) -> None:
    name = pod.name("term")
    script = "trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 0.1; done"
    pod.ok("run", "-d", "--name", name, *NONET, *ULIMITS, IMAGE, "sh", "-c", script)
    _wait_log(pod, name, "ready")
    r = pod("stop", "-t", "10", name, timeout=60)
    assert r.rc == 0, r
    assert pod.inspect(name, "{{.State.ExitCode}}") == "3"
    assert "got-term" in pod.ok("logs", name)


def test_kill_and_signal_numbers(pod: PodHandle) -> None:
    """`podman kill -s USR1` becomes `pyrunc kill ID 10`: the number after the id."""
    name = pod.name("k")
    script = "trap 'echo got-usr1' USR1; echo ready; while :; do sleep 0.1; done"
    pod.ok("run", "-d", "--name", name, *NONET, *ULIMITS, IMAGE, "sh", "-c", script)
    _wait_log(pod, name, "ready")
    pod.ok("kill", "-s", "USR1", name)
    _wait_log(pod, name, "got-usr1")
    assert pod.inspect(name, "{{.State.Status}}") == "running"
    pod.ok("kill", name)  # SIGKILL
    pod.wait_state(name, "exited")
    assert pod.inspect(name, "{{.State.ExitCode}}") == "137"


def test_rm_force_running(pod: PodHandle) -> None:
    name = pod.name("rm")
    cid = pod.ok("run", "-d", "--name", name, *NONET, *ULIMITS, IMAGE, "sleep", "1000").strip()
    r = pod("rm", "-f", "-t", "0", name)
    assert r.rc == 0, r
    assert pod("container", "exists", name).rc == 1
    deadline = time.monotonic() + 5
    while os.path.exists(f"/run/pyrunc/{cid}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not os.path.exists(f"/run/pyrunc/{cid}")


def test_user(pod: PodHandle) -> None:
    r = pod("run", "--rm", *NONET, *ULIMITS, "--user", "1000:1000", IMAGE, "sh", "-c", "id -u; id -g")
    assert (r.rc, r.out.split()) == (0, ["1000", "1000"]), r


def _cap_eff(text: str) -> int:
    for line in text.splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    raise AssertionError(f"no CapEff in {text!r}")


def test_cap_add(pod: PodHandle) -> None:
    cap_net_admin = 1 << 12
    plain = pod("run", "--rm", *NONET, *ULIMITS, IMAGE, "cat", "/proc/self/status")
    added = pod("run", "--rm", *NONET, *ULIMITS, "--cap-add", "NET_ADMIN", IMAGE, "cat", "/proc/self/status")
    assert plain.rc == 0 and added.rc == 0, (plain, added)
    assert not _cap_eff(plain.out) & cap_net_admin
    assert _cap_eff(added.out) & cap_net_admin
    assert _cap_eff(added.out) == _cap_eff(plain.out) | cap_net_admin
    r = pod("run", "--rm", *NONET, *ULIMITS, "--cap-add", "NET_ADMIN", IMAGE, "ip", "link", "set", "lo", "up")
    assert r.rc == 0, r


def test_read_only(pod: PodHandle) -> None:
    script = "touch /x 2>&1; echo rc=$?; touch /tmp/y && echo tmp-ok"
    r = pod("run", "--rm", *NONET, *ULIMITS, "--read-only", IMAGE, "sh", "-c", script)
    assert r.rc == 0, r
    assert "Read-only file system" in r.out and "rc=1" in r.out, r
    assert "tmp-ok" in r.out, r  # podman mounts a tmpfs on /tmp with --read-only


def test_network_none(pod: PodHandle) -> None:
    r = pod("run", "--rm", *NONET, *ULIMITS, IMAGE, "ls", "/sys/class/net")
    assert (r.rc, r.out.split()) == (0, ["lo"]), r


def _is_mount_point(path: str) -> bool:
    """From mountinfo: os.path.ismount misses a bind mount of a directory on itself (same device)."""
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def test_network_namespace_joined_by_path(pod: PodHandle) -> None:
    """podman's default network hands the runtime a netns path to join (`/run/netns/...`). The same
    path is exercised here with a namespace of our own, leaving no bridge or firewall rules behind."""
    name = f"lcpy-ns-{uuid.uuid4().hex[:8]}"
    # `ip netns add` makes /run/netns a (shared) mount point of itself the first time, and `ip netns
    # del` leaves it: take it away again if this test made it, so no mount outlives the test.
    was_mount = _is_mount_point("/run/netns")
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        want = os.stat(f"/run/netns/{name}").st_ino
        r = pod("run", "--rm", "--network", f"ns:/run/netns/{name}", *ULIMITS, IMAGE, "readlink", "/proc/self/ns/net")
        assert (r.rc, r.out.strip()) == (0, f"net:[{want}]"), r
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)
        if not was_mount and _is_mount_point("/run/netns") and not os.listdir("/run/netns"):
            subprocess.run(["umount", "/run/netns"], check=False)


def test_hostname_and_env(pod: PodHandle) -> None:
    r = pod(
        "run", "--rm", *NONET, *ULIMITS, "--hostname", "h1", "-e", "FOO=bar", IMAGE, "sh", "-c", "hostname; echo $FOO"
    )
    assert (r.rc, r.out.split()) == (0, ["h1", "bar"]), r


def test_pause_unpause(pod: PodHandle) -> None:
    name = pod.name("p")
    pod.ok("run", "-d", "--name", name, *NONET, *ULIMITS, IMAGE, "sleep", "1000")
    pod.ok("pause", name)
    assert pod.inspect(name, "{{.State.Status}}") == "paused"
    pod.ok("unpause", name)
    assert pod.inspect(name, "{{.State.Status}}") == "running"


def test_update_memory(pod: PodHandle) -> None:
    name = pod.name("u")
    pod.ok("run", "-d", "--name", name, *NONET, *ULIMITS, IMAGE, "sleep", "1000")
    pod.ok("update", "--memory", "100m", name)
    r = pod("exec", name, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
    assert r.out.strip() == str(100 * 1024 * 1024), r


def test_container_in_its_cgroup(pod: PodHandle) -> None:
    name = pod.name("cg")
    cid = pod.ok("run", "-d", "--name", name, *NONET, *ULIMITS, IMAGE, "sleep", "1000").strip()
    pid = pod.inspect(name, "{{.State.Pid}}")
    cgroups = Path(f"/proc/{pid}/cgroup").read_text()
    assert f"libpod-{cid}" in cgroups, cgroups


def test_run_interactive_terminal(pod: PodHandle) -> None:
    name = pod.name("it")
    rc, shown = pty_session(
        pod.argv("run", "-it", "--rm", "--name", name, *NONET, *ULIMITS, IMAGE, "sh"),
        [("/ #", "tty; stty size\r"), ("30 150", "exit 3\r")],
        env=pod.env,
    )
    assert "/dev/pts/0" in shown, shown
    assert rc == 3, shown


def test_exec_interactive_terminal(pod: PodHandle) -> None:
    name = pod.name("eit")
    pod.ok("run", "-d", "--name", name, *NONET, *ULIMITS, IMAGE, "sleep", "1000")
    rc, shown = pty_session(
        pod.argv("exec", "-it", name, "sh"),
        [("#", "tty\r"), ("/dev/pts/", "exit 4\r")],
        env=pod.env,
    )
    assert rc == 4, shown


def _wait_log(pod: PodHandle, name: str, text: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while text not in (logs := pod("logs", name).out):
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not in the logs of {name} after {timeout}s: {logs!r}")
        time.sleep(0.1)
