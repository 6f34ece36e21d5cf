"""libcontainer_py.spec.fast, the pydantic-free validator, against the pydantic models it is derived from.

The rule under test: fast never accepts what pydantic rejects, and when it accepts, its objects are the
pydantic objects' twins (every attribute, recursively, with the same types: enum members, None, ints,
lists, dicts; the same extras, fields set and key order; the same repr and to_dict()). For JSON data
(what config.json holds) it must accept whenever pydantic does, too: nothing in the models is left to
pydantic today, and the mutation tests would show it.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from enum import Enum, IntEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oci_schema import SKIP_REASON, spec_dir
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from libcontainer_py._strenum import StrEnum
from libcontainer_py.errors import BundleError, ConfigError
from libcontainer_py.spec import (
    Hook,
    Hooks,
    IDMapping,
    Linux,
    LinuxDeviceCgroup,
    LinuxIOPriority,
    LinuxNamespace,
    LinuxResources,
    Mount,
    Process,
    Root,
    Spec,
    State,
    User,
    fast,
)
from libcontainer_py.spec._base import Int, OCIModel, Str
from libcontainer_py.spec._fast_gen import Unsupported, describe, python_pattern
from libcontainer_py.spec.builder import SpecBuilder
from libcontainer_py.spec.defaults import default_dict
from libcontainer_py.spec.enums import ContainerStatus, NamespaceType, SeccompAction

SPEC_DIR = spec_dir()
ROOT = Path(__file__).resolve().parents[2]
MODELS: dict[str, type[BaseModel]] = {"Spec": Spec, "State": State}
DIRS = {"Spec": "config", "State": "state"}


# --- comparing a fast object with a pydantic one ----------------------------------------------------


def assert_same(f: Any, p: Any, where: str = "") -> None:
    """``f`` (fast) is ``p`` (pydantic)'s twin, attribute by attribute, with the same types."""
    if isinstance(p, BaseModel):
        assert isinstance(f, fast.FastModel), f"{where}: {type(f).__name__} for a {type(p).__name__}"
        assert type(f).__name__ == type(p).__name__, where
        for name in type(p).model_fields:
            assert_same(getattr(f, name), getattr(p, name), f"{where}.{name}")
        assert list(f.__dict__) == list(p.__dict__), where
        assert f.model_fields_set == p.model_fields_set, where
        assert_same(f.model_extra, p.model_extra, f"{where}.<extra>")
        assert f._key_order == p._key_order, where
        for key in p.model_extra or {}:
            if not hasattr(type(p), key):  # an extra is an attribute, unless a class attribute shadows it
                assert_same(getattr(f, key), getattr(p, key), f"{where}.{key}")
    elif isinstance(p, list):
        assert type(f) is list, where
        assert len(f) == len(p), where
        for i, (a, b) in enumerate(zip(f, p, strict=True)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(p, dict):
        assert type(f) is dict, where
        assert list(f) == list(p), where
        for key in p:
            assert_same(f[key], p[key], f"{where}[{key!r}]")
    else:
        assert type(f) is type(p), f"{where}: {f!r} vs {p!r}"
        assert f == p or (f != f and p != p), f"{where}: {f!r} vs {p!r}"  # NaN equals nothing
        if isinstance(p, Enum | StrEnum):  # the spec's enums are libcontainer_py._strenum's
            assert f is p, where


def assert_twins(f: Any, p: BaseModel) -> None:
    """The whole comparison: attributes, repr, to_dict (key order included) and equality semantics."""
    assert_same(f, p)
    assert repr(f) == repr(p)
    assert f.to_dict() == p.to_dict()
    assert json.dumps(f.to_dict()) == json.dumps(p.to_dict())


def pydantic_or_none(model: type[BaseModel], data: Any) -> BaseModel | None:
    try:
        return model.model_validate(data)
    except ValidationError:
        return None


def check_differential(data: Any, model: str = "Spec", *, json_data: bool = True) -> None:
    """fast never accepts what pydantic rejects; if both accept, twins. For JSON data, fast must accept
    whenever pydantic does."""
    p = pydantic_or_none(getattr(sys.modules["libcontainer_py.spec"], model), data)
    f = fast.validate(data, model)
    if f is not None:
        assert p is not None, f"fast accepted what pydantic rejects: {data!r}"
        assert_twins(f, p)
    elif json_data:
        assert p is None, f"fast refused what pydantic accepts: {data!r}"


# --- the runtime-spec's fixtures --------------------------------------------------------------------


def _fixtures(verdict: str) -> list[Any]:
    if SPEC_DIR is None:
        return [pytest.param(None, None, marks=pytest.mark.skip(reason=SKIP_REASON))]
    return [
        pytest.param(model, path, id=f"{directory}/{path.name}")
        for model, directory in DIRS.items()
        for path in sorted((SPEC_DIR / "schema" / "test" / directory / verdict).glob("*.json"))
    ]


@pytest.mark.parametrize(("model", "path"), _fixtures("good"))
def test_good_fixture_is_accepted_and_equal(model: str, path: Path) -> None:
    p = MODELS[model].load(path)  # type: ignore[attr-defined]
    f = fast.load(path, model)
    assert f is not None
    assert_twins(f, p)
    assert f.to_dict() == json.loads(path.read_text())
    assert json.loads(f.to_json()) == json.loads(p.to_json())
    assert fast.from_json(path.read_bytes(), model) == f
    assert fast.build(p.to_dict(), model) == f


@pytest.mark.parametrize(("model", "path"), _fixtures("bad"))
def test_bad_fixture_is_refused(model: str, path: Path) -> None:
    try:
        data = json.loads(path.read_text())
    except ValueError:
        data = None
    if isinstance(data, dict) and {"windows", "solaris", "vm", "zos", "freebsd"} & set(data):
        pytest.skip("a non-Linux section, kept as an opaque dict by the models too")
    assert fast.load(path, model) is None
    assert fast.from_json(path.read_bytes(), model) is None


def test_load_of_a_bundle_directory_and_of_what_cannot_be_read(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(default_dict()))
    assert_twins(fast.load(tmp_path), Spec.load(tmp_path))
    assert fast.load(tmp_path / "missing.json") is None
    assert fast.load(tmp_path, "State") is None  # no state.json there
    assert fast.from_json(b"\xff\xfe{", "Spec") is None
    assert fast.from_json("[1]") is None
    with pytest.raises(ValueError, match="no spec model named 'Nope'"):
        fast.validate({}, "Nope")


# --- the configs this runtime itself makes ----------------------------------------------------------


@pytest.mark.parametrize("rootless", [False, True])
def test_default_spec(rootless: bool) -> None:
    p = Spec.default(rootless=rootless)
    f = fast.validate(default_dict(rootless))
    assert f is not None
    assert_twins(f, p)
    assert fast.build(p.to_dict()) == f


def _built_with_many_options() -> Spec:
    return (
        SpecBuilder.default(rootless=True)
        .args("sh", "-c", "echo hi")
        .env("A=1", B="2")
        .cwd("/srv")
        .terminal()
        .uid(1000)
        .gid(1000)
        .additional_gids(5, 6)
        .no_new_privileges()
        .add_capabilities("SYS_ADMIN", "CAP_NET_RAW")
        .drop_capabilities("KILL")
        .hostname("c1")
        .domainname("example.org")
        .annotation("com.example/key", "value")
        .readonly_rootfs()
        .bind_mount("/etc/hosts", "/etc/hosts", ["ro"])
        .tmpfs("/scratch")
        .add_namespace("network")
        .join_namespace("ipc", "/proc/1/ns/ipc")
        .uid_mapping(container_id=0, host_id=100000, size=65536)
        .gid_mapping(container_id=0, host_id=100000, size=65536)
        .rlimit("RLIMIT_NOFILE", 1024, 512)
        .memory_limit(64 << 20)
        .cpu_shares(512)
        .cpu_quota(50000, 100000)
        .pids_limit(64)
        .cgroups_path("/pyrunc/c1")
        .with_default_seccomp()
        .seccomp_errno("mount", "umount2", errno_ret=1)
        .hook("poststop", "/bin/rm", ["rm", "-f", "/tmp/x"], env=["A=1"], timeout=5)
        .hook("createRuntime", "/bin/true")
        .sysctl("net.ipv4.ip_forward", "1")
        .masked_paths("/proc/kcore", "/proc/keys")
        .readonly_paths("/proc/sys")
        .build()
    )


def test_spec_made_by_the_builder() -> None:
    built = _built_with_many_options()
    data = built.to_dict()
    assert data["linux"]["seccomp"]["syscalls"] and data["hooks"]["poststop"][0]["timeout"] == 5
    f = fast.validate(data)
    assert f is not None
    assert_twins(f, Spec.model_validate(data))
    assert f.to_dict() == data
    assert fast.build(data) == f


def test_busybox_bundle_config(tmp_path: Path) -> None:
    from libcontainer_py.bundle import make_busybox_bundle

    try:
        bundle = make_busybox_bundle(tmp_path / "bb", args=["date"])
    except BundleError as exc:
        pytest.skip(f"no busybox: {exc}")
    f = fast.load(bundle)
    assert f is not None
    assert_twins(f, Spec.load(bundle))


# --- the other models used on their own ---------------------------------------------------------------

PROCESS = {
    "terminal": False,
    "user": {"uid": 0, "gid": 0, "additionalGids": [10]},
    "args": ["sh", "-c", "id"],
    "env": ["PATH=/bin"],
    "cwd": "/",
    "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"]},
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    "noNewPrivileges": True,
    "oomScoreAdj": -500,
    "scheduler": {"policy": "SCHED_FIFO", "priority": 1, "flags": ["SCHED_FLAG_RESET_ON_FORK"]},
    "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 4},
    "execCPUAffinity": {"initial": "0-1", "final": "0"},
    "x-vendor": {"a": [1, None]},
}
RESOURCES = {
    "devices": [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 1, "minor": 3}],
    "memory": {"limit": -1, "swap": 2**62, "kernelTCP": 1, "disableOOMKiller": False, "checkBeforeUpdate": True},
    "cpu": {"shares": 1024, "quota": -1, "period": 100000, "cpus": "0-1", "idle": 0},
    "pids": {"limit": 0},
    "blockIO": {
        "weight": 10,
        "weightDevice": [{"major": 8, "minor": 0, "weight": 500}],
        "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 600}],
    },
    "hugepageLimits": [{"pageSize": "2MB", "limit": 0}],
    "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 1}]},
    "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}},
    "unified": {"memory.high": "max"},
}
STATE = {
    "ociVersion": "1.3.0",
    "id": "c1",
    "status": "running",
    "pid": 4422,
    "bundle": "/containers/c1",
    "annotations": {"a": "b"},
}


