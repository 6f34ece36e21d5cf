"""SpecBuilder: every method, its errors, and schema validity of what build() returns."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from oci_schema import schema_errors

from libcontainer_py.errors import ConfigError
from libcontainer_py.spec import LinuxResources, Spec
from libcontainer_py.spec.builder import ALL_CAPABILITIES, SpecBuilder
from libcontainer_py.spec.defaults import default_config, rootless_config


def built(b: SpecBuilder) -> dict[str, Any]:
    """build(), then check the result against the schema; return it as a dict."""
    data = b.build().to_dict()
    assert schema_errors(data) == []
    return data


def caps(data: dict[str, Any]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = data["process"]["capabilities"]
    return result


# --- starting points and output ------------------------------------------------------------------


def test_issue_example() -> None:
    spec = SpecBuilder.default().args("sh", "-c", "date").env("A=1").hostname("c1").build()
    assert isinstance(spec, Spec)
    assert spec.process is not None
    assert spec.process.args == ["sh", "-c", "date"]
    assert "A=1" in (spec.process.env or [])
    assert spec.hostname == "c1"


def test_default_and_rootless_start_from_runc_defaults() -> None:
    assert SpecBuilder.default().to_dict() == default_config()
    assert SpecBuilder().to_dict() == default_config()
    assert SpecBuilder.default(rootless=True).to_dict() == rootless_config()
    built(SpecBuilder.default(rootless=True))


def test_from_spec_and_dict_do_not_modify_the_original() -> None:
    spec = SpecBuilder.default().build()
    before = spec.to_dict()
    SpecBuilder.from_spec(spec).hostname("x").build()
    assert spec.to_dict() == before
    raw = default_config()
    SpecBuilder(raw).env("X=1")
    assert raw == default_config()


def test_load(tmp_path: Path) -> None:
    SpecBuilder.default().hostname("loaded").build().save(tmp_path / "config.json")
    assert SpecBuilder.load(tmp_path).build().hostname == "loaded"


def test_methods_return_self() -> None:
    b = SpecBuilder.default()
    assert b.args("true") is b
    assert b.env("A=1") is b
    assert b.cwd("/tmp") is b
    assert b.privileged() is b
    assert b.seccomp_allow("read") is b


def test_to_dict_is_a_copy() -> None:
    b = SpecBuilder.default()
    b.to_dict()["hostname"] = "changed"
    assert b.to_dict()["hostname"] == "runc"


def test_build_raises_on_runtime_errors() -> None:
    # A user namespace created without mappings: valid JSON schema, but runc refuses to run it.
    b = SpecBuilder.default().add_namespace("user")
    with pytest.raises(ConfigError, match=r"linux\.uidMappings.*required"):
        b.build()


def test_build_keeps_warnings() -> None:
    b = SpecBuilder(
        {
            **default_config(),
            "process": {**default_config()["process"], "capabilities": {"bounding": ["CAP_NOPE"]}},
        }
    )
    b.build()
    assert any("CAP_NOPE" in w for w in b.warnings)


# --- process ---------------------------------------------------------------------------------------


def test_args_replace() -> None:
    data = built(SpecBuilder.default().args("a").args("/bin/echo", "hi"))
    assert data["process"]["args"] == ["/bin/echo", "hi"]
    with pytest.raises(ConfigError, match="args"):
        SpecBuilder.default().args()


def test_env_set_and_replace_by_name() -> None:
    data = built(SpecBuilder.default().env("A=1", "B=2").env("A=3", C="4").env("PATH=/bin"))
    assert data["process"]["env"] == ["PATH=/bin", "TERM=xterm", "A=3", "B=2", "C=4"]
    data = built(SpecBuilder.default().env("EMPTY=").unset_env("TERM"))
    assert data["process"]["env"][-1] == "EMPTY="
    assert not any(e.startswith("TERM=") for e in data["process"]["env"])
    for bad in ("NOEQUALS", "=value"):
        with pytest.raises(ConfigError, match="env: expected NAME=VALUE"):
            SpecBuilder.default().env(bad)


def test_cwd_terminal_nnp() -> None:
    data = built(SpecBuilder.default().cwd("/work").terminal(False).no_new_privileges(False))
    assert data["process"]["cwd"] == "/work"
    assert data["process"]["terminal"] is False
    assert data["process"]["noNewPrivileges"] is False
    with pytest.raises(ConfigError, match=r"cwd: .*absolute"):
        SpecBuilder.default().cwd("relative")


def test_user_ids() -> None:
    data = built(SpecBuilder.default().uid(1000).gid(100).additional_gids(10, 20))
    assert data["process"]["user"] == {"uid": 1000, "gid": 100, "additionalGids": [10, 20]}
    data = built(SpecBuilder.default().additional_gids(1).additional_gids())
    assert "additionalGids" not in data["process"]["user"]
    calls: list[Callable[[SpecBuilder], object]] = [
        lambda b: b.uid(-1),
        lambda b: b.gid(2**32),
        lambda b: b.uid(True),
        lambda b: b.additional_gids(-5),
    ]
    for call in calls:
        with pytest.raises(ConfigError):
            call(SpecBuilder.default())


def test_user_on_an_empty_process() -> None:
    b = SpecBuilder({"ociVersion": "1.3.0", "root": {"path": "rootfs"}}).gid(7).args("true")
    assert built(b)["process"] == {"user": {"gid": 7, "uid": 0}, "cwd": "/", "args": ["true"]}


# --- capabilities ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["NET_ADMIN", "CAP_NET_ADMIN", "net_admin", "cap_net_admin", " Net_Admin "])
def test_add_capability_spellings(name: str) -> None:
    data = built(SpecBuilder.default().add_capabilities(name))
    for set_name in ("bounding", "effective", "permitted", "ambient"):
        assert caps(data)[set_name].count("CAP_NET_ADMIN") == 1
    assert "inheritable" not in caps(data)


def test_add_capability_is_idempotent_and_fills_inheritable_only_if_present() -> None:
    b = SpecBuilder.default().add_capabilities("KILL", "SYS_PTRACE", "SYS_PTRACE")
    assert caps(b.to_dict())["bounding"] == [
        "CAP_AUDIT_WRITE",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_PTRACE",
    ]
    config = default_config()
    config["process"]["capabilities"]["inheritable"] = []
    data = built(SpecBuilder(config).add_capabilities("CHOWN"))
    assert caps(data)["inheritable"] == ["CAP_CHOWN"]


def test_drop_capabilities() -> None:
    config = default_config()
    config["process"]["capabilities"]["inheritable"] = ["CAP_KILL"]
    data = built(SpecBuilder(config).drop_capabilities("kill", "CAP_AUDIT_WRITE"))
    for set_name in ("bounding", "effective", "permitted", "ambient"):
        assert caps(data)[set_name] == ["CAP_NET_BIND_SERVICE"]
    assert caps(data)["inheritable"] == []
    data = built(SpecBuilder.default().drop_capabilities("ALL"))
    assert all(v == [] for v in caps(data).values())


def test_unknown_capability_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"add_capabilities: unknown capability 'NET_ADMINN'"):
        SpecBuilder.default().add_capabilities("NET_ADMINN")
    with pytest.raises(ConfigError, match=r"drop_capabilities: unknown capability"):
        SpecBuilder.default().drop_capabilities("CAP_FOO")


def test_privileged() -> None:
    b = SpecBuilder.default().seccomp_kill("ptrace")
    b.to_dict()
    data = built(b.privileged())
    for set_name in ("bounding", "effective", "permitted", "ambient"):
        assert caps(data)[set_name] == list(ALL_CAPABILITIES)
    assert "CAP_SYS_ADMIN" in ALL_CAPABILITIES and len(ALL_CAPABILITIES) == 41
    for key in ("maskedPaths", "readonlyPaths", "seccomp"):
        assert key not in data["linux"]
    # privileged then drop: everything but the dropped one.
    data = built(SpecBuilder.default().privileged().drop_capabilities("SYS_ADMIN"))
    assert "CAP_SYS_ADMIN" not in caps(data)["bounding"]
    assert SpecBuilder.default().privileged(False).to_dict() == default_config()


# --- root, hostname, annotations -------------------------------------------------------------------


def test_root() -> None:
    data = built(SpecBuilder.default().rootfs("/var/lib/rootfs").readonly_rootfs(False))
    assert data["root"] == {"path": "/var/lib/rootfs", "readonly": False}
    with pytest.raises(ConfigError, match="rootfs"):
        SpecBuilder.default().rootfs("")


def test_hostname_domainname_annotations() -> None:
    b = SpecBuilder.default().hostname("c1").domainname("example.org")
    b.annotation("org.example.a", "1").annotations({"b": "2", "org.example.a": "3"})
    data = built(b)
    assert data["hostname"] == "c1" and data["domainname"] == "example.org"
    assert data["annotations"] == {"org.example.a": "3", "b": "2"}
    with pytest.raises(ConfigError, match="annotation"):
        SpecBuilder.default().annotation("", "x")


# --- mounts ----------------------------------------------------------------------------------------


def test_bind_mount() -> None:
    data = built(SpecBuilder.default().bind_mount("/srv/data", "/data", ["ro"]))
    assert data["mounts"][-1] == {
        "destination": "/data",
        "type": "bind",
        "source": "/srv/data",
        "options": ["rbind", "ro"],
    }
    data = built(SpecBuilder.default().bind_mount("/a", "/b", ["bind", "nosuid"]))
    assert data["mounts"][-1]["options"] == ["bind", "nosuid"]
    with pytest.raises(ConfigError, match="bind_mount: source"):
        SpecBuilder.default().bind_mount("relative", "/b")
    with pytest.raises(ConfigError, match="mount: destination"):
        SpecBuilder.default().bind_mount("/a", "b")


def test_mount_replaces_same_destination_in_place() -> None:
    # "/dev/shm/" names the same place as "/dev/shm": replaced, and written as given.
    data = built(SpecBuilder.default().tmpfs("/dev/shm/", ["size=1g"]).tmpfs("/dev/shm", ["size=1g"]))
    shm = [i for i, m in enumerate(data["mounts"]) if m["destination"] == "/dev/shm"]
    assert shm == [3]
    assert data["mounts"][3] == {
        "destination": "/dev/shm",
        "type": "tmpfs",
        "source": "tmpfs",
        "options": ["size=1g"],
    }


def test_tmpfs_default_options_and_generic_mount_and_remove() -> None:
    b = SpecBuilder.default().tmpfs("/run").mount("/x", "proc", "proc").remove_mount("/sys/fs/cgroup")
    data = built(b)
    assert data["mounts"][-2]["options"] == ["rw", "noexec", "nosuid", "nodev", "size=65536k"]
    assert data["mounts"][-1] == {"destination": "/x", "type": "proc", "source": "proc"}
    assert all(m["destination"] != "/sys/fs/cgroup" for m in data["mounts"])


# --- namespaces and id mappings --------------------------------------------------------------------


def test_namespaces_add_join_remove() -> None:
    b = (
        SpecBuilder.default()
        .add_namespace("cgroup")
        .join_namespace("net", "/var/run/netns/blue")
        .remove_namespace("IPC")
        .add_namespace("time")
    )
    namespaces = built(b)["linux"]["namespaces"]
    assert namespaces == [
        {"type": "pid"},
        {"type": "network", "path": "/var/run/netns/blue"},
        {"type": "uts"},
        {"type": "mount"},
        {"type": "cgroup"},
        {"type": "time"},
    ]
    with pytest.raises(ConfigError, match="unknown namespace type 'foo'"):
        SpecBuilder.default().add_namespace("foo")
    with pytest.raises(ConfigError, match="join_namespace: path"):
        SpecBuilder.default().join_namespace("network", "netns")


def test_id_mappings_add_the_user_namespace() -> None:
    b = SpecBuilder.default().uid_mapping(container_id=0, host_id=100000, size=65536)
    b.gid_mapping(container_id=0, host_id=100000, size=65536)
    linux = built(b)["linux"]
    assert linux["uidMappings"] == [{"containerID": 0, "hostID": 100000, "size": 65536}]
    assert linux["gidMappings"] == [{"containerID": 0, "hostID": 100000, "size": 65536}]
    assert [ns["type"] for ns in linux["namespaces"]].count("user") == 1
    with pytest.raises(ConfigError, match="size must be at least 1"):
        SpecBuilder.default().uid_mapping(container_id=0, host_id=1, size=0)
    with pytest.raises(ConfigError, match="host_id"):
        SpecBuilder.default().gid_mapping(container_id=0, host_id=-1)


def test_id_mappings_keep_a_joined_user_namespace() -> None:
    b = SpecBuilder.default().join_namespace("user", "/proc/1/ns/user").uid_mapping(container_id=0, host_id=0)
    assert {"type": "user", "path": "/proc/1/ns/user"} in b.to_dict()["linux"]["namespaces"]


# --- rlimits -------------------------------------------------------------------------------------


def test_rlimits_add_and_replace() -> None:
    data = built(SpecBuilder.default().rlimit("nofile", 4096, 1024).rlimit("RLIMIT_NPROC", 100).rlimit("CORE", 0, 0))
    assert data["process"]["rlimits"] == [
        {"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 1024},
        {"type": "RLIMIT_NPROC", "hard": 100, "soft": 100},
        {"type": "RLIMIT_CORE", "hard": 0, "soft": 0},
    ]
    data = built(SpecBuilder.default().remove_rlimit("NOFILE"))
    assert data["process"]["rlimits"] == []
    with pytest.raises(ConfigError, match="unknown rlimit 'RLIMIT_FOO'"):
        SpecBuilder.default().rlimit("RLIMIT_FOO", 1)
    with pytest.raises(ConfigError, match="soft limit 2 is above the hard limit 1"):
        SpecBuilder.default().rlimit("NOFILE", 1, 2)


# --- resources -------------------------------------------------------------------------------------


def test_resource_shortcuts() -> None:
    b = SpecBuilder.default().memory_limit(512 * 2**20).cpu_shares(512).cpu_quota(50000, period=100000).pids_limit(64)
    res = built(b.cgroups_path("/pyrunc/c1"))["linux"]["resources"]
    assert res["memory"] == {"limit": 536870912}
    assert res["cpu"] == {"shares": 512, "quota": 50000, "period": 100000}
    assert res["pids"] == {"limit": 64}
    assert res["devices"] == [{"allow": False, "access": "rwm"}]
    assert built(SpecBuilder.default(rootless=True).pids_limit(-1))["linux"]["resources"] == {"pids": {"limit": -1}}
    calls: list[Callable[[SpecBuilder], object]] = [
        lambda b: b.memory_limit(-2),
        lambda b: b.cpu_shares(-1),
        lambda b: b.cpu_quota(-3),
        lambda b: b.cpu_period(-1),
        lambda b: b.pids_limit("10"),  # type: ignore[arg-type]
    ]
    for call in calls:
        with pytest.raises(ConfigError):
            call(SpecBuilder.default())


def test_resources_generic_dict_and_model_merge() -> None:
    b = SpecBuilder.default().memory_limit(100).resources({"memory": {"swap": 200}, "cpu": {"cpus": "0-1"}})
    res = built(b)["linux"]["resources"]
    assert res["memory"] == {"limit": 100, "swap": 200}
    assert res["cpu"] == {"cpus": "0-1"}
    model = LinuxResources.model_validate({"pids": {"limit": 5}, "devices": []})
    res = built(SpecBuilder.default().resources(model))["linux"]["resources"]
    assert res["pids"] == {"limit": 5} and res["devices"] == []
    with pytest.raises(ConfigError, match="resources"):
        SpecBuilder.default().resources(42)


# --- seccomp ---------------------------------------------------------------------------------------


def test_seccomp_rules() -> None:
    b = (
        SpecBuilder.default()
        .seccomp_default("errno", errno_ret=38)
        .seccomp_architectures("x86_64", "SCMP_ARCH_X86")
        .seccomp_allow("read", "write")
        .seccomp_errno("mount", errno_ret=1)
        .seccomp_kill("ptrace")
        .seccomp_allow("exit")
    )
    seccomp = built(b)["linux"]["seccomp"]
    assert seccomp == {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 38,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [
            {"names": ["read", "write", "exit"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["mount"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
            {"names": ["ptrace"], "action": "SCMP_ACT_KILL"},
        ],
    }


def test_seccomp_last_action_wins_and_default_removes_redundant_rules() -> None:
    b = SpecBuilder.default().seccomp_kill("ptrace", "bpf").seccomp_allow("ptrace")
    rules = b.to_dict()["linux"]["seccomp"]["syscalls"]
    assert rules == [
        {"names": ["bpf"], "action": "SCMP_ACT_KILL"},
        {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW"},
    ]
    # Implicit default: allow (rules alone act as a deny list).
    assert b.to_dict()["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_ALLOW"
    seccomp = built(b.seccomp_default("allow"))["linux"]["seccomp"]
    assert seccomp["syscalls"] == [{"names": ["bpf"], "action": "SCMP_ACT_KILL"}]
    assert "seccomp" not in built(b.no_seccomp())["linux"]


def test_seccomp_errors() -> None:
    with pytest.raises(ConfigError, match="unknown seccomp action 'DENY'"):
        SpecBuilder.default().seccomp_default("DENY")
    with pytest.raises(ConfigError, match="invalid syscall name 'Read!'"):
        SpecBuilder.default().seccomp_allow("Read!")
    with pytest.raises(ConfigError, match="at least one syscall"):
        SpecBuilder.default().seccomp_kill()
    with pytest.raises(ConfigError, match="unknown seccomp action"):
        SpecBuilder.default().seccomp_rule("bogus", "read")


def test_seccomp_rules_with_args_are_left_alone() -> None:
    config = default_config()
    arg_rule = {
        "names": ["personality"],
        "action": "SCMP_ACT_ALLOW",
        "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}],
    }
    config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [arg_rule]}
    seccomp = built(SpecBuilder(config).seccomp_kill("personality").seccomp_default("allow"))["linux"]["seccomp"]
    assert seccomp["syscalls"][0] == arg_rule


# --- hooks -----------------------------------------------------------------------------------------


def test_hooks_all_kinds() -> None:
    b = SpecBuilder.default()
    for kind in ("prestart", "createRuntime", "create_container", "STARTCONTAINER", "poststart"):
        b.hook(kind, "/bin/true")
    b.hook("poststop", "/bin/rm", ["rm", "-f", "/x"], env=["A=1"], timeout=5)
    b.hook("poststop", "/bin/sync")
    hooks = built(b)["hooks"]
    assert list(hooks) == [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ]
    assert hooks["poststop"] == [
        {"path": "/bin/rm", "args": ["rm", "-f", "/x"], "env": ["A=1"], "timeout": 5},
        {"path": "/bin/sync"},
    ]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda b: b.hook("prestop", "/bin/true"), "unknown hook kind 'prestop'"),
        (lambda b: b.hook("poststop", "true"), "hook: path must be an absolute path"),
        (lambda b: b.hook("poststop", "/bin/true", timeout=0), "timeout must be a positive"),
        (lambda b: b.hook("poststop", "/bin/true", env=["NOEQ"]), "NAME=VALUE"),
    ],
)
def test_hook_errors(call: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        call(SpecBuilder.default())


# --- linux extras ----------------------------------------------------------------------------------


def test_sysctl_and_paths() -> None:
    b = SpecBuilder.default().sysctl("net.ipv4.ip_forward", "1").masked_paths("/proc/kcore").readonly_paths()
    linux = built(b)["linux"]
    assert linux["sysctl"] == {"net.ipv4.ip_forward": "1"}
    assert linux["maskedPaths"] == ["/proc/kcore"]
    assert linux["readonlyPaths"] == []
    with pytest.raises(ConfigError, match="masked_paths"):
        SpecBuilder.default().masked_paths("proc")


def test_extra_fields_survive() -> None:
    config = default_config()
    config["org.example.vendor"] = {"x": 1}
    config["linux"]["resources"]["unified"] = {"memory.high": "100M"}
    data = built(SpecBuilder(config).memory_limit(10))
    assert data["org.example.vendor"] == {"x": 1}
    assert data["linux"]["resources"]["unified"] == {"memory.high": "100M"}


def test_schema_helper_rejects_bad_configs() -> None:
    # Guard against a schema check that accepts everything (e.g. unresolved $refs).
    assert schema_errors({"ociVersion": "1.3.0", "process": {"cwd": 5}}) != []
    assert schema_errors(default_config()) == []


def test_example_generate_spec_runs(tmp_path: Path) -> None:
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run(
        [sys.executable, str(repo / "examples" / "generate_spec.py"), str(tmp_path / "bundle")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / "bundle" / "config.json").read_text())
    assert data["process"]["args"] == ["/bin/date", "-u"]
    assert schema_errors(data) == []
