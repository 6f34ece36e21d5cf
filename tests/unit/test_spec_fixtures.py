"""The OCI runtime-spec's own schema fixtures (schema/test/{config,state,features}/{good,bad}) and a
differential check against the JSON schema itself (when ``jsonschema`` is installed)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from oci_schema import SKIP_REASON, spec_dir, validator

from libcontainer_py.errors import ConfigError
from libcontainer_py.spec import Features, Spec, State
from libcontainer_py.spec._base import Document

SPEC_DIR = spec_dir()
DOCS: dict[str, type[Document]] = {"config": Spec, "state": State, "features": Features}
# Sections this runtime keeps as opaque dicts: their schema rules are not enforced.
NON_LINUX = frozenset({"windows", "solaris", "vm", "zos", "freebsd"})


def _fixtures(verdict: str) -> list[Any]:
    if SPEC_DIR is None:
        return [pytest.param(None, None, marks=pytest.mark.skip(reason=SKIP_REASON))]
    out = []
    for kind in DOCS:
        for path in sorted((SPEC_DIR / "schema" / "test" / kind / verdict).glob("*.json")):
            out.append(pytest.param(kind, path, id=f"{kind}/{path.name}"))
    return out


def _non_linux_sections(path: Path) -> set[str]:
    try:
        data = json.loads(path.read_text())
    except ValueError:
        return set()
    return set(NON_LINUX.intersection(data)) if isinstance(data, dict) else set()


@pytest.mark.parametrize(("kind", "path"), _fixtures("good"))
def test_good_fixture_round_trips(kind: str, path: Path) -> None:
    original = json.loads(path.read_text())
    doc = DOCS[kind].load(path)
    assert doc.to_dict() == original
    assert json.loads(doc.to_json()) == original
    # Key order is kept too, so save() after an edit gives a minimal diff.
    assert json.dumps(doc.to_dict()) == json.dumps(original)


# The JSON path each Linux bad fixture must be reported at (None: invalid JSON, reported by line).
EXPECTED_BAD = {
    "config/invalid-json.json": None,
    "config/linux-hugepage.json": "linux.resources.hugepageLimits[0].pageSize",
    "config/linux-netdevice.json": "linux.netDevices.eth0.name",
    "config/linux-rdma.json": "linux.resources.rdma.mlx5_1.hcaHandles",
    "state/invalid-json.json": None,
    "features/missing-ociVersionMax.json": "ociVersionMax",
}


@pytest.mark.parametrize(("kind", "path"), _fixtures("bad"))
def test_bad_fixture_is_rejected(kind: str, path: Path) -> None:
    sections = _non_linux_sections(path)
    if sections:
        pytest.skip(f"{sorted(sections)} kept as an opaque dict (this runtime is Linux-only)")
    with pytest.raises(ConfigError) as info:
        DOCS[kind].load(path)
    err = info.value
    message = str(err)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert err.source == str(path)
    key = f"{kind}/{path.name}"
    if path.name == "invalid-json.json":
        assert err.path is None
        assert "invalid JSON" in message and "line 1 column 2" in message
    else:
        assert err.path, message
        if key in EXPECTED_BAD:
            assert err.path == EXPECTED_BAD[key]
            assert f": {err.path}: " in message


@pytest.mark.skipif(SPEC_DIR is None, reason=SKIP_REASON)
def test_bad_hugepage_message() -> None:
    assert SPEC_DIR is not None
    path = SPEC_DIR / "schema/test/config/bad/linux-hugepage.json"
    with pytest.raises(ConfigError) as info:
        Spec.from_json(path.read_bytes(), source="config.json")
    assert str(info.value) == (
        "config.json: linux.resources.hugepageLimits[0].pageSize: must match ^[1-9][0-9]*[KMG]B$ (got '64kB')"
    )


# --- differential checks against the JSON schema --------------------------------------------------

SCHEMA_FILES = {
    "config": "config-schema.json",
    "state": "state-schema.json",
    "features": "features-schema.json",
}


@pytest.fixture(scope="module")
def validators() -> dict[str, Any]:
    return {kind: validator(file) for kind, file in SCHEMA_FILES.items()}


@pytest.mark.parametrize(("kind", "path"), _fixtures("good"))
def test_dump_validates_against_json_schema(kind: str, path: Path, validators: dict[str, Any]) -> None:
    dumped = DOCS[kind].load(path).to_dict()
    validators[kind].validate(dumped)


def _example() -> dict[str, Any]:
    assert SPEC_DIR is not None
    data: dict[str, Any] = json.loads((SPEC_DIR / "schema/test/config/good/spec-example.json").read_text())
    return data


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b[0].c`` in a nested dict (creating dicts on the way)."""
    parts: list[str | int] = []
    for piece in dotted.split("."):
        name, _, rest = piece.partition("[")
        parts.append(name)
        if rest:
            parts.append(int(rest.rstrip("]")))
    node: Any = data
    for part in parts[:-1]:
        node = node[part] if isinstance(part, int) or part in node else node.setdefault(part, {})
    node[parts[-1]] = value