@pytest.mark.parametrize(
    ("model", "data"),
    [("Process", PROCESS), ("LinuxResources", RESOURCES), ("State", STATE), ("User", PROCESS["user"])],
)
def test_models_on_their_own(model: str, data: dict[str, Any]) -> None:
    f = fast.validate(data, model)
    assert f is not None
    assert type(f) is fast.model_class(model)
    p = getattr(sys.modules["libcontainer_py.spec"], model).model_validate(data)
    assert_twins(f, p)
    assert fast.build(p.to_dict(), model) == f


def test_state_values() -> None:
    f = fast.validate(STATE, "State")
    assert f is not None and f.status is ContainerStatus.RUNNING and f.pid == 4422
    for bad in ({**STATE, "status": "paused"}, {**STATE, "pid": -1}, {**STATE, "pid": True}, {"id": "x"}):
        check_differential(bad, "State")
        assert fast.validate(bad, "State") is None


# --- pydantic's behaviour, point by point -------------------------------------------------------------

MINIMAL = {"ociVersion": "1.3.0"}


@pytest.mark.parametrize(
    "data",
    [
        # strict ints: no bool, no float (even 0.0), no string; bounds of each width
        {"process": {"cwd": "/", "user": {"uid": True}}},
        {"process": {"cwd": "/", "user": {"uid": 0.0}}},
        {"process": {"cwd": "/", "user": {"uid": "0"}}},
        {"process": {"cwd": "/", "user": {"uid": -1}}},
        {"process": {"cwd": "/", "user": {"uid": 2**32}}},
        {"process": {"cwd": "/", "user": {"uid": 2**32 - 1}}},
        {"process": {"cwd": "/", "rlimits": [{"type": "RLIMIT_AS", "hard": 2**64 - 1, "soft": 0}]}},
        {"process": {"cwd": "/", "rlimits": [{"type": "RLIMIT_AS", "hard": 2**64, "soft": 0}]}},
        {"process": {"cwd": "/", "oomScoreAdj": -(2**70)}},
        {"linux": {"resources": {"memory": {"limit": -(2**63)}}}},
        {"linux": {"resources": {"memory": {"limit": -(2**63) - 1}}}},
        {"linux": {"devices": [{"type": "c", "path": "/dev/x", "fileMode": 512}]}},
        {"hooks": {"poststop": [{"path": "/x", "timeout": 0}]}},
        # strict str and bool
        {"hostname": 5},
        {"hostname": None},
        {"process": {"cwd": "/", "terminal": 1}},
        {"linux": {"sysctl": {"a": True}}},
        # patterns, as Rust's regex reads them: `$` is the end of the text, not before a final newline
        {"process": {"cwd": "/", "rlimits": [{"type": "RLIMIT_AS\n", "hard": 1, "soft": 1}]}},
        {"process": {"cwd": "/", "execCPUAffinity": {"initial": "0-3,7"}}},
        {"process": {"cwd": "/", "execCPUAffinity": {"initial": "0-3;7"}}},
        {"linux": {"intelRdt": {"memBwSchema": "MB:0=20\n"}}},
        {"linux": {"resources": {"hugepageLimits": [{"pageSize": "02MB", "limit": 1}]}}},
        # enums: the values only
        {"linux": {"namespaces": [{"type": "PID"}]}},
        {"linux": {"namespaces": [{"type": "pid", "path": None}]}},
        {"linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "x"}]}}},
        {"linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": []}]}}},
        {"linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": 1}]}}},
        # null on optional fields is "absent" (kept out of to_dict), on required ones an error
        {"process": None, "root": None, "linux": {"resources": None, "seccomp": None}},
        {"process": {"cwd": None}},
        {"process": {"args": ["sh"]}},
        # names next to aliases, unknown keys (also underscore ones), nulls in extras
        {"oci_version": "1.0.0"},
        {"oci_version": "1.0.0", "ociVersion": "1.3.0"},
        {"linux": {"cgroups_path": "b", "cgroupsPath": "a"}, "_x": 1, "x-null": None},
        {"linux": {"uid_mappings": [{"container_id": 0, "hostID": 1, "size": 1}]}},
        {"process": {"cwd": "/", "ioPriority": {"class_": "IOPRIO_CLASS_RT"}}},
        # containers: arrays and objects only
        {"mounts": {"destination": "/x"}},
        {"mounts": [{"destination": "/x"}, None]},
        {"annotations": []},
        {"annotations": {"a": None}},
        {"solaris": {"anything": [1, {"goes": None}]}, "windows": None},
        {"linux": {"timeOffsets": {"boottime": {"secs": -5, "nanosecs": 7}}}},
        {"linux": "nope"},
    ],
)
def test_point_by_point(data: dict[str, Any]) -> None:
    check_differential({**MINIMAL, **data} if "oci_version" not in data else data)


