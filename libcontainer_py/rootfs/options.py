"""Parse a mount's ``options`` the way mount(8) and runc do.

An option is one of:

* a mount(2) flag that is set (``ro``, ``nosuid``, ``bind``...) or cleared (``rw``, ``suid``...);
* a propagation change (``rprivate``, ``slave``...), applied by separate mount(2) calls after the mount
  (the kernel refuses to mix propagation with other flags in one call);
* a recursive ``r*`` attribute (``rro``, ``rnosuid``...), applied with mount_setattr(2) and AT_RECURSIVE
  (Linux 5.12+), because a MS_REMOUNT only changes the top mount of an rbind tree;
* ``idmap``/``ridmap`` (an idmapped mount, never passed to mount(2)) and ``tmpcopyup`` (copy the
  directory's existing content into the new tmpfs);
* anything else: filesystem-specific data (``mode=755``, ``size=65536k``, ``newinstance``...), passed
  comma-joined as mount(2)'s ``data``, as the spec asks of unknown options.

Pure: no system calls, so it is unit-tested without root.
"""

from __future__ import annotations

from libcontainer_py._record import Record, field
from libcontainer_py._sys import consts as c

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from collections.abc import Iterable

# name -> (clear?, MS_* bits). The table of runc's parseMountOptions (libcontainer/specconv).
FLAG_OPTIONS: dict[str, tuple[bool, int]] = {
    "defaults": (False, 0),
    "ro": (False, c.MS_RDONLY),
    "rw": (True, c.MS_RDONLY),
    "bind": (False, c.MS_BIND),
    "rbind": (False, c.MS_BIND | c.MS_REC),
    "nosuid": (False, c.MS_NOSUID),
    "suid": (True, c.MS_NOSUID),
    "nodev": (False, c.MS_NODEV),
    "dev": (True, c.MS_NODEV),
    "noexec": (False, c.MS_NOEXEC),
    "exec": (True, c.MS_NOEXEC),
    "sync": (False, c.MS_SYNCHRONOUS),
    "async": (True, c.MS_SYNCHRONOUS),
    "dirsync": (False, c.MS_DIRSYNC),
    "remount": (False, c.MS_REMOUNT),
    "mand": (False, c.MS_MANDLOCK),
    "nomand": (True, c.MS_MANDLOCK),
    "atime": (True, c.MS_NOATIME),
    "noatime": (False, c.MS_NOATIME),
    "diratime": (True, c.MS_NODIRATIME),
    "nodiratime": (False, c.MS_NODIRATIME),
    "relatime": (False, c.MS_RELATIME),
    "norelatime": (True, c.MS_RELATIME),
    "strictatime": (False, c.MS_STRICTATIME),
    "nostrictatime": (True, c.MS_STRICTATIME),
    "nosymfollow": (False, c.MS_NOSYMFOLLOW),
    "symfollow": (True, c.MS_NOSYMFOLLOW),
    "lazytime": (False, c.MS_LAZYTIME),
    "nolazytime": (True, c.MS_LAZYTIME),
    "silent": (False, c.MS_SILENT),
    "loud": (True, c.MS_SILENT),
    "iversion": (False, c.MS_I_VERSION),
    "noiversion": (True, c.MS_I_VERSION),
}

PROPAGATION_OPTIONS: dict[str, int] = {
    "private": c.MS_PRIVATE,
    "rprivate": c.MS_PRIVATE | c.MS_REC,
    "shared": c.MS_SHARED,
    "rshared": c.MS_SHARED | c.MS_REC,
    "slave": c.MS_SLAVE,
    "rslave": c.MS_SLAVE | c.MS_REC,
    "unbindable": c.MS_UNBINDABLE,
    "runbindable": c.MS_UNBINDABLE | c.MS_REC,
}

# name -> (clear?, MOUNT_ATTR_* bit). The atime modes are not independent bits: see ATIME_OPTIONS.
RECURSIVE_OPTIONS: dict[str, tuple[bool, int]] = {
    "rro": (False, c.MOUNT_ATTR_RDONLY),
    "rrw": (True, c.MOUNT_ATTR_RDONLY),
    "rnosuid": (False, c.MOUNT_ATTR_NOSUID),
    "rsuid": (True, c.MOUNT_ATTR_NOSUID),
    "rnodev": (False, c.MOUNT_ATTR_NODEV),
    "rdev": (True, c.MOUNT_ATTR_NODEV),
    "rnoexec": (False, c.MOUNT_ATTR_NOEXEC),
    "rexec": (True, c.MOUNT_ATTR_NOEXEC),
    "rnodiratime": (False, c.MOUNT_ATTR_NODIRATIME),
    "rdiratime": (True, c.MOUNT_ATTR_NODIRATIME),
    "rnosymfollow": (False, c.MOUNT_ATTR_NOSYMFOLLOW),
    "rsymfollow": (True, c.MOUNT_ATTR_NOSYMFOLLOW),
}