# (JSON path to set, bad value, the path the error must name): each breaks one schema rule.
SCHEMA_VIOLATIONS: list[tuple[str, Any, str]] = [
    ("ociVersion", 1, "ociVersion"),
    ("process.terminal", "true", "process.terminal"),
    ("process.user.uid", -1, "process.user.uid"),
    ("process.user.gid", 2**32, "process.user.gid"),
    ("process.user.additionalGids", [5, "6"], "process.user.additionalGids[1]"),
    ("process.user.umask", 1.0, "process.user.umask"),
    ("process.consoleSize", {"height": 1}, "process.consoleSize.width"),
    ("process.rlimits[0].type", "rlimit_core", "process.rlimits[0].type"),
    ("process.rlimits[1].soft", -1, "process.rlimits[1].soft"),
    ("process.ioPriority", {"priority": 1}, "process.ioPriority.class"),
    ("process.ioPriority", {"class": "IOPRIO_CLASS_NONE"}, "process.ioPriority.class"),
    ("process.scheduler", {"policy": "SCHED_FOO"}, "process.scheduler.policy"),
    ("process.scheduler", {"policy": "SCHED_RR", "flags": ["X"]}, "process.scheduler.flags[0]"),
    ("process.execCPUAffinity", {"initial": "0-3,a"}, "process.execCPUAffinity.initial"),
    ("process.capabilities.bounding", "CAP_KILL", "process.capabilities.bounding"),
    ("process.oomScoreAdj", "100", "process.oomScoreAdj"),
    ("process.cwd", None, "process.cwd"),
    ("root", {"readonly": True}, "root.path"),
    ("mounts[0].destination", 5, "mounts[0].destination"),
    ("mounts[1].uidMappings", [{"containerID": 0, "hostID": 1}], "mounts[1].uidMappings[0].size"),
    ("hooks.poststart[0].timeout", 0, "hooks.poststart[0].timeout"),
    ("hooks.prestart[1]", {"args": []}, "hooks.prestart[1].path"),
    ("annotations", {"k": 1}, "annotations.k"),
    ("linux.namespaces[0].type", "pidns", "linux.namespaces[0].type"),
    ("linux.uidMappings[0].hostID", 2**32, "linux.uidMappings[0].hostID"),
    ("linux.devices[0].type", "x", "linux.devices[0].type"),
    ("linux.devices[0].fileMode", 512, "linux.devices[0].fileMode"),
    ("linux.devices[1].major", 2**63, "linux.devices[1].major"),
    ("linux.rootfsPropagation", "rprivate", "linux.rootfsPropagation"),
    ("linux.sysctl", {"net.ipv4.ip_forward": 1}, 'linux.sysctl["net.ipv4.ip_forward"]'),
    ("linux.resources.pids", {}, "linux.resources.pids.limit"),
    ("linux.resources.memory.swappiness", -1, "linux.resources.memory.swappiness"),
    ("linux.resources.memory.checkBeforeUpdate", 0, "linux.resources.memory.checkBeforeUpdate"),
    ("linux.resources.cpu.burst", -5, "linux.resources.cpu.burst"),
    ("linux.resources.cpu.idle", 1.5, "linux.resources.cpu.idle"),
    ("linux.resources.blockIO.weight", 65536, "linux.resources.blockIO.weight"),
    (
        "linux.resources.blockIO.weightDevice[0]",
        {"minor": 0},
        "linux.resources.blockIO.weightDevice[0].major",
    ),
    (
        "linux.resources.blockIO.throttleWriteIOPSDevice[0].rate",
        -1,
        "linux.resources.blockIO.throttleWriteIOPSDevice[0].rate",
    ),
    ("linux.resources.hugepageLimits[0]", {"pageSize": "2MB"}, "linux.resources.hugepageLimits[0].limit"),
    ("linux.resources.hugepageLimits[1].pageSize", "0MB", "linux.resources.hugepageLimits[1].pageSize"),
    ("linux.resources.network.classID", -1, "linux.resources.network.classID"),
    (
        "linux.resources.network.priorities[0]",
        {"name": "eth0"},
        "linux.resources.network.priorities[0].priority",
    ),
    ("linux.resources.rdma", {"mlx": {"hcaObjects": 2**32}}, "linux.resources.rdma.mlx.hcaObjects"),
    ("linux.resources.devices[1].allow", "yes", "linux.resources.devices[1].allow"),
    ("linux.resources.unified", {"memory.max": 5}, 'linux.resources.unified["memory.max"]'),
    ("linux.seccomp.defaultAction", "SCMP_ACT_FOO", "linux.seccomp.defaultAction"),
    ("linux.seccomp.defaultErrnoRet", -1, "linux.seccomp.defaultErrnoRet"),
    ("linux.seccomp.architectures[0]", "SCMP_ARCH_Z80", "linux.seccomp.architectures[0]"),
    ("linux.seccomp.flags", ["SECCOMP_FILTER_FLAG_NOPE"], "linux.seccomp.flags[0]"),
    ("linux.seccomp.syscalls[0].names", [], "linux.seccomp.syscalls[0].names"),
    ("linux.seccomp.syscalls[0].args", [{"index": 0, "value": 1}], "linux.seccomp.syscalls[0].args[0].op"),
    (
        "linux.seccomp.syscalls[0].args",
        [{"index": 0, "value": 1, "op": "SCMP_CMP_LIKE"}],
        "linux.seccomp.syscalls[0].args[0].op",
    ),
    ("linux.timeOffsets.monotonic.nanosecs", -1, "linux.timeOffsets.monotonic.nanosecs"),
    ("linux.intelRdt", {"memBwSchema": "L3:0=f"}, "linux.intelRdt.memBwSchema"),
    ("linux.memoryPolicy", {"mode": "MPOL_FOO"}, "linux.memoryPolicy.mode"),
    ("linux.memoryPolicy", {"flags": ["MPOL_F_FOO"]}, "linux.memoryPolicy.flags[0]"),
    ("linux.personality", {"domain": "LINUX64"}, "linux.personality.domain"),
    ("linux.netDevices", {"eth0": {"name": 23}}, "linux.netDevices.eth0.name"),
]


