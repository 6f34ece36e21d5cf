"""The default config (`Spec.default()`, `pyrunc spec`) against runc's own `runc spec` output.

runc 1.1.5 is the reference: same content, except `ociVersion`, which is ours."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from libcontainer_py._version import SPEC_VERSION
from libcontainer_py.spec import Spec
from libcontainer_py.spec.defaults import (
    default_config,
    default_dict,
    default_json,
    default_spec,
    dumps_config,
    rootless_config,
)

RUNC = shutil.which("runc")
needs_runc = pytest.mark.skipif(RUNC is None, reason="runc is not installed (CI installs it for this check)")


def runc_spec(tmp_path: Path, rootless: bool) -> tuple[str, dict[str, Any]]:
    assert RUNC is not None
    bundle = tmp_path / ("rootless" if rootless else "default")
    bundle.mkdir()
    cmd = [RUNC, "spec", "--bundle", str(bundle)] + (["--rootless"] if rootless else [])
    subprocess.run(cmd, check=True, capture_output=True)
    text = (bundle / "config.json").read_text()
    return text, json.loads(text)


@pytest.mark.runc
@needs_runc
@pytest.mark.parametrize("rootless", [False, True], ids=["default", "rootless"])
def test_same_content_as_runc_spec(tmp_path: Path, rootless: bool) -> None:
    _, runc_config = runc_spec(tmp_path, rootless)
    ours = default_dict(rootless)
    assert ours.pop("ociVersion") == SPEC_VERSION
    runc_config.pop("ociVersion")
    assert ours == runc_config


@pytest.mark.runc
@needs_runc
@pytest.mark.parametrize("rootless", [False, True], ids=["default", "rootless"])
def test_same_bytes_as_runc_spec_but_the_version(tmp_path: Path, rootless: bool) -> None:
    # Key order and layout too, so `diff` between the two files shows only ociVersion.
    runc_text, runc_config = runc_spec(tmp_path, rootless)
    ours = default_json(rootless).replace(
        f'"ociVersion": "{SPEC_VERSION}"', f'"ociVersion": "{runc_config["ociVersion"]}"'
    )
    assert ours == runc_text


@pytest.mark.runc
@needs_runc
@pytest.mark.parametrize("rootless", [False, True], ids=["default", "rootless"])
def test_default_spec_model_matches_runc(tmp_path: Path, rootless: bool) -> None:
    _, runc_config = runc_spec(tmp_path, rootless)
    runc_config["ociVersion"] = SPEC_VERSION
    assert default_spec(rootless).to_dict() == runc_config


def test_default_highlights() -> None:
    config = default_config()
    assert config["ociVersion"] == SPEC_VERSION
    assert config["process"]["args"] == ["sh"]
    assert config["process"]["terminal"] is True
    assert config["process"]["capabilities"]["bounding"] == [
        "CAP_AUDIT_WRITE",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
    ]
    assert "inheritable" not in config["process"]["capabilities"]
    assert [ns["type"] for ns in config["linux"]["namespaces"]] == ["pid", "network", "ipc", "uts", "mount"]
    assert config["root"] == {"path": "rootfs", "readonly": True}


def test_rootless_differences() -> None:
    config = rootless_config(uid=1234, gid=5678)
    linux = config["linux"]
    assert linux["uidMappings"] == [{"containerID": 0, "hostID": 1234, "size": 1}]
    assert linux["gidMappings"] == [{"containerID": 0, "hostID": 5678, "size": 1}]
    types = [ns["type"] for ns in linux["namespaces"]]
    assert "network" not in types and types[-1] == "user"
    assert "resources" not in linux
    sys_mount = next(m for m in config["mounts"] if m["destination"] == "/sys")
    assert sys_mount == {
        "destination": "/sys",
        "type": "none",
        "source": "/sys",
        "options": ["rbind", "nosuid", "noexec", "nodev", "ro"],
    }
    assert not any(o.startswith(("gid=", "uid=")) for m in config["mounts"] for o in m.get("options", []))


def test_rootless_maps_the_callers_ids() -> None:
    linux = rootless_config()["linux"]
    assert linux["uidMappings"][0]["hostID"] == os.geteuid()
    assert linux["gidMappings"][0]["hostID"] == os.getegid()


def test_functions_return_fresh_data() -> None:
    a = default_config()
    a["process"]["env"].append("X=1")
    a["mounts"][0]["options"] = ["ro"]
    assert default_config() != a
    assert default_config() == default_config()


def test_default_spec_is_a_valid_spec() -> None:
    for rootless in (False, True):
        spec = default_spec(rootless)
        assert isinstance(spec, Spec)
        assert spec.oci_version == SPEC_VERSION
        assert spec.process is not None and spec.process.args == ["sh"]


def test_dumps_config_is_runc_layout() -> None:
    text = dumps_config({"a": [1], "b": {}})
    assert text == '{\n\t"a": [\n\t\t1\n\t],\n\t"b": {}\n}'
    assert not default_json().endswith("\n")


@pytest.mark.skipif(
    not hasattr(Spec, "default"), reason="Spec.default is not wired yet (a classmethod over default_dict)"
)
def test_spec_default_classmethod() -> None:
    for rootless in (False, True):
        assert Spec.default(rootless=rootless).to_dict() == default_dict(rootless)  # type: ignore[attr-defined,unused-ignore]
