"""libcontainer_py._paths gives what posixpath gives, for the paths the read-only verbs use and
for the corner cases of each function."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

import pytest

from libcontainer_py import _paths

PATHS = [
    "", "/", "//", "///", "a", "a/", "a//", "/a", "/a/", "/a//", "//a", "/a/b", "/a/b/", "a/b",
    "/run/pyrunc", "/run/pyrunc/", "/run//pyrunc", "/run/./pyrunc", "/run/../pyrunc", "/run/pyrunc/.",
    "/run/pyrunc/..", ".", "..", "./x", "../x", "/.", "/..", "/...", "/a/.b", "/a/..b", "/a/b..",
    "/sys/fs/cgroup/memory/pyrunc/c1", "relative/state", "~/x", "/ä/ö",
]  # fmt: skip


@pytest.mark.parametrize("p", PATHS)
def test_dirname_and_abspath_as_posixpath(p: str) -> None:
    assert _paths.dirname(p) == posixpath.dirname(p)
    assert _paths.abspath(p) == posixpath.abspath(p)


@pytest.mark.parametrize("a", ["", "/", "a", "a/", "/a", "/a/", "/a//"])
@pytest.mark.parametrize("parts", [(), ("b",), ("b/",), ("/b",), ("b", "c"), ("b", "/c", "d"), ("",), ("", "c")])
def test_join_as_posixpath(a: str, parts: tuple[str, ...]) -> None:
    assert _paths.join(a, *parts) == posixpath.join(a, *parts)


def test_abspath_of_a_normal_absolute_path_needs_no_os_path() -> None:
    # The case pyrunc's --root takes at every call: answered without importing os.
    assert _paths.abspath("/run/pyrunc") == "/run/pyrunc"
    assert _paths.abspath("/") == "/"


def test_exists_and_isdir_as_os_path(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    (tmp_path / "d").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "d")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    cases = ["f", "d", "link", "dangling", "nowhere", "f/x", "d/", "f/"]
    for name in cases:
        p = str(tmp_path / name) + ("/" if name.endswith("/") else "")
        assert (_paths.exists(p), _paths.isdir(p)) == (os.path.exists(p), os.path.isdir(p)), name
    # A NUL byte is a ValueError in os.stat; os.path says False, and so do these.
    assert not _paths.exists("/a\0b") and not _paths.isdir("/a\0b")
