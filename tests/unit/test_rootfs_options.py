"""rootfs.options: every mount option, data passthrough, unknown options (no root needed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from libcontainer_py._sys import consts as c
from libcontainer_py.rootfs.options import (
    FLAG_OPTIONS,
    MOUNT_OPTIONS,
    PROPAGATION_OPTIONS,
    RECURSIVE_OPTIONS,
    parse_options,
    rootfs_propagation_flags,
)

SPEC_CONFIG_MD = Path("/work/shared/oci-runtime-spec/config.md")

SET_FLAGS = {
    "ro": c.MS_RDONLY,
    "bind": c.MS_BIND,
    "rbind": c.MS_BIND | c.MS_REC,
    "nosuid": c.MS_NOSUID,
    "nodev": c.MS_NODEV,
    "noexec": c.MS_NOEXEC,
    "sync": c.MS_SYNCHRONOUS,
    "dirsync": c.MS_DIRSYNC,
    "remount": c.MS_REMOUNT,
    "mand": c.MS_MANDLOCK,
    "noatime": c.MS_NOATIME,
    "nodiratime": c.MS_NODIRATIME,
    "relatime": c.MS_RELATIME,
    "strictatime": c.MS_STRICTATIME,
    "nosymfollow": c.MS_NOSYMFOLLOW,
    "lazytime": c.MS_LAZYTIME,
    "silent": c.MS_SILENT,
    "iversion": c.MS_I_VERSION,
}
CLEAR_FLAGS = {
    "rw": c.MS_RDONLY,
    "suid": c.MS_NOSUID,
    "dev": c.MS_NODEV,
    "exec": c.MS_NOEXEC,
    "async": c.MS_SYNCHRONOUS,
    "nomand": c.MS_MANDLOCK,
    "atime": c.MS_NOATIME,
    "diratime": c.MS_NODIRATIME,
    "norelatime": c.MS_RELATIME,
    "nostrictatime": c.MS_STRICTATIME,
    "symfollow": c.MS_NOSYMFOLLOW,
    "nolazytime": c.MS_LAZYTIME,
    "loud": c.MS_SILENT,
    "noiversion": c.MS_I_VERSION,
}


@pytest.mark.parametrize(("opt", "bits"), sorted(SET_FLAGS.items()))
def test_set_flag(opt: str, bits: int) -> None:
    o = parse_options([opt])
    assert o.flags == bits
    assert o.data == ""
    assert o.clear_flags == 0


@pytest.mark.parametrize(("opt", "bits"), sorted(CLEAR_FLAGS.items()))
def test_clear_flag_undoes_set(opt: str, bits: int) -> None:
    o = parse_options(
        [
            "ro",
            "nosuid",
            "nodev",
            "noexec",
            "sync",
            "mand",
            "noatime",
            "nodiratime",
            "relatime",
            "strictatime",
            "nosymfollow",
            "lazytime",
            "silent",
            "iversion",
            opt,
        ]
    )
    assert o.flags & bits == 0
    assert o.clear_flags & bits == bits
    assert o.data == ""


def test_set_after_clear_wins() -> None:
    o = parse_options(["rw", "ro"])
    assert o.flags == c.MS_RDONLY
    assert o.clear_flags == 0


def test_defaults_is_a_no_op() -> None:
    assert parse_options(["defaults"]).flags == 0


@pytest.mark.parametrize(("opt", "bits"), sorted(PROPAGATION_OPTIONS.items()))
def test_propagation(opt: str, bits: int) -> None:
    o = parse_options(["bind", opt])
    assert o.propagation == (bits,)
    assert o.flags == c.MS_BIND


def test_propagation_keeps_order() -> None:
    o = parse_options(["rprivate", "shared"])
    assert o.propagation == (c.MS_PRIVATE | c.MS_REC, c.MS_SHARED)


@pytest.mark.parametrize(("opt", "spec"), sorted(RECURSIVE_OPTIONS.items()))
def test_recursive_attr(opt: str, spec: tuple[bool, int]) -> None:
    clear, bit = spec
    o = parse_options([opt])
    assert o.has_recursive_attrs
    if clear:
        assert o.attr_clr == bit and o.attr_set == 0
    else:
        assert o.attr_set == bit and o.attr_clr == 0
    assert o.flags == 0


@pytest.mark.parametrize(
    ("opt", "mode"),
    [
        ("rnoatime", c.MOUNT_ATTR_NOATIME),
        ("rstrictatime", c.MOUNT_ATTR_STRICTATIME),
        ("rrelatime", c.MOUNT_ATTR_RELATIME),
        ("ratime", c.MOUNT_ATTR_RELATIME),
        ("rnostrictatime", c.MOUNT_ATTR_RELATIME),
        ("rnorelatime", c.MOUNT_ATTR_STRICTATIME),
    ],
)
def test_recursive_atime_modes(opt: str, mode: int) -> None:
    o = parse_options([opt])
    # mount_setattr(2): an atime mode is set with the whole MOUNT_ATTR__ATIME field in attr_clr.
    assert o.attr_set == mode
    assert o.attr_clr == c.MOUNT_ATTR__ATIME
    assert o.has_recursive_attrs


def test_last_recursive_atime_wins() -> None:
    o = parse_options(["rnoatime", "rstrictatime", "rro"])
    assert o.attr_set == c.MOUNT_ATTR_STRICTATIME | c.MOUNT_ATTR_RDONLY
    assert o.attr_clr == c.MOUNT_ATTR__ATIME


def test_rro_then_rrw() -> None:
    o = parse_options(["rro", "rrw"])
    assert o.attr_set == 0
    assert o.attr_clr == c.MOUNT_ATTR_RDONLY


def test_idmap_ridmap_tmpcopyup() -> None:
    assert parse_options(["idmap"]).idmap and not parse_options(["idmap"]).idmap_recursive
    r = parse_options(["ridmap"])
    assert r.idmap and r.idmap_recursive
    assert parse_options(["tmpcopyup"]).tmpcopyup
    assert parse_options(["idmap", "tmpcopyup"]).data == ""


def test_data_passthrough_in_order() -> None:
    o = parse_options(["nosuid", "mode=755", "strictatime", "size=65536k", "newinstance", "ptmxmode=0666"])
    assert o.data == "mode=755,size=65536k,newinstance,ptmxmode=0666"
    assert o.flags == c.MS_NOSUID | c.MS_STRICTATIME


def test_unknown_options_are_data() -> None:
    o = parse_options(["frobnicate", "x-gvfs-hide", "uid=1000"])
    assert o.data == "frobnicate,x-gvfs-hide,uid=1000"
    assert o.flags == 0


def test_none_and_empty() -> None:
    assert parse_options(None) == parse_options([])
    assert parse_options(["", "ro"]).data == ""


def test_bind_remount_rule() -> None:
    assert not parse_options(["rbind"]).needs_bind_remount
    assert not parse_options(["bind", "rprivate", "rro"]).needs_bind_remount
    assert parse_options(["rbind", "ro"]).needs_bind_remount
    assert parse_options(["bind", "nosuid"]).needs_bind_remount
    assert not parse_options(["ro"]).needs_bind_remount  # not a bind
    assert parse_options(["rbind"]).is_recursive_bind
    assert not parse_options(["bind"]).is_recursive_bind


def test_mount_options_is_exactly_the_tables() -> None:
    expected = {
        *FLAG_OPTIONS,
        *PROPAGATION_OPTIONS,
        *RECURSIVE_OPTIONS,
        "idmap",
        "ridmap",
        "tmpcopyup",
        "rnoatime",
        "ratime",
        "rrelatime",
        "rnorelatime",
        "rstrictatime",
        "rnostrictatime",
    }
    assert expected == MOUNT_OPTIONS
    for opt in MOUNT_OPTIONS:
        # Everything we claim is interpreted, never passed as data.
        assert parse_options([opt]).data == ""


@pytest.mark.skipif(not SPEC_CONFIG_MD.exists(), reason="the OCI spec text is not in /work/shared")
def test_every_spec_option_is_implemented() -> None:
    text = SPEC_CONFIG_MD.read_text()
    table = text.split('### <a name="configLinuxMountOptions" />', 1)[1].split("[^1]:", 1)[0]
    names = {m.group(1).strip() for m in re.finditer(r"^ `([^`]+)`\s*\|", table, re.M)}
    assert len(names) > 50
    assert names <= MOUNT_OPTIONS, names - MOUNT_OPTIONS


def test_rootfs_propagation_flags() -> None:
    assert rootfs_propagation_flags(None) == 0
    assert rootfs_propagation_flags("") == 0
    assert rootfs_propagation_flags("slave") == c.MS_SLAVE
    assert rootfs_propagation_flags("shared") == c.MS_SHARED
    assert rootfs_propagation_flags("private") == c.MS_PRIVATE
    assert rootfs_propagation_flags("unbindable") == c.MS_UNBINDABLE
    assert rootfs_propagation_flags("rslave") == c.MS_SLAVE | c.MS_REC
    with pytest.raises(ValueError, match="bogus"):
        rootfs_propagation_flags("bogus")