@pytest.mark.parametrize(("where", "value", "error_path"), SCHEMA_VIOLATIONS, ids=[v[0] for v in SCHEMA_VIOLATIONS])
def test_schema_violation_rejected_like_json_schema(
    where: str, value: Any, error_path: str, validators: dict[str, Any]
) -> None:
    data = _example()
    _set(data, where, value)
    # The harness is right only if the schema itself rejects the mutation.
    assert list(validators["config"].iter_errors(data)), f"schema accepts {where}={value!r}"
    with pytest.raises(ConfigError) as info:
        Spec.from_dict(data, source="config.json")
    assert info.value.path == error_path, str(info.value)


# Edge values the schema accepts; the models must too (and dump them unchanged).
SCHEMA_EDGES: list[tuple[str, Any]] = [
    ("process.rlimits[0].hard", 2**64 - 1),
    ("linux.resources.memory.limit", -1),
    ("linux.resources.memory.limit", 2**63 - 1),
    ("linux.resources.cpu.quota", -(2**63)),
    ("linux.devices[0].fileMode", 0o777),
    ("linux.resources.blockIO.weight", 65535),
    ("linux.uidMappings[0].size", 2**32 - 1),
    ("process.scheduler", {"policy": "SCHED_DEADLINE", "runtime": 1, "deadline": 2, "period": 3}),
    ("process.ioPriority", {"class": "IOPRIO_CLASS_IDLE"}),
    (
        "linux.intelRdt",
        {"closID": "g", "schemata": ["L3:0=f"], "memBwSchema": "MB:0=20", "enableMonitoring": True},
    ),
    (
        "linux.seccomp.syscalls[0].args",
        [{"index": 1, "value": 2**64 - 1, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
    ),
    ("linux.resources.hugepageLimits[0].pageSize", "1GB"),
]


@pytest.mark.parametrize(("where", "value"), SCHEMA_EDGES, ids=[v[0] for v in SCHEMA_EDGES])
def test_schema_edges_accepted(where: str, value: Any, validators: dict[str, Any]) -> None:
    data = _example()
    _set(data, where, value)
    validators["config"].validate(data)
    assert Spec.from_dict(copy.deepcopy(data)).to_dict() == data


@pytest.mark.parametrize(
    ("kind", "doc", "error_path"),
    [
        ("state", {"ociVersion": "1.3.0", "id": "c", "status": "paused", "bundle": "/b"}, "status"),
        ("state", {"ociVersion": "1.3.0", "id": "c", "status": "created", "bundle": "/b", "pid": -1}, "pid"),
        ("state", {"ociVersion": "1.3.0", "status": "created", "bundle": "/b"}, "id"),
        (
            "features",
            {"ociVersionMin": "1.0.0", "ociVersionMax": "1.3.0", "linux": {"namespaces": ["foo"]}},
            "linux.namespaces[0]",
        ),
        (
            "features",
            {"ociVersionMin": "1.0.0", "ociVersionMax": "1.3.0", "linux": {"capabilities": ["cap_kill"]}},
            "linux.capabilities[0]",
        ),
        (
            "features",
            {"ociVersionMin": "1.0.0", "ociVersionMax": "1.3.0", "linux": {"cgroup": {"v2": "yes"}}},
            "linux.cgroup.v2",
        ),
    ],
)
def test_state_features_violations(kind: str, doc: dict[str, Any], error_path: str, validators: dict[str, Any]) -> None:
    assert list(validators[kind].iter_errors(doc))
    with pytest.raises(ConfigError) as info:
        DOCS[kind].from_dict(doc)
    assert info.value.path == error_path


def test_python_built_spec_validates_against_json_schema(validators: dict[str, Any]) -> None:
    from libcontainer_py.spec import (
        OCI_VERSION,
        IDMapping,
        Linux,
        LinuxNamespace,
        LinuxSeccomp,
        Mount,
        NamespaceType,
        Process,
        Root,
        SeccompAction,
        User,
    )

    spec = Spec(
        oci_version=OCI_VERSION,
        root=Root(path="rootfs", readonly=True),
        process=Process(cwd="/", args=["sh"], user=User(uid=0, gid=0)),
        mounts=[Mount(destination="/proc", type="proc", source="proc")],
        linux=Linux(
            namespaces=[LinuxNamespace(type=NamespaceType.PID), LinuxNamespace(type=NamespaceType.USER)],
            uid_mappings=[IDMapping(container_id=0, host_id=1000, size=1)],
            seccomp=LinuxSeccomp(default_action=SeccompAction.ALLOW),
        ),
    )
    validators["config"].validate(spec.to_dict())