# Values the patterns of the models accept (the table's patterns are checked against pydantic elsewhere).
PATTERN_SAMPLES = ["RLIMIT_NOFILE", "0-1", "2MB", "MB:0=20", "CAP_KILL"]


def _sample(desc: tuple[Any, ...]) -> Any:
    """A valid JSON value for a type descriptor of the table."""
    kind = desc[0]
    if kind == "nullable":
        return _sample(desc[1])
    if kind == "int":
        return 0 if desc[2] is None or desc[2] <= 0 else desc[2]  # 0, or the lower bound (hook timeouts: 1)
    if kind == "str":
        return next(s for s in PATTERN_SAMPLES if re.search(desc[2], s)) if desc[2] else "x"
    if kind == "enum":
        return next(iter(getattr(sys.modules["libcontainer_py.spec"], desc[1]))).value
    if kind == "bool":
        return True
    if kind == "list":
        return [_sample(desc[1])] if desc[2] else []
    if kind == "dict":
        return {}
    if kind == "model":
        return _minimal(desc[1])
    raise AssertionError(desc)


def _minimal(model: str) -> dict[str, Any]:
    """The smallest valid document of ``model``: its required fields only."""
    info = fast._REGISTRY.models[model]
    return {alias or name: _sample(desc) for name, alias, _, desc, default in info["fields"] if default is None}


