"""process.* and the per-container kernel settings, observed inside real containers."""

from __future__ import annotations

import resource
from typing import Any

import pytest

from libcontainer_py.capabilities import CAP_NUMBERS, last_cap


def mask(names: list[str]) -> str:
    value = 0
    for name in names:
        value |= 1 << CAP_NUMBERS[name]
    return f"{value:016x}"


def process(**fields: Any) -> Any:
    def edit(config: dict[str, Any]) -> None:
        config["process"].update(fields)

    return edit


def test_env_and_cwd(rt: Any) -> None:
    bundle = rt.bundle(
        ["sh", "-c", 'echo "$GREETING|$EMPTY|$PATH"; pwd'],
        edit=process(env=["PATH=/bin:/usr/bin", "GREETING=hello world", "EMPTY="], cwd="/var/www"),
    )
    assert rt.out(bundle).splitlines() == ["hello world||/bin:/usr/bin", "/var/www"]


def test_user_groups_and_umask(rt: Any) -> None:
    bundle = rt.bundle(
        ["sh", "-c", "id; umask; grep -E '^(Uid|Gid|Groups):' /proc/self/status"],
        edit=process(user={"uid": 1000, "gid": 1001, "additionalGids": [5, 1002], "umask": 0o027}),
    )
    lines = rt.out(bundle).splitlines()
    assert lines[0].split()[:2] == ["uid=1000", "gid=1001"]
    assert "groups=5,1002" in lines[0].replace("(tty)", "") or "groups=5" in lines[0], lines
    assert lines[1] == "0027"
    status = rt.status_fields("\n".join(lines[2:]))
    assert status["Uid"].split() == ["1000"] * 4
    assert status["Gid"].split() == ["1001"] * 4
    assert status["Groups"].split() == ["5", "1002"]


