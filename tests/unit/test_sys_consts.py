"""Constants (pure Python, no shim needed) and the flag naming used in error messages."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from libcontainer_py._sys import consts as c
from libcontainer_py._sys import describe as d


def test_uapi_values() -> None:
    # Spot checks against <sched.h>, <sys/mount.h>, <linux/mount.h>, <linux/openat2.h>.
    assert c.CLONE_NEWNS == 0x20000 and c.CLONE_NEWUSER == 0x10000000 and c.CLONE_NEWTIME == 0x80
    assert c.MS_BIND | c.MS_REC == 0x5000 and c.MS_PRIVATE == 0x40000 and c.MS_SLAVE == 0x80000
    assert c.MNT_DETACH == 2 and c.AT_RECURSIVE == 0x8000 and c.AT_FDCWD == -100
    assert c.MOUNT_ATTR_IDMAP == 0x100000 and c.OPEN_TREE_CLOEXEC == os.O_CLOEXEC
    assert c.RESOLVE_IN_ROOT == 0x10 and c.RESOLVE_NO_MAGICLINKS == 0x02
    assert c.PR_SET_NO_NEW_PRIVS == 38 and c.PR_CAP_AMBIENT == 47
    assert c.ioprio_value(c.IOPRIO_CLASS_BE, 4) == (2 << 13) | 4


def test_clone_flags_match_os_where_python_has_them() -> None:
    for name in ("CLONE_NEWNS", "CLONE_NEWUTS", "CLONE_NEWIPC", "CLONE_NEWUSER", "CLONE_NEWPID",
                 "CLONE_NEWNET", "CLONE_NEWCGROUP", "CLONE_FS", "CLONE_FILES"):  # fmt: skip
        if hasattr(os, name):  # Python 3.12+
            assert getattr(c, name) == getattr(os, name)


def test_mount_flags_match_os_where_python_has_them() -> None:
    for name in ("MS_RDONLY", "MS_NOSUID", "MS_NODEV", "MS_BIND", "MS_REC", "MS_PRIVATE"):
        if hasattr(os, name):
            assert getattr(c, name) == getattr(os, name)


@pytest.mark.parametrize(
    ("value", "table", "expected"),
    [
        (0, d.MS_FLAGS, "0"),
        (c.MS_NOSUID | c.MS_NODEV, d.MS_FLAGS, "MS_NOSUID|MS_NODEV"),
        (c.MS_BIND | c.MS_REC | (1 << 40), d.MS_FLAGS, "MS_BIND|MS_REC|0x10000000000"),
        (c.CLONE_NEWNS | c.CLONE_NEWUSER, d.CLONE_FLAGS, "CLONE_NEWNS|CLONE_NEWUSER"),
        (
            c.MOUNT_ATTR_RDONLY | c.MOUNT_ATTR_NOATIME,
            d.MOUNT_ATTR_FLAGS,
            "MOUNT_ATTR_RDONLY|MOUNT_ATTR_NOATIME",
        ),
        (
            c.RESOLVE_IN_ROOT | c.RESOLVE_NO_MAGICLINKS,
            d.RESOLVE_FLAGS,
            "RESOLVE_NO_MAGICLINKS|RESOLVE_IN_ROOT",
        ),
        (c.MNT_DETACH | c.UMOUNT_NOFOLLOW, d.UMOUNT_FLAGS, "MNT_DETACH|UMOUNT_NOFOLLOW"),
        (os.O_PATH | os.O_CLOEXEC, d.OPEN_FLAGS, "O_CLOEXEC|O_PATH"),
    ],
)
def test_flag_names(value: int, table: dict[str, int], expected: str) -> None:
    assert d.flag_names(value, table) == expected


def test_o_tmpfile_is_named_whole() -> None:
    assert d.flag_names(os.O_TMPFILE | os.O_RDWR, d.OPEN_FLAGS) == "O_TMPFILE|O_RDWR"


def test_namespace_name() -> None:
    assert d.namespace_name(0) == "any"
    assert d.namespace_name(c.CLONE_NEWNET) == "CLONE_NEWNET"


def test_messages() -> None:
    assert d.mount(None, "/", None, c.MS_REC | c.MS_PRIVATE, None) == "mount none on / (flags=MS_REC|MS_PRIVATE)"
    assert d.mount("proc", "/r/proc", "proc", 0, None) == "mount proc on /r/proc (flags=0)"
    assert d.mount("/src", "/r/mnt", "none", c.MS_BIND, None) == "mount /src on /r/mnt (type=none, flags=MS_BIND)"
    assert d.umount2(b"/old", c.MNT_DETACH) == "umount2 /old (flags=MNT_DETACH)"
    assert d.unshare(c.CLONE_NEWNS) == "unshare CLONE_NEWNS"
    assert d.openat2(c.AT_FDCWD, "x", os.O_PATH, 0, c.RESOLVE_NO_SYMLINKS) == (
        "openat2 x (flags=O_PATH, resolve=RESOLVE_NO_SYMLINKS)"
    )


def test_messages_name_the_directory_of_an_fd(tmp_path: object) -> None:
    fd = os.open(str(tmp_path), os.O_PATH)
    try:
        assert d.openat2(fd, "/etc/x", 0, 0, c.RESOLVE_IN_ROOT) == (
            f"openat2 /etc/x in root fd {fd} ({tmp_path}) (flags=O_RDONLY, resolve=RESOLVE_IN_ROOT)"
        )
        assert d.at_str(fd, "a/b") == f"a/b under fd {fd} ({tmp_path})"
        assert d.at_str(fd, "") == f"fd {fd} ({tmp_path})"
    finally:
        os.close(fd)


def test_importing_the_seam_loads_neither_shim_nor_messages() -> None:
    """Importing libcontainer_py._sys must stay cheap: the shim and describe load on first use/error."""
    code = (
        "import sys, libcontainer_py._sys, libcontainer_py._sys.fake\n"
        "print('libcontainer_py._sys._shim' in sys.modules, '_cffi_backend' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