def _field_cases() -> list[Any]:
    cases = []
    for model, info in fast._REGISTRY.models.items():
        for name, alias, _, desc, _ in info["fields"]:
            key = alias or name
            values: list[Any] = [None, _sample(desc)]
            inner = desc[1] if desc[0] == "nullable" else desc
            if inner[0] == "int":
                ge, le = inner[2], inner[3]
                values += [True, False, 1.0, 0.0, "5", -(2**70), 2**70]
                values += [v for b in (ge, le) if b is not None for v in (b - 1, b, b + 1)]
            elif inner[0] in ("str", "enum"):
                values += [1, True, "", "\n", f"{_sample(inner)}\n"]  # Rust's `$`: not before a final newline
            elif inner[0] == "bool":
                values += [0, 1, "true"]
            elif inner[0] in ("list", "dict", "model"):
                values += [[], {}, [None], "x", 0]
            cases += [pytest.param(model, key, value, id=f"{model}.{key}={value!r}"[:80]) for value in values]
    return cases


@pytest.mark.parametrize(("model", "key", "value"), _field_cases())
def test_every_field_of_every_model(model: str, key: str, value: Any) -> None:
    """null, strict ints (no bool, float or string; each bound and one past it), strings, bools and
    containers, field by field: fast accepts exactly what pydantic accepts, with the same result."""
    check_differential({**_minimal(model), key: value}, model)


def test_not_a_dict_and_instances() -> None:
    for data in ([], "x", None, 1, (("ociVersion", "1"),)):
        assert fast.validate(data) is None
    f = fast.validate(MINIMAL)
    assert f is not None
    assert fast.validate(f) is f  # an instance is taken as it is, as pydantic takes its own
    process = fast.Process(cwd="/")
    spec = fast.Spec(oci_version="1", process=process)
    assert spec.process is process


# --- Python values pydantic converts: fast converts them the same way, or declines ---------------------


class _Width(IntEnum):
    EIGHTY = 80


class _Text(str):
    __slots__ = ()


@pytest.mark.parametrize(
    "data",
    [
        {"hostname": NamespaceType.PID},  # a StrEnum member in a str field: the plain str
        {"hostname": _Text("h")},
        {"process": {"cwd": "/", "consoleSize": {"height": _Width.EIGHTY, "width": 1}}},
        {"process": {"cwd": "/", "args": ("a", "b")}},  # a tuple for a list
        {"process": {"cwd": "/", "args": {"a"}}},  # a set: declined
        {"linux": {"namespaces": [{"type": _Text("pid")}]}},
        {"linux": {"namespaces": [{"type": b"pid"}]}},  # bytes for an enum: declined
        {"linux": {"namespaces": [{"type": SeccompAction.KILL}]}},
        {"annotations": {_Text("k"): "v"}},
        {"annotations": {b"k": "v"}},
        {"annotations": {1: "v"}},
        {"linux": {"sysctl": __import__("collections").OrderedDict(a="b")}},
        {1: "x"},
    ],
)
def test_python_values(data: dict[Any, Any]) -> None:
    check_differential({**MINIMAL, **data}, json_data=False)


# --- construction, assignment, copies, equality ---------------------------------------------------------


