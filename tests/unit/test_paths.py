"""libcontainer_py._paths gives what posixpath gives, for the paths the read-only verbs use and
for the corner cases of each function."""

from __future__ import annotations

import os
import posixpath
import subprocess
import sys
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


@pytest.mark.parametrize("p", PATHS)
def test_basename_and_isabs_as_posixpath(p: str) -> None:
    assert _paths.basename(p) == posixpath.basename(p)
    assert _paths.isabs(p) == posixpath.isabs(p)


def test_isfile_as_os_path(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    (tmp_path / "d").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "f")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    os.mkfifo(tmp_path / "fifo")
    for name in ["f", "d", "link", "dangling", "nowhere", "fifo", "f/x", "f/"]:
        p = str(tmp_path / name) + ("/" if name.endswith("/") else "")
        assert _paths.isfile(p) == os.path.isfile(p), name
    assert _paths.isfile("/dev/null") is False and _paths.isfile("/a\0b") is False


@pytest.mark.parametrize("p", ["/run/pyrunc", "ä/ö", "/x\udcff\udc80y", b"/raw\xff", Path("/a/b")])
def test_fsencode_as_os(p: str | bytes | Path) -> None:
    # A str with surrogate escapes (bytes that were not UTF-8 in a name read from the disk)
    # goes back to those bytes, as os.fsencode gives them.
    assert _paths.fsencode(p) == os.fsencode(p)


def test_fsencode_refuses_what_os_refuses() -> None:
    with pytest.raises(TypeError):
        _paths.fsencode(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        os.fsencode(3)  # type: ignore[arg-type]


def test_getenv_follows_os_environ_once_os_is_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    # In a process that imported os (this one, any library caller), what the code changed in
    # os.environ after the start counts, as it does for os.environ.get.
    monkeypatch.setenv("LCPY_TEST_GETENV", "ä1")
    assert _paths.getenv("LCPY_TEST_GETENV") == "ä1" == os.environ.get("LCPY_TEST_GETENV")
    monkeypatch.delenv("LCPY_TEST_GETENV")
    assert _paths.getenv("LCPY_TEST_GETENV") is None


def test_getenv_without_os_reads_the_environment_the_process_started_with() -> None:
    # pyrunc's case: a process started with -S that never imports os.
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from libcontainer_py import _paths; "
        "print(repr(_paths.getenv('LCPY_A')), repr(_paths.getenv('LCPY_B')), repr(_paths.getenv('LCPY_NONE'))); "
        "print('os' in sys.modules)"
    )
    env = {"LCPY_A": "plain", "LCPY_B": "ä\udcff", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-S", "-c", code, str(Path(__file__).parents[2])],
        env=env,
        capture_output=True,
        text=True,
        errors="surrogateescape",
        check=True,
    ).stdout.splitlines()
    assert out == ["'plain' 'ä\\udcff' None", "False"], out
