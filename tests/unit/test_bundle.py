"""make_busybox_bundle: the project's own small image (no registry is reachable)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from libcontainer_py.bundle import _is_static_elf, find_busybox, make_busybox_bundle
from libcontainer_py.errors import BundleError
from libcontainer_py.spec import Spec
from libcontainer_py.spec.validate import validate_runtime

needs_busybox = pytest.mark.skipif(
    not any(os.path.isfile(p) and _is_static_elf(p) for p in ("/bin/busybox", "/usr/bin/busybox")),
    reason="needs Debian's busybox-static (apt-get install busybox-static)",
)


@needs_busybox
def test_bundle_layout_and_config(tmp_path: Path) -> None:
    bundle = make_busybox_bundle(tmp_path / "bb", args=["date"])
    rootfs = bundle / "rootfs"
    assert (rootfs / "bin" / "busybox").is_file() and not (rootfs / "bin" / "busybox").is_symlink()
    assert os.stat(rootfs / "bin" / "busybox").st_ino != os.stat(find_busybox()).st_ino  # a copy, not a link
    assert os.readlink(rootfs / "bin" / "sh") == "/bin/busybox"
    assert os.readlink(rootfs / "usr" / "bin" / "wget") == "/bin/busybox"
    assert (rootfs / "etc" / "passwd").read_text().startswith("root:x:0:0:")
    assert oct((rootfs / "tmp").stat().st_mode & 0o7777) == "0o1777"
    config = json.loads((bundle / "config.json").read_text())
    assert config["process"]["args"] == ["date"]
    assert config["process"]["terminal"] is False
    assert config["root"] == {"path": "rootfs", "readonly": True}
    spec = Spec.from_dict(config)
    assert validate_runtime(spec) == []


@needs_busybox
def test_bundle_refuses_to_overwrite(tmp_path: Path) -> None:
    make_busybox_bundle(tmp_path / "bb")
    with pytest.raises(BundleError, match=r"config\.json exists"):
        make_busybox_bundle(tmp_path / "bb")


@needs_busybox
def test_bundle_rootless_and_custom_config(tmp_path: Path) -> None:
    b = make_busybox_bundle(tmp_path / "rl", args=["id"], rootless=True)
    config = json.loads((b / "config.json").read_text())
    assert any(ns["type"] == "user" for ns in config["linux"]["namespaces"])
    b2 = make_busybox_bundle(tmp_path / "c", args=["true"], config={"ociVersion": "1.3.0", "process": {"cwd": "/"}})
    config2 = json.loads((b2 / "config.json").read_text())
    assert config2 == {
        "ociVersion": "1.3.0",
        "process": {"cwd": "/", "args": ["true"], "terminal": False},
        "root": {"path": "rootfs"},
    }


def test_dynamic_busybox_is_refused(tmp_path: Path) -> None:
    """A dynamically linked binary would fail inside the container with a confusing ENOENT."""
    dynamic = shutil.which("python3") or "/bin/ls"
    assert not _is_static_elf(os.path.realpath(dynamic))
    with pytest.raises(BundleError, match="busybox-static"):
        find_busybox(os.path.realpath(dynamic))
    not_elf = tmp_path / "script"
    not_elf.write_text("#!/bin/sh\n")
    assert not _is_static_elf(str(not_elf))


def test_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIBCONTAINER_PY_BUSYBOX", str(tmp_path / "missing"))
    with pytest.raises(BundleError, match=re.escape(str(tmp_path / "missing"))):
        find_busybox()
