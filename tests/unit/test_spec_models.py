"""The spec models' Python API: names, aliases, round trips, strictness, loading/saving and errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

import libcontainer_py.spec as spec_pkg
from libcontainer_py.errors import ConfigError
from libcontainer_py.spec import (
    CAPABILITIES,
    ContainerStatus,
    Features,
    Hook,
    Hooks,
    IDMapping,
    Linux,
    LinuxIOPriority,
    LinuxNamespace,
    LinuxResources,
    Mount,
    NamespaceType,
    Process,
    Root,
    SeccompAction,
    Spec,
    State,
)
from libcontainer_py.spec._base import json_path

REPO = Path(__file__).resolve().parents[2]

FULL: dict[str, Any] = {
    "ociVersion": "1.3.0",
    "process": {
        "terminal": False,
        "consoleSize": {"height": 24, "width": 80},
        "user": {"uid": 1000, "gid": 1000, "umask": 18, "additionalGids": [5], "username": "me"},
        "args": ["sh", "-c", "true"],
        "commandLine": "sh -c true",
        "env": ["PATH=/bin"],
        "cwd": "/",
        "capabilities": {"bounding": ["CAP_KILL"], "ambient": []},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
        "apparmorProfile": "p",
        "oomScoreAdj": -500,
        "scheduler": {"policy": "SCHED_RR", "priority": 10, "flags": ["SCHED_FLAG_RESET_ON_FORK"]},
        "selinuxLabel": "l",
        "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 4},
        "execCPUAffinity": {"initial": "0", "final": "0-3"},
    },
    "root": {"path": "rootfs", "readonly": True},
    "mounts": [
        {
            "destination": "/data",
            "source": "/srv",
            "type": "bind",
            "options": ["rbind", "idmap"],
            "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
            "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
        }
    ],
    "hooks": {"createRuntime": [{"path": "/bin/hook", "args": ["hook"], "env": ["A=1"], "timeout": 3}]},
    "linux": {
        "namespaces": [{"type": "user"}, {"type": "network", "path": "/run/netns/blue"}],
        "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
        "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
        "resources": {
            "memory": {"limit": -1, "kernelTCP": -1, "disableOOMKiller": True, "checkBeforeUpdate": True},
            "cpu": {"burst": 10, "idle": 1, "realtimeRuntime": 5},
            "blockIO": {
                "weightDevice": [{"major": 8, "minor": 0, "weight": 500, "leafWeight": 300}],
                "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 100}],
            },
            "network": {"classID": 1048577},
            "rdma": {"mlx5_1": {"hcaHandles": 3}},
            "unified": {"memory.high": "max"},
        },
        "seccomp": {
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 1,
            "listenerPath": "/run/seccomp.sock",
            "listenerMetadata": "m",
            "flags": ["SECCOMP_FILTER_FLAG_LOG"],
            "syscalls": [
                {
                    "names": ["personality"],
                    "action": "SCMP_ACT_ALLOW",
                    "errnoRet": 0,
                    "args": [{"index": 0, "value": 255, "valueTwo": 8, "op": "SCMP_CMP_MASKED_EQ"}],
                }
            ],
        },
        "intelRdt": {"closID": "gold", "l3CacheSchema": "L3:0=f", "enableCMT": True, "enableMBM": False},
        "memoryPolicy": {"mode": "MPOL_BIND", "nodes": "0-1", "flags": ["MPOL_F_STATIC_NODES"]},
        "personality": {"domain": "LINUX32"},
    },
}


def test_snake_case_access() -> None:
    spec = Spec.from_dict(FULL)
    assert spec.oci_version == "1.3.0"
    assert spec.process is not None and spec.linux is not None
    assert spec.process.console_size is not None and spec.process.console_size.width == 80
    assert spec.process.user is not None and spec.process.user.additional_gids == [5]
    assert spec.process.no_new_privileges is True
    assert spec.process.oom_score_adj == -500
    assert spec.process.io_priority is not None and spec.process.io_priority.class_ == "IOPRIO_CLASS_BE"
    assert spec.process.exec_cpu_affinity is not None and spec.process.exec_cpu_affinity.final == "0-3"
    assert spec.linux.uid_mappings is not None
    assert spec.linux.uid_mappings[0].container_id == 0 and spec.linux.uid_mappings[0].host_id == 100000
    res = spec.linux.resources
    assert res is not None and res.memory is not None and res.block_io is not None and res.network is not None
    assert res.memory.kernel_tcp == -1 and res.memory.disable_oom_killer and res.memory.check_before_update
    assert res.block_io.weight_device is not None and res.block_io.weight_device[0].leaf_weight == 300
    assert res.block_io.throttle_read_iops_device is not None
    assert res.network.class_id == 1048577
    assert res.rdma is not None and res.rdma["mlx5_1"].hca_handles == 3
    assert spec.linux.intel_rdt is not None
    assert spec.linux.intel_rdt.clos_id == "gold" and spec.linux.intel_rdt.enable_cmt is True
    assert spec.linux.intel_rdt.l3_cache_schema == "L3:0=f"
    assert spec.linux.seccomp is not None and spec.linux.seccomp.syscalls is not None
    assert spec.linux.seccomp.syscalls[0].args is not None
    assert spec.linux.seccomp.syscalls[0].args[0].value_two == 8
    assert spec.hooks is not None and spec.hooks.create_runtime is not None
    assert spec.hooks.create_runtime[0].timeout == 3
    assert spec.to_dict() == FULL


def test_enums_compare_as_strings() -> None:
    spec = Spec.from_dict(FULL)
    assert spec.linux is not None and spec.linux.namespaces is not None
    ns = spec.linux.namespaces[0]
    assert ns.type is NamespaceType.USER
    assert str(ns.type) == "user" and ns.type == NamespaceType("user")
    assert spec.linux.seccomp is not None and spec.linux.seccomp.default_action == SeccompAction.ERRNO


def test_build_with_snake_case_dumps_aliases() -> None:
    spec = Spec(
        oci_version="1.3.0",
        root=Root(path="rootfs"),
        process=Process(cwd="/", args=["sh"], io_priority=LinuxIOPriority(class_="IOPRIO_CLASS_RT")),
        mounts=[Mount(destination="/m", uid_mappings=[IDMapping(container_id=0, host_id=1, size=2)])],
        hooks=Hooks(start_container=[Hook(path="/bin/true")]),
        linux=Linux(
            namespaces=[LinuxNamespace(type=NamespaceType.PID)],
            cgroups_path="/a/b",
            resources=LinuxResources.model_validate({"blockIO": {"weight": 10}}),
        ),
    )
    assert spec.to_dict() == {
        "ociVersion": "1.3.0",
        "root": {"path": "rootfs"},
        "process": {"cwd": "/", "args": ["sh"], "ioPriority": {"class": "IOPRIO_CLASS_RT"}},
        "mounts": [{"destination": "/m", "uidMappings": [{"containerID": 0, "hostID": 1, "size": 2}]}],
        "hooks": {"startContainer": [{"path": "/bin/true"}]},
        "linux": {
            "namespaces": [{"type": "pid"}],
            "cgroupsPath": "/a/b",
            "resources": {"blockIO": {"weight": 10}},
        },
    }


def test_aliases_and_names_both_accepted_on_input() -> None:
    a = Spec.from_dict({"ociVersion": "1", "linux": {"uidMappings": [{"containerID": 1, "hostID": 2, "size": 3}]}})
    b = Spec.from_dict({"oci_version": "1", "linux": {"uid_mappings": [{"container_id": 1, "host_id": 2, "size": 3}]}})
    assert a.to_dict() == b.to_dict()


def test_unknown_fields_round_trip_at_every_level() -> None:
    data = {
        "ociVersion": "1.3.0",
        "x-top": {"nested": [1, 2.5, None, True]},
        "process": {"cwd": "/", "args": ["sh"], "x-proc": "v", "user": {"uid": 0, "x-user": 1}},
        "linux": {
            "namespaces": [{"type": "pid", "x-ns": None}],
            "resources": {"cpu": {"shares": 2, "x-future": 1.5}, "x-res": []},
            "futureSection": {"a": 1},
        },
        "windows": {"layerFolders": ["C:\\l"], "hyperv": {}},
        "vm": {"hypervisor": {"path": "/h"}},
    }
    spec = Spec.from_json(json.dumps(data))
    assert spec.to_dict() == data
    assert spec.model_extra == {"x-top": {"nested": [1, 2.5, None, True]}}
    assert json.dumps(spec.to_dict()) == json.dumps(data)  # key order too


def test_key_order_preserved_and_new_fields_appended() -> None:
    spec = Spec.from_json('{"root": {"readonly": true, "path": "r"}, "ociVersion": "1.0.0"}')
    spec.hostname = "h"
    assert list(spec.to_dict()) == ["root", "ociVersion", "hostname"]
    assert list(spec.to_dict()["root"]) == ["readonly", "path"]


def test_none_means_absent_on_dump() -> None:
    spec = Spec.from_dict(FULL)
    assert spec.linux is not None
    spec.linux.seccomp = None
    spec.process = None
    out = spec.to_dict()
    assert "process" not in out and "seccomp" not in out["linux"]


def test_numbers_and_bools_keep_their_type() -> None:
    out = Spec.from_dict(FULL).to_dict()
    assert out["root"]["readonly"] is True
    assert type(out["process"]["user"]["uid"]) is int
    assert out["linux"]["resources"]["memory"]["limit"] == -1


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ({"ociVersion": "1", "process": {"cwd": "/", "user": {"uid": "0"}}}, "process.user.uid"),
        ({"ociVersion": "1", "process": {"cwd": "/", "user": {"uid": True}}}, "process.user.uid"),
        ({"ociVersion": "1", "process": {"cwd": "/", "user": {"uid": 0.0}}}, "process.user.uid"),
        ({"ociVersion": "1", "process": {"cwd": "/", "terminal": 1}}, "process.terminal"),
        ({"ociVersion": "1", "hostname": 5}, "hostname"),
        ({"ociVersion": "1", "linux": {"sysctl": {"a": True}}}, "linux.sysctl.a"),
    ],
)
def test_no_type_coercion(doc: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigError) as info:
        Spec.from_dict(doc)
    assert info.value.path == path


def test_uint64_max_round_trips() -> None:
    doc = {
        "ociVersion": "1",
        "process": {"cwd": "/", "rlimits": [{"type": "RLIMIT_AS", "hard": 2**64 - 1, "soft": 0}]},
    }
    assert Spec.from_json(json.dumps(doc)).to_dict() == doc
    doc["process"]["rlimits"][0]["hard"] = 2**64  # type: ignore[index]
    with pytest.raises(ConfigError, match=r"process\.rlimits\[0\]\.hard: must be <= 18446744073709551615"):
        Spec.from_dict(doc)


# --- ConfigError messages ---------------------------------------------------------------------------


def test_error_message_format() -> None:
    doc = {"ociVersion": "1", "linux": {"namespaces": [{"type": "pid"}, {"type": "bogus"}]}}
    with pytest.raises(ConfigError) as info:
        Spec.from_dict(doc, source="bundle/config.json")
    err = info.value
    assert err.source == "bundle/config.json" and err.path == "linux.namespaces[1].type"
    assert str(err).startswith("bundle/config.json: linux.namespaces[1].type: must be one of 'mount', ")
    assert str(err).endswith("(got 'bogus')")
    assert err.__cause__ is None and err.__suppress_context__  # no pydantic traceback attached


def test_error_counts_the_others() -> None:
    doc = {"ociVersion": 1, "hostname": 2, "root": {}}
    with pytest.raises(ConfigError) as info:
        Spec.from_dict(doc)
    assert str(info.value) == "ociVersion: must be a string (got 1) (and 2 more)"


def test_missing_field_message() -> None:
    with pytest.raises(ConfigError) as info:
        Spec.from_dict({"ociVersion": "1", "process": {"args": ["sh"]}}, source="c.json")
    assert str(info.value) == "c.json: process.cwd: is required"


def test_long_values_are_shortened() -> None:
    with pytest.raises(ConfigError) as info:
        Spec.from_dict({"ociVersion": "1", "hostname": {"k" * 200: "v"}})
    message = str(info.value)
    assert message.startswith("hostname: must be a string (got {") and message.endswith("...)")
    assert len(message) < 120 and "\n" not in message


def test_invalid_json_names_line_and_column() -> None:
    with pytest.raises(ConfigError) as info:
        Spec.from_json('{\n  "ociVersion": "1",\n  oops\n}', source="config.json")
    assert str(info.value).startswith("config.json: invalid JSON: ")
    assert "line 3 column 3" in str(info.value)


@pytest.mark.parametrize("text", ["[]", "5", "null", '"x"'])
def test_document_must_be_an_object(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^config.json: must be a JSON object \(got "):
        Spec.from_json(text, source="config.json")


def test_not_utf8() -> None:
    with pytest.raises(ConfigError, match="invalid JSON"):
        Spec.from_json(b'{"ociVersion": "\xff"}')


@pytest.mark.parametrize(
    ("loc", "expected"),
    [
        (
            ("linux", "resources", "hugepageLimits", 0, "pageSize"),
            "linux.resources.hugepageLimits[0].pageSize",
        ),
        (("annotations", "com.example.key"), 'annotations["com.example.key"]'),
        (("linux", "resources", "rdma", "mlx5_1", "hcaHandles"), "linux.resources.rdma.mlx5_1.hcaHandles"),
        ((), ""),
    ],
)
def test_json_path(loc: tuple[int | str, ...], expected: str) -> None:
    assert json_path(loc) == expected


def test_python_construction_still_raises_validation_error() -> None:
    # Building models in Python keeps pydantic's (ValueError) behaviour; only loading converts.
    with pytest.raises(ValidationError):
        Root(path=5)


# --- files ------------------------------------------------------------------------------------------


def test_load_bundle_dir_and_file_and_save(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(FULL))
    from_dir = Spec.load(tmp_path)
    from_file = Spec.load(str(tmp_path / "config.json"))
    assert from_dir.to_dict() == from_file.to_dict() == FULL
    out = tmp_path / "out"
    out.mkdir()
    from_dir.save(out)  # a directory: writes out/config.json
    assert json.loads((out / "config.json").read_text()) == FULL
    assert [p.name for p in out.iterdir()] == ["config.json"]  # no temp file left behind
    from_dir.save(out / "x.json", indent=None)
    assert "\n" not in (out / "x.json").read_text().rstrip("\n")


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        Spec.load(tmp_path)
    assert str(info.value) == f"{tmp_path / 'config.json'}: cannot read file: No such file or directory"


def test_to_json_indent() -> None:
    spec = Spec(oci_version="1.3.0")
    assert spec.to_json(indent=None) == '{"ociVersion": "1.3.0"}'
    assert spec.to_json(indent=2) == '{\n  "ociVersion": "1.3.0"\n}'


# --- state and features -----------------------------------------------------------------------------


def test_state_round_trip_and_status() -> None:
    doc = {
        "ociVersion": "1.3.0",
        "id": "c1",
        "status": "created",
        "pid": 42,
        "bundle": "/b",
        "annotations": {"a": "b"},
    }
    state = State.from_json(json.dumps(doc))
    assert state.status is ContainerStatus.CREATED and state.pid == 42
    assert state.to_dict() == doc
    assert State(oci_version="1.3.0", id="c", status=ContainerStatus.STOPPED, bundle="/b").to_dict() == {
        "ociVersion": "1.3.0",
        "id": "c",
        "status": "stopped",
        "bundle": "/b",
    }


def test_features_snake_case() -> None:
    doc = {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.3.0",
        "potentiallyUnsafeConfigAnnotations": ["x"],
        "linux": {
            "capabilities": list(CAPABILITIES),
            "seccomp": {"knownFlags": ["SECCOMP_FILTER_FLAG_TSYNC"]},
            "intelRdt": {"enabled": True, "schemata": True, "monitoring": False},
            "memoryPolicy": {"modes": ["MPOL_BIND"], "flags": []},
            "mountExtensions": {"idmap": {"enabled": True}},
            "cgroup": {"systemdUser": True},
        },
    }
    features = Features.from_dict(doc)
    assert features.oci_version_max == "1.3.0"
    assert features.potentially_unsafe_config_annotations == ["x"]
    assert features.linux is not None and features.linux.mount_extensions is not None
    assert features.linux.mount_extensions.idmap is not None and features.linux.mount_extensions.idmap.enabled
    assert features.linux.cgroup is not None and features.linux.cgroup.systemd_user
    assert features.to_dict() == doc


def test_capability_list() -> None:
    assert len(CAPABILITIES) == 41 and CAPABILITIES[0] == "CAP_CHOWN"
    assert CAPABILITIES[40] == "CAP_CHECKPOINT_RESTORE" and CAPABILITIES[21] == "CAP_SYS_ADMIN"


# --- the package itself -----------------------------------------------------------------------------


def test_exports_resolve_and_agree() -> None:
    exported = {name for names in spec_pkg._EXPORTS.values() for name in names}
    assert exported == set(spec_pkg.__all__)
    for name in spec_pkg.__all__:
        assert getattr(spec_pkg, name) is not None
    with pytest.raises(AttributeError):
        _ = spec_pkg.NoSuchThing


def _fresh(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout.strip()


def test_import_is_lazy() -> None:
    code = (
        "import sys, libcontainer_py.spec as s; a = 'libcontainer_py.spec.config' in sys.modules;"
        "from libcontainer_py.spec.state import State; b = 'libcontainer_py.spec.config' in sys.modules;"
        "s.Spec; c = 'libcontainer_py.spec.config' in sys.modules; d = 'jsonschema' in sys.modules;"
        "print(a, b, c, d)"
    )
    assert _fresh(code) == "False False True False"


def test_validators_are_built_on_first_use() -> None:
    code = (
        "from libcontainer_py.spec import Spec; a = Spec.__pydantic_complete__;"
        "Spec.from_dict({'ociVersion': '1'}); print(a, Spec.__pydantic_complete__)"
    )
    assert _fresh(code) == "False True"
