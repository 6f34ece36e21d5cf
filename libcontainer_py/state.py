"""Container status and the state directory.

Layout under the state root (`--root`, default /run/pyrunc), one directory per container:

    <root>/<id>/state.json   what the runtime must remember (written atomically: tmp + rename)
    <root>/<id>/exec.fifo    exists from create until start: the init blocks opening it (runtime.md:
                             `create` must not run the user program; `start` releases it).
                             Not made by Container.create(start=True) (run), whose init does not wait.

Concurrent commands on one container serialise on flock(2) of the container's directory, so that
two `delete`s or a `start` racing a `kill` never see half a state. A duplicate id is refused by
mkdir(2) itself, which is atomic.

The status is derived, not stored (as runc does): the init process may die at any moment, and
only the kernel knows. `stopped` when the init pid is gone or is another process (pid reuse is
detected by the start time in /proc/PID/stat), `created` while the exec fifo exists, `paused`
when the cgroup is frozen, `running` otherwise.
"""

from __future__ import annotations

import errno
import fcntl
import posix
import time

from libcontainer_py import _json
from libcontainer_py._paths import abspath, exists, isdir, isfile, join
from libcontainer_py._record import Record, as_dict, field

# The status logic and the id rule live in _status.py (no enum, no Record), where the read-only
# verbs use them without importing this module.
from libcontainer_py._status import EXEC_FIFO, INIT_COMM, STATE_FILE, live_status, process_start_time, read_all
from libcontainer_py._status import ID_CHARS as _ID_CHARS
from libcontainer_py._strenum import StrEnum
from libcontainer_py.errors import LibcontainerError

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from typing import Any


class ContainerNotFound(LibcontainerError):
    """No container with that id under the state root."""

    def __init__(self, container_id: str) -> None:
        # "does not exist" is what containerd's go-runc and podman match on.
        super().__init__(f"container {container_id!r} does not exist")


class ContainerExists(LibcontainerError):
    def __init__(self, container_id: str) -> None:
        super().__init__(f"container with id {container_id!r} already exists: choose another id")


class InvalidState(LibcontainerError):
    """An operation not allowed in the container's current status."""


class CorruptState(LibcontainerError):
    """A state.json that cannot be read as a container's state (a disk fault, a hand edit: the
    runtime's own saves are atomic). `pyrunc delete --force` removes the directory
    (StateDir.remove_corrupt)."""


class Status(StrEnum):
    CREATING = "creating"
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"

    # The lifecycle rules live here, not in the verbs (runtime.md "Operations").
    def can_start(self) -> bool:
        return self is Status.CREATED

    def can_kill(self) -> bool:
        return self in (Status.CREATED, Status.RUNNING, Status.PAUSED)

    def can_delete(self) -> bool:
        return self in (Status.STOPPED, Status.CREATING)

    def can_pause(self) -> bool:
        return self is Status.RUNNING

    def can_resume(self) -> bool:
        return self is Status.PAUSED

    def can_update(self) -> bool:
        return self in (Status.CREATED, Status.RUNNING, Status.PAUSED)

    def can_exec(self) -> bool:
        return self in (Status.CREATED, Status.RUNNING)


def validate_id(container_id: str) -> str:
    if not container_id or not _ID_CHARS.issuperset(container_id) or container_id in (".", ".."):
        raise LibcontainerError(f"invalid container id {container_id!r}: use letters, digits, '_', '+', '-' and '.'")
    if len(container_id) > 1024:
        raise LibcontainerError(f"invalid container id: longer than 1024 characters ({len(container_id)})")
    return container_id


