"""Linux capabilities: names, numbers, and applying the five sets of process.capabilities.

Order (as runc's finalizeNamespace, for reasons that are the kernel's):
  1. drop from the bounding set what is not asked (needs CAP_SETPCAP, so while still root);
  2. PR_SET_KEEPCAPS, then switch uid/gid: without it setuid() away from 0 clears permitted;
  3. capset(effective, permitted, inheritable);
  4. ambient: cleared, then raised one by one (each must be in permitted and inheritable).
Names the kernel or this table does not know are skipped with a warning, as runc does.
"""

from __future__ import annotations

# The names, in kernel order (index = capability number), are shared with config validation.
from libcontainer_py._record import Record
from libcontainer_py.spec.caps import CAPABILITIES
from libcontainer_py.spec.caps import CAPABILITY_NUMBERS as CAP_NUMBERS

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = ["CAPABILITIES", "CAP_NUMBERS", "CapSets", "apply", "drop_bounding", "normalize"]


PR_CAPBSET_DROP = 24
PR_SET_KEEPCAPS = 8
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4


def normalize(name: str) -> str:
    """`net_admin`, `NET_ADMIN` and `CAP_NET_ADMIN` all name CAP_NET_ADMIN."""
    upper = name.strip().upper()
    return upper if upper.startswith("CAP_") else "CAP_" + upper


_last_cap: int | None = None


def last_cap() -> int:
    """The highest capability number this kernel knows (read once per process: the init and
    exec's child ask three times each, and inherit the runtime's answer)."""
    global _last_cap
    if _last_cap is None:
        try:
            with open("/proc/sys/kernel/cap_last_cap") as f:
                _last_cap = int(f.read())
        except OSError:
            return len(CAPABILITIES) - 1
    return _last_cap


def to_mask(names: Iterable[str] | None, warn: Callable[[str], None], field: str, top: int) -> int:
    mask = 0
    for name in names or ():
        number = CAP_NUMBERS.get(name)
        if number is None or number > top:
            warn(f"{field}: unknown capability {name!r} skipped")
            continue
        mask |= 1 << number
    return mask


class CapSets(Record, frozen=True):
    bounding: int
    effective: int
    permitted: int
    inheritable: int
    ambient: int

    @classmethod
    def from_spec(cls, caps: object | None, warn: Callable[[str], None]) -> CapSets:
        """From process.capabilities (a model with bounding/effective/... lists, or None:
        no capabilities at all, as the spec says for an absent object)."""
        top = last_cap()

        def mask(attr: str) -> int:
            return to_mask(getattr(caps, attr, None), warn, f"process.capabilities.{attr}", top)

        return cls(
            bounding=mask("bounding"),
            effective=mask("effective"),
            permitted=mask("permitted"),
            inheritable=mask("inheritable"),
            ambient=mask("ambient"),
        )


def drop_bounding(sets: CapSets) -> None:
    from libcontainer_py import _sys

    for cap in range(last_cap() + 1):
        if not sets.bounding & (1 << cap):
            _sys.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)


def apply(sets: CapSets) -> None:
    """capset and ambient; call after the uid switch (with keepcaps set before it)."""
    from libcontainer_py import _sys

    _sys.capset(sets.effective, sets.permitted, sets.inheritable)
    _sys.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    # The kernel raises an ambient capability only if it is permitted and inheritable. runc's
    # default spec lists ambient capabilities with no inheritable set, and runc ignores the
    # refusal; so do we, rather than fail every container made from `runc spec`.
    for cap in range(last_cap() + 1):
        if sets.ambient & sets.permitted & sets.inheritable & (1 << cap):
            _sys.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0)


last_cap()  # read at import, in the runtime: the children it forks inherit the answer
