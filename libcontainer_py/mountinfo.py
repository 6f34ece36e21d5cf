"""/proc/self/mountinfo, parsed (proc(5)): what is mounted where, with which options.

Used to find the mount that holds the rootfs (its propagation must not be shared for pivot_root), the
host's cgroup hierarchies (cgroups/paths.py), and by the tests to check what a spec produced.
"""

from __future__ import annotations

from libcontainer_py._record import Record

_OCTAL_DIGITS = frozenset("01234567")


def _unescape(field: str) -> str:
    # The kernel escapes space, tab, newline and backslash as \ooo in mountinfo's path fields.
    # By hand, not with a regexp: `re` costs ~5 ms to import here, and most fields have no escape.
    if "\\" not in field:
        return field
    out = []
    i = 0
    while i < len(field):
        code = field[i + 1 : i + 4]
        if field[i] == "\\" and len(code) == 3 and _OCTAL_DIGITS.issuperset(code):
            out.append(chr(int(code, 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


class MountInfo(Record, frozen=True):
    mount_id: int
    parent_id: int
    root: str
    mountpoint: str
    options: frozenset[str]
    optional: tuple[str, ...]
    fstype: str
    source: str
    super_options: tuple[str, ...]

    @property
    def shared(self) -> bool:
        return any(tag.startswith("shared:") for tag in self.optional)

    @property
    def slave(self) -> bool:
        return any(tag.startswith("master:") for tag in self.optional)


def parse_mountinfo(text: str) -> list[MountInfo]:
    """Parse mountinfo text; lines that do not parse are skipped."""
    out = []
    for line in text.splitlines():
        pre, sep, post = line.partition(" - ")
        if not sep:
            continue
        fields = pre.split()
        tail = post.split()
        if len(fields) < 6 or len(tail) < 2:
            continue
        out.append(
            MountInfo(
                mount_id=int(fields[0]),
                parent_id=int(fields[1]),
                root=_unescape(fields[3]),
                mountpoint=_unescape(fields[4]),
                options=frozenset(fields[5].split(",")),
                optional=tuple(fields[6:]),
                fstype=tail[0],
                source=_unescape(tail[1]),
                super_options=tuple(tail[2].split(",")) if len(tail) > 2 else (),
            )
        )
    return out


def read_mountinfo(pid: str = "self", *, fstypes: tuple[str, ...] = ()) -> list[MountInfo]:
    """The mounts of ``pid``'s mount namespace; with ``fstypes``, only the mounts of those types
    (the other lines are not parsed: a container's init wants just the cgroup ones)."""
    with open(f"/proc/{pid}/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        text = f.read()
    if fstypes:
        marks = tuple(f" - {t} " for t in fstypes)
        text = "\n".join(line for line in text.splitlines() if any(m in line for m in marks))
    return parse_mountinfo(text)


_CGROUP_MOUNTS: list[MountInfo] = []


def cgroup_mounts() -> list[MountInfo]:
    """The cgroup and cgroup2 mounts of this mount namespace, read once per process: a library
    caller reads them before its first fork (init/child.py preload), and each container's init, a
    copy of it in a copy of its mount namespace, finds them here instead of reading and parsing
    mountinfo again (~0.25 ms of every create's critical path). The host's cgroup hierarchies are
    taken as fixed for the life of the process, as the cgroup manager's own cache does
    (cgroups/paths.py detect_mounts). A process that joins another mount namespace calls
    forget_cgroup_mounts() first."""
    if not _CGROUP_MOUNTS:
        _CGROUP_MOUNTS.extend(read_mountinfo(fstypes=("cgroup", "cgroup2")))
    return _CGROUP_MOUNTS


def forget_cgroup_mounts() -> None:
    """After setns into another mount namespace, whose cgroup mounts may differ."""
    _CGROUP_MOUNTS.clear()


def mount_containing(path: str, mounts: list[MountInfo]) -> MountInfo | None:
    """The last-mounted (top) mount whose mountpoint is ``path`` or its nearest ancestor."""
    best: MountInfo | None = None
    best_len = -1
    for m in mounts:
        mp = m.mountpoint
        inside = path == mp or path.startswith(mp.rstrip("/") + "/") or mp == "/"
        if inside and len(mp) >= best_len:
            best, best_len = m, len(mp)
    return best