def test_keyword_construction_converts_like_pydantic() -> None:
    f = fast.LinuxDeviceCgroup(access="rwm", allow=True, type="c", major=1, minor=3)
    p = LinuxDeviceCgroup(access="rwm", allow=True, type="c", major=1, minor=3)
    assert_twins(f, p)
    assert list(f.to_dict()) == ["access", "allow", "type", "major", "minor"]  # the keywords' order
    f2 = fast.User(additional_gids=[1], uid=0, foo=None)
    assert_twins(f2, User(additional_gids=[1], uid=0, foo=None))
    assert f2.foo is None and f2.to_dict() == {"uid": 0, "foo": None, "additionalGids": [1]}
    nested_f = fast.Spec(
        oci_version="1.3.0",
        root=fast.Root(path="rootfs"),
        process=fast.Process(cwd="/", args=["sh"], io_priority=fast.LinuxIOPriority(class_="IOPRIO_CLASS_RT")),
        mounts=[fast.Mount(destination="/m", uid_mappings=[fast.IDMapping(container_id=0, host_id=1, size=2)])],
        hooks=fast.Hooks(start_container=[fast.Hook(path="/bin/true")]),
        linux=fast.Linux(namespaces=[fast.LinuxNamespace(type="pid")], cgroups_path="/a/b"),
    )
    nested_p = Spec(
        oci_version="1.3.0",
        root=Root(path="rootfs"),
        process=Process(cwd="/", args=["sh"], io_priority=LinuxIOPriority(class_="IOPRIO_CLASS_RT")),
        mounts=[Mount(destination="/m", uid_mappings=[IDMapping(container_id=0, host_id=1, size=2)])],
        hooks=Hooks(start_container=[Hook(path="/bin/true")]),
        linux=Linux(namespaces=[LinuxNamespace(type="pid")], cgroups_path="/a/b"),
    )
    assert_twins(nested_f, nested_p)
    assert nested_f.linux.namespaces[0].type is NamespaceType.PID
    assert fast.LinuxIDMapping is fast.IDMapping


def test_keyword_construction_errors() -> None:
    with pytest.raises(ConfigError, match=r"^Process: cwd: is required$"):
        fast.Process(args=["sh"])
    with pytest.raises(ConfigError, match=r"^LinuxDeviceCgroup: major: must be an integer \(got '1'\)$") as info:
        fast.LinuxDeviceCgroup(allow=True, major="1")
    assert info.value.path == "major"
    with pytest.raises(ConfigError, match=r"linux\.namespaces\[1\]\.type: must be one of 'mount', ") as info:
        fast.Spec(oci_version="1", linux={"namespaces": [{"type": "pid"}, {"type": "bogus"}]})
    with pytest.raises(ConfigError, match=r'annotations\["a\.b"\]: must be a string'):
        fast.Spec(oci_version="1", annotations={"a.b": 1})
    with pytest.raises(ConfigError, match="the fast path cannot check a frozenset"):
        fast.Process(cwd="/", args=frozenset())
    with pytest.raises(ConfigError, match=r"^Spec: linux\.resources\.hugepageLimits\[0\]\.pageSize: is required$"):
        fast.build({"ociVersion": "1", "linux": {"resources": {"hugepageLimits": [{"limit": 1}]}}})
    with pytest.raises(ConfigError, match="must be an object"):
        fast.build([], "Process")


def test_build_converts_without_checking() -> None:
    f = fast.build({"ociVersion": 1, "linux": {"namespaces": [{"type": "pid"}]}})
    assert f.oci_version == 1  # not checked: build() is for data already valid
    assert f.linux.namespaces[0].type is NamespaceType.PID
    data = {"ociVersion": "1", "process": {"cwd": "/", "args": ["a"]}}
    built = fast.build(data)
    assert built.process.args == ["a"] and built.process.args is not data["process"]["args"]  # type: ignore[index]


def test_assignment_marks_fields_set_and_unknown_names_become_extras() -> None:
    f = fast.from_json('{"root": {"readonly": true, "path": "r"}, "ociVersion": "1.0.0"}')
    p = Spec.from_json('{"root": {"readonly": true, "path": "r"}, "ociVersion": "1.0.0"}')
    assert f is not None
    for obj in (f, p):
        obj.hostname = "h"
        obj.x_custom = [1]
        obj.root.readonly = None
        obj._private_note = "kept out of to_dict"
    assert_twins(f, p)
    assert list(f.to_dict()) == ["root", "ociVersion", "hostname", "x_custom"]
    assert f.to_dict()["root"] == {"path": "r"}
    with pytest.raises(AttributeError, match="'Spec' object has no attribute 'nope'"):
        _ = f.nope


def test_model_copy_and_copy_module() -> None:
    data = {"devices": [{"allow": False}], "memory": {"limit": 1, "x": [1]}, "pids": {"limit": 5}}
    f = fast.validate(data, "LinuxResources")
    p = LinuxResources.model_validate(data)
    assert f is not None
    for update in (None, {"pids": None}, {"memory": None, "blockIO": 1, "extra_key": {"a": 1}}):
        for deep in (False, True):
            fc, pc = f.model_copy(update=update, deep=deep), p.model_copy(update=update, deep=deep)
            assert_twins(fc, pc)
            assert (fc.devices is f.devices) is (pc.devices is p.devices)
            assert (fc.memory is f.memory) is (pc.memory is p.memory)
    nested_f = f.model_copy(update={"memory": f.memory.model_copy(update={"check_before_update": True})})
    nested_p = p.model_copy(update={"memory": p.memory.model_copy(update={"check_before_update": True})})  # type: ignore[union-attr]
    assert_twins(nested_f, nested_p)
    assert_twins(copy.copy(f), copy.copy(p))
    assert_twins(copy.deepcopy(f), copy.deepcopy(p))
    deep = copy.deepcopy(f)
    deep.memory.x.append(2)
    assert f.memory.x == [1]


