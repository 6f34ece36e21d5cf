"""pyrunc features and pyrunc --version: what they print, and what they must not import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from oci_schema import schema_errors

from libcontainer_py._version import SPEC_VERSION, __version__
from libcontainer_py.cli import _main
from libcontainer_py.features import features_document


def test_version_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert _main(["--version"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"pyrunc version {__version__}"
    assert lines[1] == f"spec: {SPEC_VERSION}" == "spec: 1.3.0"
    assert _main(["-v"]) == 0


def test_version_imports_nothing_heavy() -> None:
    """`pyrunc --version` is called by every client on every start: no pydantic, no typing."""
    code = (
        "import sys; from libcontainer_py.cli import _main; _main(['--version']);"
        "heavy = [m for m in ('pydantic', 'typing', 'dataclasses', 'libcontainer_py.spec.config') if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "[]"


def test_features_is_valid_and_truthful(capsys: pytest.CaptureFixture[str]) -> None:
    assert _main(["features"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert schema_errors(doc, "features-schema.json") == []
    assert doc["ociVersionMin"] == "1.0.0"
    assert doc["ociVersionMax"] == SPEC_VERSION
    # It lists what the code implements, taken from the implementing modules' own tables.
    from libcontainer_py.capabilities import CAPABILITIES
    from libcontainer_py.namespaces import NAMESPACE_TYPES
    from libcontainer_py.rootfs.options import MOUNT_OPTIONS

    assert doc["linux"]["namespaces"] == sorted(NAMESPACE_TYPES)
    assert doc["mountOptions"] == sorted(MOUNT_OPTIONS)
    assert doc["linux"]["capabilities"] == list(CAPABILITIES)
    from libcontainer_py.hooks import HOOK_KINDS
    from libcontainer_py.seccomp import compile as sc

    assert doc["hooks"] == list(HOOK_KINDS)
    seccomp = doc["linux"]["seccomp"]
    assert seccomp["enabled"] is True
    assert set(seccomp["actions"]) == set(sc.ACTIONS) and set(seccomp["operators"]) == set(sc.OPERATORS)
    assert set(seccomp["supportedFlags"]) <= set(seccomp["knownFlags"])
    assert "SECCOMP_FILTER_FLAG_LOG" in seccomp["supportedFlags"]  # kernel 6.18 has it
    assert doc["linux"]["cgroup"]["v1"] is doc["linux"]["cgroup"]["v2"] is True
    # Not implemented, so not claimed.
    assert doc["linux"]["cgroup"]["systemd"] is False
    for off in ("apparmor", "selinux", "intelRdt"):
        assert doc["linux"][off] == {"enabled": False}


def test_features_document_matches_the_model() -> None:
    from libcontainer_py.spec import Features

    doc = features_document()
    assert Features.from_dict(doc).to_dict() == doc


def test_features_does_not_import_pydantic() -> None:
    code = "import sys; from libcontainer_py.cli import _main; _main(['features']); print('pydantic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "False"