# The recursive access-time modes. mount_setattr(2) takes one atime *mode* (a value in the
# MOUNT_ATTR__ATIME field, with the whole field in attr_clr; clearing a single atime bit is EINVAL),
# so each option selects a mode and the last one wins. The "no"/"not" forms select the kernel default,
# relatime, as mount(8) documents for atime/nostrictatime; "rnorelatime" asks for atime updates that
# relatime would skip, i.e. strictatime.
ATIME_OPTIONS: dict[str, int] = {
    "rnoatime": c.MOUNT_ATTR_NOATIME,
    "ratime": c.MOUNT_ATTR_RELATIME,
    "rrelatime": c.MOUNT_ATTR_RELATIME,
    "rnorelatime": c.MOUNT_ATTR_STRICTATIME,
    "rstrictatime": c.MOUNT_ATTR_STRICTATIME,
    "rnostrictatime": c.MOUNT_ATTR_RELATIME,
}

EXTENSION_OPTIONS = frozenset({"idmap", "ridmap", "tmpcopyup"})

#: Every option name this runtime interprets itself (the features document's ``mountOptions``).
MOUNT_OPTIONS: frozenset[str] = frozenset(
    {*FLAG_OPTIONS, *PROPAGATION_OPTIONS, *RECURSIVE_OPTIONS, *ATIME_OPTIONS, *EXTENSION_OPTIONS}
)

# The flags a plain bind mount ignores: with any other flag a second MS_REMOUNT|MS_BIND call is needed.
BIND_ONLY_FLAGS = c.MS_BIND | c.MS_REC | c.MS_REMOUNT


class MountOptions(Record, frozen=True):
    """The parsed ``options`` of one mount."""

    #: MS_* flags for mount(2) (including MS_BIND/MS_REC for bind and rbind).
    flags: int = 0
    #: MS_* flags explicitly turned off (``rw``, ``suid``...): a remount must not add them back even when
    #: the kernel has them locked (see mounts.locked_flags).
    clear_flags: int = 0
    #: MS_* propagation changes, in the order given (each may include MS_REC).
    propagation: tuple[int, ...] = ()
    #: MOUNT_ATTR_* to set / clear recursively with mount_setattr(AT_RECURSIVE).
    attr_set: int = 0
    attr_clr: int = 0
    #: Filesystem-specific options, comma-joined, for mount(2)'s data argument ("" for none).
    data: str = ""
    #: ``idmap`` or ``ridmap`` given; ``idmap_recursive`` for ``ridmap``.
    idmap: bool = False
    idmap_recursive: bool = False
    #: ``tmpcopyup`` given: copy the destination's existing content into the new tmpfs.
    tmpcopyup: bool = False
    #: The option strings as given, for messages.
    given: tuple[str, ...] = field(default=(), compare=False)

    @property
    def is_bind(self) -> bool:
        return bool(self.flags & c.MS_BIND)

    @property
    def is_recursive_bind(self) -> bool:
        return self.flags & (c.MS_BIND | c.MS_REC) == c.MS_BIND | c.MS_REC

    @property
    def has_recursive_attrs(self) -> bool:
        return bool(self.attr_set or self.attr_clr)

    @property
    def needs_bind_remount(self) -> bool:
        """A bind mount ignores every flag but MS_BIND|MS_REC: ro, nosuid... need a second call,
        mount(NULL, target, NULL, MS_REMOUNT|MS_BIND|flags) (what runc does)."""
        return self.is_bind and bool(self.flags & ~BIND_ONLY_FLAGS)


def parse_options(options: Iterable[str] | None) -> MountOptions:
    """Parse a mount's options; unknown ones become data, in their given order."""
    flags = clear = attr_set = attr_clr = 0
    propagation: list[int] = []
    data: list[str] = []
    idmap = idmap_recursive = tmpcopyup = False
    given = tuple(options or ())
    for opt in given:
        if opt in FLAG_OPTIONS:
            is_clear, bits = FLAG_OPTIONS[opt]
            if is_clear:
                flags &= ~bits
                clear |= bits
            else:
                flags |= bits
                clear &= ~bits
        elif opt in PROPAGATION_OPTIONS:
            propagation.append(PROPAGATION_OPTIONS[opt])
        elif opt in RECURSIVE_OPTIONS:
            is_clear, bits = RECURSIVE_OPTIONS[opt]
            if is_clear:
                attr_clr |= bits
                attr_set &= ~bits
            else:
                attr_set |= bits
                attr_clr &= ~bits
        elif opt in ATIME_OPTIONS:
            attr_set = (attr_set & ~c.MOUNT_ATTR__ATIME) | ATIME_OPTIONS[opt]
            attr_clr |= c.MOUNT_ATTR__ATIME
        elif opt == "idmap":
            idmap = True
        elif opt == "ridmap":
            idmap = idmap_recursive = True
        elif opt == "tmpcopyup":
            tmpcopyup = True
        elif opt:
            data.append(opt)
    return MountOptions(
        flags=flags,
        clear_flags=clear,
        propagation=tuple(propagation),
        attr_set=attr_set,
        attr_clr=attr_clr,
        data=",".join(data),
        idmap=idmap,
        idmap_recursive=idmap_recursive,
        tmpcopyup=tmpcopyup,
        given=given,
    )


def rootfs_propagation_flags(value: str | None) -> int:
    """``linux.rootfsPropagation`` -> MS_* (0 for unset). The spec lists shared/slave/private/
    unbindable; the r* forms are accepted too, as runc does."""
    if not value:
        return 0
    try:
        return PROPAGATION_OPTIONS[str(value)]
    except KeyError:
        raise ValueError(f"unknown propagation {value!r}") from None
