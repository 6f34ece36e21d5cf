"""The do-nothing driver: cgroups are off (no cgroup filesystem, or the caller asked for none).

Every call succeeds and changes nothing, except set() with resources that ask for a limit: silently
running a container without the memory or pids limit it asked for would be worse than an error."""

from __future__ import annotations

from libcontainer_py.cgroups.base import Manager, Write
from libcontainer_py.cgroups.paths import CgroupError, Layout
from libcontainer_py.cgroups.stats import Stats

# Type-only: importing the spec models (pydantic) costs ~75 ms, which `pyrunc events --stats`,
# `pause` and `delete` need not pay (they never build a LinuxResources).
TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from libcontainer_py.spec.resources import LinuxResources


def _asks_for_something(r: LinuxResources) -> list[str]:
    """The top-level ``linux.resources`` fields that would change a cgroup (devices aside: a runtime
    without cgroups still builds /dev from linux.devices, and default specs always carry rules)."""
    data = r.to_dict()
    data.pop("devices", None)
    return sorted(k for k, v in data.items() if v not in (None, {}, []))


class NoneManager(Manager):
    """No cgroup at all."""

    layout = Layout.NONE

    def __init__(self, *, strict: bool = True) -> None:
        self._strict = strict

    @property
    def path(self) -> str:
        return ""

    def apply(self, pid: int) -> None:
        return None

    def create(self) -> bool:
        return False

    def add_process(self, pid: int) -> None:
        return None

    def plan(self, resources: LinuxResources) -> list[Write]:
        asked = _asks_for_something(resources)
        if asked and self._strict:
            raise CgroupError(
                f"{', '.join(asked)} need cgroups, but no cgroup filesystem is mounted (or cgroups are disabled)",
                field="linux.resources",
            )
        return []

    def set(self, resources: LinuxResources | None) -> None:
        if resources is not None:
            self.plan(resources)

    def freeze(self) -> None:
        raise CgroupError("cannot pause: this container has no cgroup (no cgroup filesystem mounted)")

    def thaw(self) -> None:
        raise CgroupError("cannot resume: this container has no cgroup (no cgroup filesystem mounted)")

    def is_frozen(self) -> bool:
        return False

    def stats(self) -> Stats:
        return Stats()

    def pids(self) -> list[int]:
        return []

    def oom_kill_count(self) -> int:
        return 0

    def remove_if_empty(self) -> bool:
        return True

    def destroy(self) -> None:
        return None

    def exists(self) -> bool:
        return False

    def paths(self) -> dict[str, str]:
        return {}
