"""paths.ensure_at / find_at and create_devices on a real kernel, in a temporary tree (no mount).

ensure_at and find_at take a narrow first lookup (openat2 with RESOLVE_NO_SYMLINKS) and fall back
to the general walk when a symlink is on the way. These tests hold both branches to the same
answers the general functions give (path_in_root, try_resolve, mkdir_all), show which branch ran
(path_in_root is only called by the walk), and that a symlink, absolute or dangling, never leads
out of the root. create_devices skips chown/chmod when mknod already gave the node what the config
asks: the tests check the node's owner and mode in the cases where it did not.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from libcontainer_py import _sys
from libcontainer_py.rootfs import paths
from libcontainer_py.rootfs.devices import Device, create_devices

pytestmark = pytest.mark.skipif(not _sys.shim_available(), reason="the C shim is not built")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    (r / "dev").mkdir(parents=True)
    (r / "real").mkdir()
    (r / "real" / "file").write_text("x")
    os.symlink("real", r / "rel-link")  # relative, inside
    return r


@pytest.fixture
def root_fd(root: Path):  # type: ignore[no-untyped-def]
    fd = paths.open_root(root)
    before = set(os.listdir("/proc/self/fd"))
    yield fd
    os.close(fd)
    # every fd the functions opened was returned (and closed by the test) or closed by them
    assert set(os.listdir("/proc/self/fd")) - {str(fd)} <= before


def same_file(fd: int, path: Path) -> bool:
    a, b = os.fstat(fd), os.lstat(path)
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


@pytest.fixture
def no_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the general walk's read-back is used: the narrow lookup must answer."""

    def boom(root_fd: int, fd: int) -> str:
        raise AssertionError("path_in_root called: the narrow lookup did not answer")

    monkeypatch.setattr(paths, "path_in_root", boom)


def test_existing_plain_path_in_one_lookup(root: Path, root_fd: int, no_walk: None) -> None:
    fd, real, existed = paths.ensure_at(root_fd, "/real//./file", directory=False)
    try:
        assert (real, existed) == ("real/file", True)
        assert same_file(fd, root / "real" / "file")
    finally:
        os.close(fd)
    fd, real, existed = paths.ensure_at(root_fd, "/", directory=True)
    os.close(fd)
    assert (real, existed) == (".", True)


@pytest.mark.parametrize("directory", [True, False])
def test_missing_last_component_is_made_in_its_parent(
    root: Path, root_fd: int, no_walk: None, directory: bool
) -> None:
    fd, real, existed = paths.ensure_at(root_fd, "/dev/pts", directory=directory)
    try:
        assert (real, existed) == ("dev/pts", False)
        made = root / "dev" / "pts"
        assert made.is_dir() if directory else made.is_file()
        assert same_file(fd, made)
    finally:
        os.close(fd)


def test_deeper_missing_path_takes_the_walk(root: Path, root_fd: int) -> None:
    fd, real, existed = paths.ensure_at(root_fd, "/a/b/c", directory=True)
    try:
        assert (real, existed) == ("a/b/c", False)
        assert same_file(fd, root / "a" / "b" / "c")
    finally:
        os.close(fd)


def test_symlink_on_the_way_gives_the_real_path(root: Path, root_fd: int) -> None:
    fd, real, existed = paths.ensure_at(root_fd, "/rel-link/file", directory=False)
    os.close(fd)
    assert (real, existed) == ("real/file", True)
    fd, real, existed = paths.ensure_at(root_fd, "/rel-link/new", directory=True)
    os.close(fd)
    assert (real, existed) == ("real/new", False)
    assert (root / "real" / "new").is_dir()


def test_absolute_symlink_stays_in_the_root(tmp_path: Path, root: Path, root_fd: int) -> None:
    host = tmp_path / "host"
    host.mkdir()
    os.symlink(str(host), root / "evil")  # absolute: the host's directory, seen from outside
    fd, real, existed = paths.ensure_at(root_fd, "/evil/x", directory=True)
    os.close(fd)
    inside = str(host).lstrip("/") + "/x"
    assert (real, existed) == (inside, False)
    assert (root / inside).is_dir()
    assert not (host / "x").exists()


def test_dangling_symlink_is_followed_inside_the_root(root: Path, root_fd: int) -> None:
    os.symlink("/target/dir", root / "dangling")
    fd, real, existed = paths.ensure_at(root_fd, "/dangling", directory=True)
    os.close(fd)
    assert (real, existed) == ("target/dir", False)
    assert (root / "target" / "dir").is_dir()
    assert not Path("/target").exists()


def test_find_at(root: Path, root_fd: int, monkeypatch: pytest.MonkeyPatch) -> None:
    found = paths.find_at(root_fd, "/real/file")
    assert found is not None
    os.close(found[0])
    assert found[1] == "real/file"
    assert paths.find_at(root_fd, "/real/missing") is None
    assert paths.find_at(root_fd, "/rel-link/missing") is None
    found = paths.find_at(root_fd, "/rel-link/file")
    assert found is not None
    os.close(found[0])
    assert found[1] == "real/file"
    # a path without symlinks, present or missing, is answered without the walk
    monkeypatch.setattr(paths, "path_in_root", lambda *_: pytest.fail("walked"))
    monkeypatch.setattr(paths, "try_resolve", lambda *_a, **_k: pytest.fail("walked"))
    assert paths.find_at(root_fd, "/nothing/here") is None
    found = paths.find_at(root_fd, "/real")
    assert found is not None
    os.close(found[0])


def test_ensure_at_refuses_a_file_where_a_directory_is_needed(root: Path, root_fd: int) -> None:
    with pytest.raises(OSError):
        fd, _, _ = paths.ensure_at(root_fd, "/real/file/below", directory=True)
        os.close(fd)


@pytest.mark.root
def test_device_owner_and_mode_where_mknod_does_not_give_them(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mknod needs root")
    root = tmp_path / "root"
    dev = root / "dev"
    dev.mkdir(parents=True)
    os.chown(dev, 0, 50)
    os.chmod(dev, 0o2775)  # set-group-ID: a new node would get group 50
    devices = [
        Device("/dev/plain", "c", 1, 3),  # 0666 root:root: mknod alone gives it
        Device("/dev/owned", "c", 1, 5, file_mode=0o640, uid=7, gid=8),
        Device("/dev/sticky", "c", 1, 7, file_mode=0o1666),
        Device("/dev/sub/deep", "c", 1, 9, file_mode=0o600),  # a directory of its own
    ]
    fd = paths.open_root(root)
    old = os.umask(0o077)
    try:
        create_devices(fd, devices, in_userns=False)
        assert os.umask(0o077) == 0o077  # create_devices put the caller's umask back
    finally:
        os.umask(old)
        os.close(fd)
    got = {p.name: os.lstat(p) for p in (dev / "plain", dev / "owned", dev / "sticky", dev / "sub" / "deep")}
    want = {"plain": (0o666, 0, 0), "owned": (0o640, 7, 8), "sticky": (0o1666, 0, 0), "deep": (0o600, 0, 0)}
    for name, (mode, uid, gid) in want.items():
        st = got[name]
        assert stat.S_ISCHR(st.st_mode), name
        assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (mode, uid, gid), name