def test_rlimits(rt: Any) -> None:
    def edit(config: dict[str, Any]) -> None:
        config["process"]["rlimits"] = [
            {"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654},
            {"type": "RLIMIT_NPROC", "soft": 1111, "hard": 2222},
        ]

    lines = rt.out(rt.bundle(["sh", "-c", "ulimit -n; ulimit -Hn; ulimit -u; ulimit -Hu"], edit=edit)).split()
    assert lines == ["321", "654", "1111", "2222"]


# Every resource of getrlimit(2), with the name /proc/PID/limits gives it. RLIMIT_LOCKS, which
# Python's resource module lacks, was once refused as "unknown" (the limits now go through prlimit).
ALL_RLIMITS = {
    "RLIMIT_CPU": ("Max cpu time", 3000, 4000),
    "RLIMIT_FSIZE": ("Max file size", 1 << 30, 1 << 31),
    "RLIMIT_DATA": ("Max data size", 1 << 31, 1 << 32),
    "RLIMIT_STACK": ("Max stack size", 8 << 20, 16 << 20),
    "RLIMIT_CORE": ("Max core file size", 0, 1024),
    "RLIMIT_RSS": ("Max resident set", 1 << 30, 1 << 31),
    "RLIMIT_NPROC": ("Max processes", 1111, 2222),
    "RLIMIT_NOFILE": ("Max open files", 321, 654),
    "RLIMIT_MEMLOCK": ("Max locked memory", 65536, 131072),
    "RLIMIT_AS": ("Max address space", 1 << 33, 1 << 34),
    "RLIMIT_LOCKS": ("Max file locks", 100, 200),
    "RLIMIT_SIGPENDING": ("Max pending signals", 500, 600),
    "RLIMIT_MSGQUEUE": ("Max msgqueue size", 819200, 819300),
    "RLIMIT_NICE": ("Max nice priority", 10, 20),
    "RLIMIT_RTPRIO": ("Max realtime priority", 1, 2),
    "RLIMIT_RTTIME": ("Max realtime timeout", 100000, 200000),
}


def read_limits(text: str) -> dict[str, list[str]]:
    """/proc/PID/limits: {"Max open files": [soft, hard], ...}."""
    out = {}
    for line in text.splitlines()[1:]:
        name, _, rest = line.partition("  ")
        out[name] = rest.split()[:2]
    return out


def test_every_rlimit_type(rt: Any) -> None:
    # At most the host's hard limit: the tests' containers may have a user namespace, where
    # CAP_SYS_RESOURCE does not reach the host's limits.
    with open("/proc/self/limits") as f:
        host = read_limits(f.read())
    want = {}
    for kind, (name, soft, hard) in ALL_RLIMITS.items():
        if host[name][1] != "unlimited":
            hard = min(hard, int(host[name][1]))
        want[kind] = (name, min(soft, hard), hard)

    def edit(config: dict[str, Any]) -> None:
        config["process"]["rlimits"] = [{"type": k, "soft": soft, "hard": hard} for k, (_, soft, hard) in want.items()]

    seen = read_limits(rt.out(rt.bundle(["cat", "/proc/self/limits"], edit=edit)))
    for kind, (name, soft, hard) in want.items():
        assert seen[name] == [str(soft), str(hard)], (kind, seen)
    assert seen["Max file locks"] == ["100", "200"] or host["Max file locks"][1] != "unlimited"


def test_capabilities_equal_the_config(rt: Any) -> None:
    caps = {
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SETUID"],
        "effective": ["CAP_CHOWN", "CAP_KILL"],
        "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
        "inheritable": ["CAP_KILL", "CAP_NET_RAW"],
        "ambient": ["CAP_KILL"],
    }
    bundle = rt.bundle(["cat", "/proc/self/status"], edit=process(capabilities=caps, noNewPrivileges=False))
    status = rt.status_fields(rt.out(bundle))
    # As uid 0, execve gives root "all" file capabilities: permitted and effective become the
    # bounding set (plus inheritable) whatever the config asked, as under runc; those two are
    # checked for a non-root user below, where the kernel keeps exactly what was set.
    assert status["CapBnd"] == mask(caps["bounding"])
    assert status["CapInh"] == mask(caps["inheritable"])
    assert status["CapAmb"] == mask(caps["ambient"])
    assert status["NoNewPrivs"] == "0"


def test_capabilities_of_a_non_root_user(rt: Any) -> None:
    caps = {
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
        "effective": ["CAP_KILL", "CAP_NET_RAW"],
        "permitted": ["CAP_KILL", "CAP_NET_RAW"],
        "inheritable": ["CAP_KILL", "CAP_NET_RAW"],
        "ambient": ["CAP_KILL", "CAP_NET_RAW"],
    }
    bundle = rt.bundle(["cat", "/proc/self/status"], edit=process(capabilities=caps, user={"uid": 1000, "gid": 1000}))
    status = rt.status_fields(rt.out(bundle))
    # For a non-root user, what survives execve is exactly the ambient set (in permitted and effective).
    assert status["CapBnd"] == mask(caps["bounding"])
    assert status["CapInh"] == mask(caps["inheritable"])
    assert status["CapAmb"] == mask(caps["ambient"])
    assert status["CapPrm"] == mask(caps["permitted"])
    assert status["CapEff"] == mask(caps["effective"])
    assert status["NoNewPrivs"] == "1"


def test_default_capabilities_as_runc(rt: Any) -> None:
    status = rt.status_fields(rt.out(rt.bundle(["cat", "/proc/self/status"])))
    default = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    assert status["CapBnd"] == status["CapEff"] == status["CapPrm"] == mask(default)
    assert int(status["CapBnd"], 16) < 1 << (last_cap() + 1)


def test_no_capabilities_object_means_none(rt: Any) -> None:
    bundle = rt.bundle(["cat", "/proc/self/status"], edit=lambda c: c["process"].pop("capabilities"))
    status = rt.status_fields(rt.out(bundle))
    assert status["CapBnd"] == status["CapEff"] == status["CapPrm"] == "0" * 16


@pytest.mark.parametrize("userns", [False, True])
def test_oom_score_adj(rt: Any, userns: bool) -> None:
    """Written by the runtime's first child before it enters any namespace, as runc does: inside a
    user namespace the write was refused (EACCES: a non-dumpable process's /proc files are the
    host root's), and `pyrunc run` failed where runc ran the container."""

    def edit(c: dict[str, Any]) -> None:
        process(oomScoreAdj=345)(c)
        if userns:
            c["linux"]["namespaces"].append({"type": "user"})
            c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
            c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]

    bundle = rt.bundle(["cat", "/proc/self/oom_score_adj"], edit=edit)
    assert rt.out(bundle).strip() == "345"