class ContainerState(Record):
    """What state.json holds: the OCI state plus what the runtime needs to act on the container."""

    id: str
    bundle: str
    rootfs: str
    pid: int = 0
    pid_start: int = 0
    created: str = ""
    owner: str = ""
    oci_version: str = ""
    annotations: dict[str, str] = field(default_factory=dict)
    config: str = ""  # the config.json the container was created from (absolute path)
    cgroup_paths: dict[str, str] = field(default_factory=dict)  # cgroups.load_manager() rebuilds it
    stage: str = "creating"  # "creating" until create finished, then "created"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        # Compact: json's C encoder runs only without indent (~5x faster; four saves per create).
        return _json.dumps(as_dict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ContainerState:
        data = _json.loads(text)
        known = set(cls.__record_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def now_rfc3339() -> str:
    t = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t // 1_000_000_000)) + f".{t % 1_000_000_000:09d}Z"


class StateDir:
    """One container's directory under the state root."""

    def __init__(self, root: str, container_id: str) -> None:
        self.root = abspath(posix.fspath(root))
        self.id = validate_id(container_id)
        self.path = join(self.root, container_id)
        self._held = 0  # this object holds the directory's lock (a verb, or create)
        self._creating = False  # ... and it is create's, held from mkdir to the end of create

    @property
    def state_file(self) -> str:
        return join(self.path, STATE_FILE)

    @property
    def exec_fifo(self) -> str:
        return join(self.path, EXEC_FIFO)

    def exists(self) -> bool:
        return isfile(self.state_file)

    def create(self) -> None:
        """Claim the id atomically: mkdir fails if another create got there first."""
        try:
            _makedirs(self.root)
        except OSError as exc:
            why = "it is not a directory" if isinstance(exc, FileExistsError) else exc.strerror or str(exc)
            raise LibcontainerError(f"cannot use {self.root} as the state directory (--root): {why}") from None
        try:
            posix.mkdir(self.path, 0o711)
        except FileExistsError:
            raise ContainerExists(self.id) from None
        except OSError as exc:
            raise LibcontainerError(
                f"cannot make the container's state directory {self.path} (under --root): {exc.strerror or exc}"
            ) from None

    def lock(self, *, must_exist: bool = True) -> _DirLock:
        """The directory's flock, for a `with` block (raises ContainerNotFound when it is gone)."""
        return _DirLock(self, must_exist, creating=False)

    def remove_orphan(self) -> bool:
        """Remove a directory that a killed create left before it could write state.json (it
        claims the id with mkdir first). Waits for a create still holding the lock; True when
        something was removed."""
        try:
            with self.lock():
                if exists(self.state_file):
                    return False  # a real container: delete it the usual way
                self.remove()
                return True
        except ContainerNotFound:
            return False

    def remove_corrupt(self) -> bool:
        """Remove the directory of a container whose state.json cannot be read (load() raises
        CorruptState), checked again under the lock; True when it was removed. What processes or
        cgroups it had cannot be known from it: they are left as they are."""
        try:
            with self.lock():
                try:
                    self.load()
                except CorruptState:
                    self.remove()
                    return True
                return False
        except ContainerNotFound:
            return False

    def creating(self) -> _DirLock:
        """create holds the directory's lock from the moment it claimed the id to its end: other
        verbs wait for it, and a create that was killed is told from one that is still working by
        the lock alone (the kernel drops a dead holder's flock). Its children never hold it: they
        close every fd they inherit (init/process_setup.close_inherited_fds)."""
        return _DirLock(self, True, creating=True)

    def creator_alive(self) -> bool:
        """Whether a create of this container is still at work (it holds the lock)."""
        if self._creating:
            return True
        if self._held:  # we hold the lock ourselves: whoever created it has finished or died
            return False
        try:
            fd = posix.open(self.path, posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True  # held: create (or, for a moment, another verb)
        finally:
            posix.close(fd)
        return False

    def load(self) -> ContainerState:
        try:
            # (os.read: create, exec, wait and delete each load it)
            return ContainerState.from_json(read_all(self.state_file).decode())
        except FileNotFoundError:
            raise ContainerNotFound(self.id) from None
        except (ValueError, TypeError) as exc:
            raise CorruptState(
                f"state of container {self.id!r} is corrupt ({self.state_file}: {exc}): remove it with delete --force"
            ) from exc

    def save(self, state: ContainerState) -> None:
        tmp = join(self.path, f".{STATE_FILE}.{posix.getpid()}")
        fd = posix.open(tmp, posix.O_WRONLY | posix.O_CREAT | posix.O_TRUNC | posix.O_CLOEXEC, 0o600)
        try:
            # No fsync: rename makes the update atomic for every reader and for a runtime killed
            # at any point, which is what matters for a state dir on /run (a tmpfs, gone at a
            # power loss anyway); an fsync per save cost ~1.4 ms, four saves per create.
            posix.write(fd, state.to_json().encode())
        finally:
            posix.close(fd)
        if not _exchange(tmp, self.state_file):
            posix.replace(tmp, self.state_file)

    def remove(self) -> None:
        """Remove the directory and what is in it (files only: nothing else is ever put there)."""
        try:
            names = posix.listdir(self.path)
        except FileNotFoundError:
            return
        for name in names:
            try:  # noqa: SIM105  (not contextlib: its import costs ~3 ms of every pyrunc call)
                posix.unlink(join(self.path, name))
            except FileNotFoundError:
                pass
        try:
            posix.rmdir(self.path)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise


class _DirLock:
    """StateDir.lock() and .creating(): flock(2) of the directory for a `with` block. A class, not a
    @contextlib.contextmanager generator: contextlib's import costs ~3 ms of every pyrunc call."""

    __slots__ = ("_creating", "_dir", "_fd", "_must_exist")

    def __init__(self, state_dir: StateDir, must_exist: bool, *, creating: bool) -> None:
        self._dir = state_dir
        self._must_exist = must_exist
        self._creating = creating
        self._fd = -1

    def __enter__(self) -> None:
        d = self._dir
        try:
            fd = posix.open(d.path, posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
        except FileNotFoundError:
            raise ContainerNotFound(d.id) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if self._must_exist and not exists(d.path):  # deleted while we waited
                raise ContainerNotFound(d.id)
        except BaseException:
            posix.close(fd)
            raise
        self._fd = fd
        d._held += 1
        if self._creating:
            d._creating = True

    def __exit__(self, *exc_info: object) -> None:  # None: an exception of the block propagates
        d = self._dir
        try:
            if self._creating:
                d._creating = False
            d._held -= 1
        finally:
            fd, self._fd = self._fd, -1
            posix.close(fd)


def _exchange(new: str, path: str) -> bool:
    """Swap ``new`` in for the existing ``path`` atomically (renameat2 RENAME_EXCHANGE), then drop
    the old content; False when that cannot be done (no ``path`` yet, no renameat2): the caller
    renames. Why not rename(2): on ext4 (auto_da_alloc) a rename over an existing file first
    starts the writeback of the new one, ~0.15 ms per save here; an exchange does not."""
    if not exists(path):  # the first save: nothing to swap with (and no error to format)
        return False
    from libcontainer_py import _sys  # here: most verbs never save

    try:
        _sys.renameat2(_sys.consts.AT_FDCWD, new, _sys.consts.AT_FDCWD, path, _sys.consts.RENAME_EXCHANGE)
    except OSError:  # no `path` yet (ENOENT), or a filesystem without exchange (EINVAL)
        return False
    try:  # noqa: SIM105  (not contextlib: its import costs ~3 ms of every pyrunc call)
        posix.unlink(new)  # now the previous state
    except FileNotFoundError:
        pass
    return True


def status_of(state: ContainerState, state_dir: StateDir) -> Status:
    if state.stage == "creating":
        # create did not finish: it is still at work (it holds the directory's lock), or it was
        # killed mid-way: then the container never came to be, whatever of it is left (an init
        # process, a cgroup) is debris for delete to remove.
        return Status.CREATING if state_dir.creator_alive() else Status.STOPPED
    return Status(live_status(state.pid, state.pid_start, state_dir.path, state.cgroup_paths))


def list_ids(root: str) -> list[str]:
    try:
        names = sorted(posix.listdir(root))
    except FileNotFoundError:
        return []
    return [n for n in names if isfile(join(root, n, STATE_FILE))]


__all__ = [
    "EXEC_FIFO",
    "INIT_COMM",
    "STATE_FILE",
    "ContainerExists",
    "ContainerNotFound",
    "ContainerState",
    "InvalidState",
    "StateDir",
    "Status",
    "list_ids",
    "now_rfc3339",
    "process_start_time",
    "status_of",
    "validate_id",
]


def _makedirs(root: str) -> None:
    """os.makedirs(root, mode=0o711, exist_ok=True), with the common cases (the root is there, or
    only its last part is missing) without importing os (docs/performance.md, "exec without os")."""
    try:
        posix.mkdir(root, 0o711)
    except FileExistsError:
        if not isdir(root):
            raise
    except FileNotFoundError:
        import os

        os.makedirs(root, mode=0o711, exist_ok=True)
