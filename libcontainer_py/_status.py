"""A container's status and OCI state from its state.json, with nothing imported but `posix`.

`pyrunc state` and `pyrunc events --stats` are read-only, and callers (podman, conmon, the shims)
run them often: runc answers in ~5 ms, Python's own start here is ~9 ms, and every module imported
on top costs ~0.15 ms however small. So what they need lives here and in cgroups/_read.py, with no
enum, Record, contextlib or error classes at import; state.py (Status, ContainerState, StateDir)
and container.py are built on these functions, so the fast verbs and the library cannot disagree.
"""

# No `from __future__ import annotations`: `pyrunc state` and `events --stats` import this module,
# and the __future__ module costs them ~0.15 ms (tests/integration/test_cli_imports.py); annotations
# that name TYPE_CHECKING imports are strings.
import posix

from libcontainer_py._paths import abspath, exists, join

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from typing import Any

STATE_FILE = "state.json"
EXEC_FIFO = "exec.fifo"
INIT_COMM = b"pyrunc:[2:INIT]"  # the init's name (PR_SET_NAME) until it execs the program
# runc's ^[\w+\-.]+$ with Go's ASCII \w ([0-9A-Za-z_]): a non-ASCII letter would let ids through
# that runc and its callers refuse. A set, not a regexp: `re` costs ~6 ms to import here.
ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.")


def read_all(path: str) -> bytes:
    """The whole of a small file through posix.read (OSError propagates): a text file object also
    makes an fstat, an ioctl, two lseeks and a second read, each a system call. state.json, cgroup
    files, and the init's /proc/self/setgroups, /proc/self/cgroup and /etc/passwd are read so."""
    fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    try:
        chunks = []
        while block := posix.read(fd, 65536):
            chunks.append(block)
    finally:
        posix.close(fd)
    return b"".join(chunks)


def valid_id(container_id: str) -> bool:
    return (
        bool(container_id)
        and ID_CHARS.issuperset(container_id)
        and container_id not in (".", "..")
        and len(container_id) <= 1024
    )


def _proc_stat(pid: int) -> bytes | None:
    try:
        fd = posix.open(f"/proc/{pid}/stat", posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError:
        return None
    try:
        return posix.read(fd, 4096)  # one read: the kernel writes the whole line at once
    except OSError:
        return None
    finally:
        posix.close(fd)


def process_start_time(pid: int, *, zombie: bool = False) -> int | None:
    """Field 22 of /proc/PID/stat (starttime in clock ticks), or None when the pid is gone, or has
    exited and is a zombie (unless `zombie`: a zombie's too, for its parent that will reap it).
    Together with the pid it names one process for the life of the boot."""
    data = _proc_stat(pid)
    if data is None:
        return None
    # comm (field 2) may hold spaces and parentheses: split after the last ')'.
    rest = data[data.rfind(b")") + 2 :].split()
    try:
        if not zombie and (rest[0] == b"Z" or rest[0] == b"X"):  # exited: the container is stopped
            return None
        return int(rest[19])
    except (IndexError, ValueError):
        return None


def comm(pid: int) -> bytes | None:
    """The process's name (field 2 of /proc/PID/stat), or None when it is gone."""
    data = _proc_stat(pid)
    if data is None:
        return None
    return data[data.find(b"(") + 1 : data.rfind(b")")]


def cgroup_frozen(paths: dict[str, str]) -> bool:
    """Whether the cgroup named by state.json's cgroup_paths is frozen (or freezing): v2's
    cgroup.freeze, v1's freezer.state; False without a cgroup or a freezer. What the drivers'
    is_frozen() answers, without building a manager (which reads and parses mountinfo)."""
    if not paths:
        return False
    unified = paths.get("")
    if unified is not None:
        return _read(join(unified.rstrip("/"), "cgroup.freeze")) == "1"
    freezer = paths.get("freezer")
    return freezer is not None and _read(join(freezer, "freezer.state")) in ("FROZEN", "FREEZING")


def _read(path: str) -> str | None:
    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError:
        return None
    try:
        return posix.read(fd, 4096).decode("ascii", "replace").strip()
    except OSError:
        return None
    finally:
        posix.close(fd)


def live_status(pid: int, pid_start: int, state_dir: str, cgroup_paths: dict[str, str]) -> str:
    """The status of a container whose create has finished ("stopped", "created", "paused" or
    "running"). The status is derived, not stored (as runc does): the init may die at any moment."""
    if not pid or process_start_time(pid) != pid_start:
        return "stopped"
    if exists(join(state_dir, EXEC_FIFO)) and comm(pid) == INIT_COMM:
        # Created: the init waits on the fifo. A fifo left by a `start` killed after it released
        # the init is not enough: the init has exec'd the program by then (its name changed).
        return "created"
    if cgroup_frozen(cgroup_paths):
        return "paused"
    return "running"


def oci_state(
    *,
    oci_version: str,
    container_id: str,
    status: str,
    pid: int,
    bundle: str,
    rootfs: str,
    created: str,
    owner: str,
    annotations: dict[str, str],
) -> "dict[str, Any]":
    """The OCI state (state-schema.json) plus runc's `rootfs`, `created` and `owner`: what
    `pyrunc state` prints."""
    if not oci_version:
        from libcontainer_py._version import SPEC_VERSION

        oci_version = SPEC_VERSION
    doc: dict[str, Any] = {
        "ociVersion": oci_version,
        "id": container_id,
        "status": status,
        "pid": pid if status != "stopped" else 0,
        "bundle": bundle,
        "rootfs": rootfs,
        "created": created,
        "owner": owner,
    }
    if annotations:
        doc["annotations"] = dict(annotations)
    return doc


def read_state(root: str, container_id: str) -> "dict[str, Any] | None":
    """state.json of a container whose create has finished, as a dict with every field
    ContainerState has (its defaults filled in), or None for anything else: no such container, an
    invalid id, a file that is not what ContainerState.from_json takes, a create still at work.
    The caller then takes the library's path, which raises the error that says what is wrong."""
    if not valid_id(container_id):
        return None
    from libcontainer_py import _json

    path = join(abspath(root), container_id)
    try:
        fd = posix.open(join(path, STATE_FILE), posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError:
        return None
    try:
        chunks = []
        while block := posix.read(fd, 65536):
            chunks.append(block)
        data = _json.loads(b"".join(chunks).decode())
    except (OSError, ValueError):
        return None
    finally:
        posix.close(fd)
    if type(data) is not dict or data.get("stage", "creating") != "created":
        return None
    # ContainerState's fields and defaults; only the expected types take this path (the library's
    # then does the same with the same values).
    for key, kind, default in _FIELDS:
        if type(data.setdefault(key, {} if kind is dict else default)) is not kind:
            return None  # a required field missing (None), or of another type
    data["dir"] = path
    return data


_FIELDS: "tuple[tuple[str, type, Any], ...]" = (
    ("id", str, None),
    ("bundle", str, None),
    ("rootfs", str, None),
    ("pid", int, 0),
    ("pid_start", int, 0),
    ("created", str, ""),
    ("owner", str, ""),
    ("oci_version", str, ""),
    ("annotations", dict, None),
    ("cgroup_paths", dict, None),
)