def test_hostname_and_domainname(rt: Any) -> None:
    def edit(config: dict[str, Any]) -> None:
        config["hostname"] = "box1"
        config["domainname"] = "example.test"

    out = rt.out(rt.bundle(["sh", "-c", "hostname; cat /proc/sys/kernel/domainname"], edit=edit))
    assert out.split() == ["box1", "example.test"]


def test_sysctl_in_a_new_netns(rt: Any) -> None:
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        host = f.read().strip()
    want = "0" if host == "1" else "1"

    def edit(config: dict[str, Any]) -> None:
        config["linux"]["sysctl"] = {"net.ipv4.ip_forward": want}

    assert rt.out(rt.bundle(["cat", "/proc/sys/net/ipv4/ip_forward"], edit=edit)).strip() == want
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        assert f.read().strip() == host  # the host's is untouched


def test_path_lookup_uses_the_containers_path(rt: Any) -> None:
    # `hello` exists only at /opt/tools/hello in the container: found through the container's PATH.
    bundle = rt.bundle(["hello"], edit=process(env=["PATH=/opt/tools:/bin"]))
    tools = bundle / "rootfs" / "opt" / "tools"
    tools.mkdir(parents=True)
    (tools / "hello").write_text("#!/bin/sh\necho found-in-container-path\n")
    (tools / "hello").chmod(0o755)
    assert rt.out(bundle) == "found-in-container-path\n"


def test_args0_not_found_fails_create(rt: Any) -> None:
    bundle = rt.bundle(["no-such-program"])
    cid = rt.new_id()
    r = rt.pyrunc("create", "-b", str(bundle), cid)
    assert r.rc == 1, r
    assert len(r.err.strip().splitlines()) == 1, r
    assert "process.args[0]" in r.err and "no-such-program" in r.err, r
    assert rt.state_dirs() == []


@pytest.mark.parametrize("verb", ["create", "run"])
@pytest.mark.parametrize("limit", ["RLIMIT_NOFILE"])
def test_rlimit_above_the_hosts_hard_limit(rt: Any, limit: str, verb: str) -> None:
    # The runtime is root (CAP_SYS_RESOURCE) and may raise a hard limit up to fs.nr_open; above
    # that the kernel refuses, and the message must say the value asked and the limit. create's
    # parent sets them at "ready"; run's init sets them itself (_create.needs_run_barrier).
    with open("/proc/sys/fs/nr_open") as f:
        nr_open = int(f.read())
    asked = nr_open + 1

    def edit(config: dict[str, Any]) -> None:
        config["process"]["rlimits"] = [{"type": limit, "soft": asked, "hard": asked}]

    r = rt.pyrunc(verb, "-b", str(rt.bundle(["true"], edit=edit)), rt.new_id())
    assert r.rc == 1, r
    assert len(r.err.strip().splitlines()) == 1, r
    assert "process.rlimits[0]" in r.err and str(asked) in r.err and limit in r.err, r
    assert str(nr_open) in r.err or str(resource.getrlimit(resource.RLIMIT_NOFILE)[1]) in r.err, r
    assert rt.state_dirs() == []