def test_first_use_from_many_threads() -> None:
    """Classes and checks are made on first use: threads racing there get one class per name and a
    complete check (never one still being compiled: without the lock, most trials fail here)."""
    import threading

    from libcontainer_py.spec._fast_table import TABLE

    doc = _built_with_many_options().to_dict()
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        for _ in range(10):
            registry = fast._Registry(TABLE)
            barrier = threading.Barrier(8)
            results: list[Any] = []

            def work(registry: Any = registry, barrier: Any = barrier, results: list[Any] = results) -> None:
                barrier.wait()
                results.append(registry.validate(doc, "Spec"))

            threads = [threading.Thread(target=work) for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert len(results) == 8 and all(r is not None and r == results[0] for r in results)
            assert {type(r.linux.namespaces[0]) for r in results} == {registry.model_class("LinuxNamespace")}
    finally:
        sys.setswitchinterval(interval)


def test_equality_is_pydantics() -> None:
    a = fast.validate({"ociVersion": "1", "process": {"cwd": "/"}})
    b = fast.validate({"process": {"cwd": "/"}, "ociVersion": "1"})
    pa = Spec.model_validate({"ociVersion": "1", "process": {"cwd": "/"}})
    pb = Spec.model_validate({"process": {"cwd": "/"}, "ociVersion": "1"})
    assert (a == b) is (pa == pb) is False  # the key order is part of it (a private attribute)
    assert a == fast.validate({"ociVersion": "1", "process": {"cwd": "/"}})
    assert a != fast.validate({"ociVersion": "1", "process": {"cwd": "/"}, "x": 1})
    assert a != pa  # a fast object is not a pydantic one
    assert (fast.Root(path="r") == fast.Mount(destination="r")) is False
    with pytest.raises(TypeError):
        hash(a)


# --- mutations of good configs: never more accepting than pydantic, and twins when both accept ------

_VALUES = st.one_of(
    st.sampled_from(
        [
            None,
            True,
            False,
            0,
            1,
            -1,
            511,
            512,
            2**15,
            2**16,
            2**31 - 1,
            2**31,
            -(2**31) - 1,
            2**32,
            2**63,
            -(2**63) - 1,
            2**64 - 1,
            2**64,
            0.0,
            1.5,
            float("nan"),
            "",
            "5",
            "pid",
            "SCMP_ACT_ALLOW",
            "RLIMIT_NOFILE",
            "2MB",
            "0-3",
            "/x",
            [],
            {},
            ["a"],
            [1],
            [{}],
            {"a": "b"},
            {"a": 1},
        ]
    ),
    st.integers(),
    st.text(max_size=4),
)
_KEYS = st.one_of(
    st.sampled_from(["oci_version", "ociVersion", "cgroups_path", "uid_mappings", "class_", "_x", "x-new", ""]),
    st.text(max_size=6),
)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*path, i))
    return out


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def _mutate(draw: Any, doc: Any) -> Any:
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(doc)))
        parent, last = (None, None) if not path else (_get(doc, path[:-1]), path[-1])
        node = _get(doc, path)
        kind = draw(st.sampled_from(["replace", "replace", "delete", "add", "rename", "wrap"]))
        # (copies: a drawn [] or {} is shared with later examples, and a later mutation may change it)
        if kind == "replace" and parent is not None:
            parent[last] = copy.deepcopy(draw(_VALUES))
        elif kind == "delete" and isinstance(parent, dict):
            del parent[last]
        elif kind == "add" and isinstance(node, dict):
            node[draw(_KEYS)] = copy.deepcopy(draw(_VALUES))
        elif kind == "rename" and isinstance(parent, dict) and isinstance(last, str):
            parent[_snake(last)] = parent.pop(last)
        elif kind == "wrap" and parent is not None:
            parent[last] = [node]
    return doc


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _bases() -> list[tuple[str, Any]]:
    bases: list[tuple[str, Any]] = [
        ("Spec", default_dict()),
        ("Spec", default_dict(rootless=True)),
        ("Spec", _built_with_many_options().to_dict()),
        ("Spec", {**MINIMAL, "process": PROCESS, "linux": {"resources": RESOURCES}}),
        ("Process", PROCESS),
        ("LinuxResources", RESOURCES),
        ("State", STATE),
    ]
    if SPEC_DIR is not None:
        for model, directory in DIRS.items():
            for path in sorted((SPEC_DIR / "schema" / "test" / directory / "good").glob("*.json")):
                bases.append((model, json.loads(path.read_text())))
    return bases


BASES = _bases()


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_configs(data: st.DataObject) -> None:
    model, base = data.draw(st.sampled_from(BASES))
    doc = _mutate(data.draw, base)
    p = pydantic_or_none(getattr(sys.modules["libcontainer_py.spec"], model), doc)
    f = fast.validate(doc, model)
    if f is None:
        assert p is None, f"fast refused what pydantic accepts: {doc!r}"
    else:
        assert p is not None, f"fast accepted what pydantic rejects: {doc!r}"
        assert_twins(f, p)


# --- the generator: freshness, and features the spec models do not use (yet) ------------------------


