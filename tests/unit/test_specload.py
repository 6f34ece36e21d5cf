"""_specload: how the runtime gets its spec objects (spec/fast.py), and when it falls back to pydantic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from libcontainer_py import _specload
from libcontainer_py.errors import ConfigError
from libcontainer_py.spec import LinuxResources, Process, Spec, fast


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.json"
    Spec.default().save(path)
    return path


def test_load_spec_gives_the_fast_object_equal_to_the_model(config: Path) -> None:
    spec = _specload.load_spec(config)
    assert isinstance(spec, fast.FastModel) and type(spec).__name__ == "Spec"
    assert spec.to_dict() == Spec.load(config).to_dict()
    assert spec.process is not None and spec.process.args == ["sh"]


def test_load_spec_falls_back_to_pydantic_when_the_fast_path_declines(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fast, "load", lambda *_a, **_k: None)  # as for a document it cannot vouch for
    spec = _specload.load_spec(config)
    assert isinstance(spec, fast.FastModel) and spec.to_dict() == Spec.load(config).to_dict()


def test_load_spec_errors_name_the_file_and_the_field(config: Path) -> None:
    data = json.loads(config.read_text())
    data["process"]["user"]["uid"] = -1
    config.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=r"config\.json.*process\.user\.uid"):
        _specload.load_spec(config)


def test_as_runtime_rebuilds_a_model_and_keeps_a_fast_object() -> None:
    model = Spec.default()
    spec = _specload.as_runtime(model)
    assert isinstance(spec, fast.FastModel) and spec.to_dict() == model.to_dict()
    spec.process.args = ["changed"]
    assert model.process is not None and model.process.args == ["sh"]  # the caller's object is untouched
    assert _specload.as_runtime(spec) is spec
    process = _specload.as_runtime(Process(args=["true"], cwd="/"), "Process")
    assert type(process).__name__ == "Process" and process.args == ["true"]


def test_parse_process() -> None:
    proc = _specload.parse_process('{"args": ["ls"], "cwd": "/", "user": {"uid": 1, "gid": 2}}', "p.json")
    assert isinstance(proc, fast.FastModel) and (proc.args, proc.user.uid, proc.user.gid) == (["ls"], 1, 2)
    with pytest.raises(ConfigError, match=r"p\.json.*invalid JSON"):
        _specload.parse_process("{", "p.json")
    with pytest.raises(ConfigError, match=r"p\.json.*user\.uid"):
        _specload.parse_process('{"args": ["ls"], "cwd": "/", "user": {"uid": "x", "gid": 0}}', "p.json")


def test_resources_from_a_dict_or_a_model() -> None:
    res = _specload.resources({"pids": {"limit": 10}, "memory": {"limit": 1 << 20}})
    assert isinstance(res, fast.FastModel) and (res.pids.limit, res.memory.limit) == (10, 1 << 20)
    model = LinuxResources.model_validate({"cpu": {"shares": 512}})
    assert _specload.resources(model).to_dict() == model.to_dict()
    with pytest.raises(ConfigError, match=r"resources.*pids\.limit"):
        _specload.resources({"pids": {"limit": "ten"}}, source="resources")
    rule = _specload.new("LinuxDeviceCgroup", allow=True, type="c", major=1, minor=3, access="rwm")
    assert rule.to_dict() == {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"}
