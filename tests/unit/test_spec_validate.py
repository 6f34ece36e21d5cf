"""validate_runtime: the checks beyond the JSON schema, and runc's warnings."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from libcontainer_py.errors import ConfigError
from libcontainer_py.spec import Problem, Spec, runtime_problems, validate_runtime

BASE: dict[str, Any] = {
    "ociVersion": "1.3.0",
    "root": {"path": "rootfs"},
    "process": {
        "cwd": "/",
        "args": ["sh"],
        "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"]},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    },
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
    "linux": {
        "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "network"}],
    },
}
MAPPING = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def _spec(**changes: Any) -> Spec:
    """BASE with top-level sections replaced (None deletes the section)."""
    data = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return Spec.from_dict(data)


def _linux(**fields: Any) -> dict[str, Any]:
    linux: dict[str, Any] = copy.deepcopy(BASE["linux"])
    linux.update(fields)
    return linux


def _error(spec: Spec) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        validate_runtime(spec, source="config.json")
    return info.value


def test_valid_spec_has_no_warnings() -> None:
    assert validate_runtime(_spec()) == []


def test_duplicate_namespace() -> None:
    ns = [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "pid", "path": "/proc/1/ns/pid"}]
    err = _error(_spec(linux=_linux(namespaces=ns)))
    assert str(err) == 'config.json: linux.namespaces[3].type: duplicate namespace "pid"'
    assert err.path == "linux.namespaces[3].type" and err.source == "config.json"


def test_duplicate_rlimit() -> None:
    process = copy.deepcopy(BASE["process"])
    process["rlimits"].append({"type": "RLIMIT_NOFILE", "hard": 1, "soft": 1})
    err = _error(_spec(process=process))
    assert str(err) == 'config.json: process.rlimits[1].type: duplicate rlimit "RLIMIT_NOFILE"'


@pytest.mark.parametrize("field", ["uidMappings", "gidMappings"])
def test_mappings_without_user_namespace(field: str) -> None:
    err = _error(_spec(linux=_linux(**{field: MAPPING})))
    assert err.path == f"linux.{field}"
    assert "requires a user namespace" in str(err)


def test_new_user_namespace_needs_mappings() -> None:
    ns = [*BASE["linux"]["namespaces"], {"type": "user"}]
    err = _error(_spec(linux=_linux(namespaces=ns, uidMappings=MAPPING)))
    assert str(err) == "config.json: linux.gidMappings: is required when creating a user namespace"
    assert validate_runtime(_spec(linux=_linux(namespaces=ns, uidMappings=MAPPING, gidMappings=MAPPING))) == []


def test_joined_user_namespace_needs_no_mappings() -> None:
    ns = [*BASE["linux"]["namespaces"], {"type": "user", "path": "/proc/42/ns/user"}]
    assert validate_runtime(_spec(linux=_linux(namespaces=ns))) == []


def test_time_offsets_need_time_namespace() -> None:
    err = _error(_spec(linux=_linux(timeOffsets={"monotonic": {"secs": 1}})))
    assert err.path == "linux.timeOffsets"
    ns = [*BASE["linux"]["namespaces"], {"type": "time"}]
    assert validate_runtime(_spec(linux=_linux(namespaces=ns, timeOffsets={"boottime": {"secs": 1}}))) == []


@pytest.mark.parametrize("option", ["idmap", "ridmap"])
def test_idmap_mount_without_mappings_or_userns(option: str) -> None:
    mounts = [*BASE["mounts"], {"destination": "/data", "source": "/srv", "options": ["rbind", option]}]
    err = _error(_spec(mounts=mounts))
    assert err.path == "mounts[1].options"
    assert f'"{option}" needs uidMappings and gidMappings' in str(err)


def test_idmap_mount_with_its_own_mappings() -> None:
    mount = {
        "destination": "/d",
        "source": "/s",
        "options": ["bind", "idmap"],
        "uidMappings": MAPPING,
        "gidMappings": MAPPING,
    }
    assert validate_runtime(_spec(mounts=[mount])) == []


def test_idmap_mount_uses_container_user_namespace() -> None:
    # config.md: without mappings on the mount, the runtime MAY use the container's user namespace mapping.
    ns = [*BASE["linux"]["namespaces"], {"type": "user"}]
    linux = _linux(namespaces=ns, uidMappings=MAPPING, gidMappings=MAPPING)
    mount = {"destination": "/d", "source": "/s", "options": ["bind", "idmap"]}
    assert validate_runtime(_spec(mounts=[mount], linux=linux)) == []


def test_mount_mappings_go_together() -> None:
    mount = {"destination": "/d", "source": "/s", "options": ["bind", "idmap"], "uidMappings": MAPPING}
    err = _error(_spec(mounts=[mount]))
    assert err.path == "mounts[0].gidMappings"


def test_mount_mappings_without_idmap_option_warn() -> None:
    mount = {
        "destination": "/d",
        "source": "/s",
        "options": ["bind"],
        "uidMappings": MAPPING,
        "gidMappings": MAPPING,
    }
    assert validate_runtime(_spec(mounts=[mount])) == [
        'mounts[0].options: should contain "idmap" or "ridmap" when uidMappings/gidMappings are given'
    ]


def test_relative_cwd() -> None:
    process = dict(BASE["process"], cwd="home/user")
    err = _error(_spec(process=process))
    assert str(err) == "config.json: process.cwd: must be an absolute path (got 'home/user')"


@pytest.mark.parametrize("args", [[], None])
def test_empty_args(args: list[str] | None) -> None:
    process = copy.deepcopy(BASE["process"])
    if args is None:
        del process["args"]
    else:
        process["args"] = args
    err = _error(_spec(process=process))
    assert err.path == "process.args"


def test_process_may_be_absent() -> None:
    assert validate_runtime(_spec(process=None)) == []


def test_root_missing() -> None:
    err = _error(_spec(root=None))
    assert str(err) == "config.json: root: is required on Linux"
    err = _error(_spec(root={"path": ""}))
    assert err.path == "root.path"


def test_unknown_capability_warns_once_per_name() -> None:
    process = copy.deepcopy(BASE["process"])
    process["capabilities"] = {
        "bounding": ["CAP_KILL", "CAP_FOO"],
        "permitted": ["CAP_FOO", "cap_chown"],
        "ambient": ["CAP_BAR"],
    }
    assert validate_runtime(_spec(process=process)) == [
        'process.capabilities.bounding[1]: unknown capability "CAP_FOO" (ignored)',
        'process.capabilities.permitted[1]: unknown capability "cap_chown" (ignored)',
        'process.capabilities.ambient[0]: unknown capability "CAP_BAR" (ignored)',
    ]


def test_relative_mount_destination_warns() -> None:
    mounts = [{"destination": "proc", "type": "proc", "source": "proc"}]
    assert validate_runtime(_spec(mounts=mounts)) == [
        'mounts[0].destination: relative destination "proc" is deprecated; it is taken relative to "/"'
    ]


def test_several_errors_counted_and_all_listed() -> None:
    process = dict(BASE["process"], cwd="rel", args=[])
    spec = _spec(process=process, root=None)
    err = _error(spec)
    assert str(err) == "config.json: root: is required on Linux (and 2 more)"
    errors, warnings = runtime_problems(spec)
    assert [e.path for e in errors] == ["root", "process.args", "process.cwd"]
    assert warnings == [] and all(isinstance(e, Problem) for e in errors)


def test_no_source() -> None:
    with pytest.raises(ConfigError) as info:
        validate_runtime(_spec(root=None))
    assert str(info.value) == "root: is required on Linux"


def test_validates_python_built_specs_after_mutation() -> None:
    spec = _spec()
    assert spec.process is not None
    spec.process.cwd = "relative"
    with pytest.raises(ConfigError, match=r"process\.cwd"):
        validate_runtime(spec)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("", "must be NAME=VALUE (got '': no '=')"),
        ("PATH", "must be NAME=VALUE (got 'PATH': no '=')"),
        ("=x", "the variable's name is empty (got '=x')"),
        ("A=b\0c", "must not contain a NUL byte (got 'A=b\\x00c')"),
    ],
)
def test_env_entries_execve_cannot_take(entry: str, message: str) -> None:
    # runc's init refuses them (populateProcessEnvironment); found here, before anything runs.
    process = copy.deepcopy(BASE["process"])
    process["env"] = ["HOME=/root", entry]
    err = _error(_spec(process=process))
    assert str(err) == f"config.json: process.env[1]: {message}"
    process["env"] = ["HOME=/root", "EMPTY=", "A=b=c"]
    validate_runtime(_spec(process=process))


def test_nul_bytes_in_args_or_cwd_are_refused_before_anything_runs() -> None:
    process = copy.deepcopy(BASE["process"])
    process["args"] = ["echo", "a\0b"]
    assert (
        str(_error(_spec(process=process)))
        == "config.json: process.args[1]: must not contain a NUL byte (got 'a\\x00b')"
    )
    process = copy.deepcopy(BASE["process"])
    process["cwd"] = "/tmp\0x"
    assert "process.cwd: must not contain a NUL byte" in str(_error(_spec(process=process)))