def test_table_is_fresh() -> None:
    env = {**os.environ, "LIBCONTAINER_PY_CACHE_DIR": "0"}
    result = subprocess.run(
        [sys.executable, "-m", "libcontainer_py.spec._fast_gen", "--check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_table_covers_every_model_and_leaves_nothing_to_pydantic() -> None:
    from libcontainer_py.spec._fast_table import TABLE

    reachable: set[str] = set()

    def walk(annotation: Any) -> None:
        model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        if model and annotation.__name__ not in reachable:
            reachable.add(annotation.__name__)
            for field in annotation.model_fields.values():
                walk(field.annotation)
        for arg in getattr(annotation, "__args__", ()):
            walk(arg)

    walk(Spec)
    walk(State)
    assert set(TABLE["models"]) == reachable
    assert len(reachable) > 30
    text = json.dumps(TABLE)
    assert '"unsupported", ' not in text.replace('"unsupported": null', "")
    assert all(info["unsupported"] is None for info in TABLE["models"].values())


def test_import_does_not_load_pydantic(tmp_path: Path) -> None:
    if SPEC_DIR is None:
        pytest.skip(SKIP_REASON)
    code = (
        "import sys\n"
        "from libcontainer_py.spec import fast\n"
        f"spec = fast.load({str(SPEC_DIR / 'schema/test/config/good/spec-example.json')!r})\n"
        "assert spec is not None and spec.to_json()\n"
        "assert fast.validate({'ociVersion': '1', 'process': {'cwd': 1}}) is None\n"
        "assert fast.validate({'cwd': '/'}, 'Process') is not None\n"
        'assert fast.from_json(\'{"ociVersion": "1", "id": "c", "status": "created", "bundle": "/b"}\','
        " 'State') is not None\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('pydantic', 'pydantic_core', 'typing_extensions')]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_python_pattern() -> None:
    assert python_pattern(r"^RLIMIT_[A-Z]+$") == r"^RLIMIT_[A-Z]+\Z"
    assert python_pattern(r"^MB:[^\n]*$") == r"^MB:[^\n]*\Z"
    assert python_pattern("ab") == "ab"
    for pattern in (r"^a(b|c)$", r"^\d+$", r"^a$|^b$", "^a.b$"):
        with pytest.raises(Unsupported):
            python_pattern(pattern)


def _toy_models() -> dict[str, type[OCIModel]]:
    """Models using what the spec models do not (in a function: _cache.py does not cache local classes)."""

    class Child(OCIModel):
        model_config = ConfigDict(extra="forbid", validate_by_name=False)
        some_value: Int = Field(alias="someValue")

    class Checked(OCIModel):
        name: Str

        @field_validator("name")
        @classmethod
        def _not_empty(cls, value: str) -> str:
            if not value:
                raise ValueError("empty")
            return value

    class AfterValidated(OCIModel):
        n: Int | None = None

        @model_validator(mode="after")
        def _check(self) -> AfterValidated:
            return self

    class Toy(OCIModel):
        lit: Literal["a", "b", 3] | None = None
        ratio: float = 1.5
        strict_ratio: Annotated[float, Field(strict=True, ge=0)] | None = None
        either: Annotated[int, Field(strict=True)] | Annotated[str, Field(strict=True)] | None = None
        ns_or_names: NamespaceType | list[Str] | None = None
        int_or_float: Annotated[int, Field(strict=True)] | Annotated[float, Field(strict=True)] | None = None
        items: list[Int] = Field(default_factory=list)
        table: dict[str, Int] = Field(default_factory=dict)
        mutable: list[Int] = [1, 2]
        ns: NamespaceType = NamespaceType.PID
        small: Annotated[int, Field(strict=True, gt=0, lt=10)] | None = None
        short: Annotated[str, Field(strict=True, min_length=2, max_length=4)] | None = None
        pair: Annotated[list[Int], Field(max_length=2)] | None = None
        even: Annotated[int, Field(strict=True, multiple_of=2)] | None = None
        pattern: Annotated[str, Field(strict=True, pattern=r"^a(b|c)$")] | None = None
        pair_tuple: tuple[int, int] | None = None
        checked: Checked | None = None
        after: AfterValidated | None = None
        child: Child | None = None

    return {cls.__name__: cls for cls in (Toy, AfterValidated, Checked, Child)}


Toys = tuple[dict[str, type[OCIModel]], Any]


@pytest.fixture(scope="module")
def toys() -> Toys:
    models = _toy_models()
    registry = fast._Registry(describe((models["Toy"], models["AfterValidated"])))
    return models, registry


def test_toy_table(toys: Toys) -> None:
    _models, registry = toys
    info = registry.models
    assert set(info) == {"Toy", "AfterValidated", "Checked", "Child"}
    fields = {f[0]: f for f in info["Toy"]["fields"]}
    assert fields["even"][3] == ("nullable", ("unsupported", "int schema with ['multiple_of']"))
    assert fields["pattern"][3][1][0] == "unsupported"
    assert fields["pair_tuple"][3][1][0] == "unsupported"
    assert fields["small"][3] == ("nullable", ("int", True, 1, 9))
    assert fields["items"][4] == ("factory", "list") and fields["ns"][4] == ("enum", "NamespaceType", "pid")
    assert "validator other than OCIModel's" in info["AfterValidated"]["unsupported"]
    assert info["Checked"]["fields"][0][3][0] == "unsupported"
    assert info["Child"]["extra"] == "forbid" and info["Child"]["by_name"] is False


def _toy_check(toys: Toys, model: str, data: Any) -> Any:
    models, registry = toys
    p = pydantic_or_none(models[model], data)
    f = registry.validate(data, model)
    if f is not None:
        assert p is not None, f"fast accepted what pydantic rejects: {data!r}"
        assert_twins(f, p)
    return f, p


@pytest.mark.parametrize(
    ("data", "fast_accepts"),
    [
        ({}, True),
        ({"lit": "a"}, True),
        ({"lit": 3}, True),
        ({"lit": 3.0}, False),  # pydantic takes it as 3: left to pydantic
        ({"lit": "c"}, False),
        ({"ratio": 2}, True),
        ({"ratio": True}, False),
        ({"strict_ratio": 2}, True),
        ({"strict_ratio": -0.5}, False),
        ({"strict_ratio": float("inf")}, False),
        ({"either": 1}, True),
        ({"either": "x"}, True),
        ({"either": True}, False),
        ({"ns_or_names": "pid"}, True),  # a list choice surely rejects a str: the enum's
        ({"ns_or_names": ["pid"]}, True),
        ({"ns_or_names": "nope"}, False),
        ({"int_or_float": 1}, False),  # both choices take an int: which one pydantic picks is left to it
        ({"int_or_float": 1.5}, True),
        ({"items": [1], "table": {"a": 1}}, True),
        ({"small": 9}, True),
        ({"small": 10}, False),
        ({"short": "abcd"}, True),
        ({"short": "a"}, False),
        ({"pair": [1, 2, 3]}, False),
        ({"even": 2}, False),  # unsupported: declined even when valid
        ({"even": None}, True),
        ({"pattern": "ab"}, False),
        ({"pair_tuple": [1, 2]}, False),
        ({"checked": {"name": "x"}}, False),
        ({"after": {"n": 1}}, False),
        ({"child": {"someValue": 1}}, True),
        ({"child": {"some_value": 1}}, False),  # validate_by_name=False
        ({"child": {"someValue": 1, "other": 2}}, False),  # extra="forbid"
        ({"ns": "user", "x": 1}, True),
    ],
)
def test_toy_models(toys: Toys, data: dict[str, Any], fast_accepts: bool) -> None:
    f, p = _toy_check(toys, "Toy", data)
    assert (f is not None) is fast_accepts, (f, p)


def test_toy_defaults_are_fresh_copies(toys: Toys) -> None:
    _models, registry = toys
    a, b = registry.validate({}, "Toy"), registry.validate({}, "Toy")
    assert a.mutable == [1, 2] and a.mutable is not b.mutable and a.items is not b.items
    assert a.ns is NamespaceType.PID and a.to_dict() == {}
    assert registry.validate({"n": 1}, "AfterValidated") is None
    with pytest.raises(ConfigError, match="cannot check AfterValidated"):
        registry.build({}, "AfterValidated")


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                *("lit", "ratio", "strict_ratio", "either", "ns_or_names", "int_or_float", "items", "table"),
                *("small", "short", "pair", "even", "child", "ns", "mutable", "extra"),
            ]
        ),
        st.one_of(_VALUES, st.floats(), st.lists(_VALUES, max_size=3), st.just({"someValue": 1})),
        max_size=5,
    )
)
def test_toy_mutations(toys: Toys, data: dict[str, Any]) -> None:
    _toy_check(toys, "Toy", data)


def _rejected_at(model: type[BaseModel], key: str, value: Any) -> bool:
    try:
        model.model_validate({key: value})
    except ValidationError as exc:
        return any(error["loc"][:1] == (key,) for error in exc.errors())
    return False


def test_what_fast_says_pydantic_rejects_it_rejects(toys: Toys) -> None:
    """The claims unions and messages rely on (fast._rejects): pydantic rejects every value of each JSON
    type listed, for every field of the spec models and of the test models."""
    samples = {type(None): None, bool: True, int: 1, float: 1.5, str: "pid", list: [1], dict: {"a": 1}}
    toy_models, registry = toys
    spec_models = {name: getattr(sys.modules["libcontainer_py.spec"], name) for name in fast._REGISTRY.names}
    checked = 0
    for models, reg in ((spec_models, fast._REGISTRY), (toy_models, registry)):
        for name, info in reg.models.items():
            for field, alias, _, desc, _ in info["fields"]:
                for kind in fast._rejects(desc):
                    assert _rejected_at(models[name], alias or field, samples[kind]), (name, field, kind)
                    checked += 1
    assert checked > 1000


def test_fast_classes_mirror_the_model_names() -> None:
    assert set(fast._REGISTRY.names) <= set(dir(fast))
    for name in fast._REGISTRY.names:
        model = getattr(sys.modules["libcontainer_py.spec"], name)
        cls = getattr(fast, name)
        assert cls is fast.model_class(name) and isinstance(cls, type) and issubclass(cls, fast.FastModel)
        assert cls.__name__ == model.__name__
        assert cls._field_names == set(model.model_fields)
