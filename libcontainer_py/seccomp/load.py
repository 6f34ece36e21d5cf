"""Loading a compiled seccomp program: the only part of the seccomp package the container init runs.

Why a separate module: the filter is compiled to classic BPF in the parent (``compile.py``, with
libseccomp and the pydantic models), and the init only hands the finished bytes to the kernel. So the
init needs neither libseccomp nor pydantic after pivot_root, and the container start pays one
``seccomp(2)`` call (a few microseconds for ~300 rules) instead of a libseccomp compile (milliseconds).
This module therefore imports only the standard library and three small modules of ours: ``errors``,
``_record`` and the kernel seam ``_sys`` (whose shim the init has loaded before it loads the filter:
its setns and pivot_root go through it).

The kernel calls go through the shim (``lc_seccomp_set_filter``, ``lc_seccomp``): until 2026-12
they went through ctypes' ``syscall(2)``, and importing ctypes cost every create and exec of a
container with a filter (podman's and containerd's all have one) 3-6 ms here.
"""

from __future__ import annotations

import binascii  # not base64: it imports re (~5 ms here)
import errno as _errno
import sys

from libcontainer_py import _sys
from libcontainer_py._record import Record, field
from libcontainer_py.errors import SyscallError

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from typing import Any

# <linux/seccomp.h>
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_GET_ACTION_AVAIL = 2
SECCOMP_GET_NOTIF_SIZES = 3

SECCOMP_FILTER_FLAG_TSYNC = 1 << 0
SECCOMP_FILTER_FLAG_LOG = 1 << 1
SECCOMP_FILTER_FLAG_SPEC_ALLOW = 1 << 2
SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3
SECCOMP_FILTER_FLAG_TSYNC_ESRCH = 1 << 4
SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV = 1 << 5

# The spec's flag names -> the kernel's bits.
FILTER_FLAGS: dict[str, int] = {
    "SECCOMP_FILTER_FLAG_TSYNC": SECCOMP_FILTER_FLAG_TSYNC,
    "SECCOMP_FILTER_FLAG_LOG": SECCOMP_FILTER_FLAG_LOG,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": SECCOMP_FILTER_FLAG_SPEC_ALLOW,
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
}

PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39


def flag_supported(flag: int) -> bool:
    """Whether the kernel knows a SECCOMP_FILTER_FLAG_* bit. Loading with a NULL program fails with
    EFAULT once the flags have passed validation and with EINVAL before (the probe runc's patchbpf
    uses); nothing is loaded either way."""
    try:
        _sys.seccomp(SECCOMP_SET_MODE_FILTER, flag, None)
    except OSError as exc:
        return exc.errno == _errno.EFAULT
    return False  # (never: a NULL program is not a program)


def action_available(action: int) -> bool:
    """SECCOMP_GET_ACTION_AVAIL: whether the kernel implements a SECCOMP_RET_* action."""
    value = bytearray((action & 0xFFFF0000).to_bytes(4, sys.byteorder))
    try:
        _sys.seccomp(SECCOMP_GET_ACTION_AVAIL, 0, value)
    except OSError:
        return False
    return True


def notif_sizes() -> tuple[int, int, int]:
    """SECCOMP_GET_NOTIF_SIZES: sizeof(seccomp_notif, seccomp_notif_resp, seccomp_data) of this kernel."""
    sizes = bytearray(6)  # three __u16
    _sys.seccomp(SECCOMP_GET_NOTIF_SIZES, 0, sizes)
    a, b, c = (int.from_bytes(sizes[i : i + 2], sys.byteorder) for i in (0, 2, 4))
    return a, b, c


def no_new_privs() -> bool:
    return _sys.prctl(PR_GET_NO_NEW_PRIVS) == 1


def set_no_new_privs() -> None:
    _sys.prctl(PR_SET_NO_NEW_PRIVS, 1)


def describe_flags(flags: int) -> str:
    names = [name for name, bit in FILTER_FLAGS.items() if flags & bit]
    names += [n for n, b in (("NEW_LISTENER", 8), ("TSYNC_ESRCH", 16)) if flags & b]
    return "|".join(n.removeprefix("SECCOMP_FILTER_FLAG_") for n in names) or "0"


class CompiledFilter(Record, frozen=True):
    """A seccomp profile compiled to classic BPF, ready for the kernel.

    ``program`` is the array of ``struct sock_filter`` (8 bytes each) as libseccomp exported it;
    ``flags`` are the seccomp(2) flags (NEW_LISTENER included when a rule uses SCMP_ACT_NOTIFY).
    Plain data: it crosses to a fresh-interpreter init via :meth:`to_dict` / :meth:`from_dict`
    (JSON-safe), and a forked init just keeps the object.
    """

    program: bytes
    flags: int = 0
    notify: bool = False
    listener_path: str | None = None
    listener_metadata: str | None = None
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if len(self.program) % 8 or not 0 < len(self.program) // 8 <= 0xFFFF:
            raise ValueError(f"not a BPF program: {len(self.program)} bytes")

    @property
    def instructions(self) -> int:
        return len(self.program) // 8

    def load(self) -> int | None:
        """Install the filter on the calling thread (``TSYNC``: on all its threads).

        Returns the notify listener fd (O_CLOEXEC, owned by the caller) when the filter uses
        SCMP_ACT_NOTIFY, else None. Needs no_new_privs or CAP_SYS_ADMIN in the caller's user
        namespace; see ``libcontainer_py.seccomp`` for where the init must call it.
        """
        try:
            rc = _sys.seccomp_set_mode_filter(self.flags, self.program)
        except OSError as exc:
            raise self.load_error(exc.errno or 0) from None
        if self.flags & SECCOMP_FILTER_FLAG_NEW_LISTENER:
            return rc
        return None

    def load_error(self, err: int) -> SyscallError:
        """Why loading failed with ``err`` (here, or in exec's child: init/vspawn.py)."""
        hint = ""
        if err == _errno.EACCES:
            hint = " (needs no_new_privs or CAP_SYS_ADMIN: load before dropping capabilities)"
        elif err == _errno.EINVAL and self.flags:
            hint = f" (flags {describe_flags(self.flags)} not accepted by this kernel)"
        return SyscallError(err, f"loading the seccomp filter ({self.instructions} instructions){hint}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "program": binascii.b2a_base64(self.program, newline=False).decode(),
            "flags": self.flags,
            "notify": self.notify,
            "listenerPath": self.listener_path,
            "listenerMetadata": self.listener_metadata,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompiledFilter:
        return cls(
            program=binascii.a2b_base64(data["program"]),
            flags=int(data.get("flags", 0)),
            notify=bool(data.get("notify", False)),
            listener_path=data.get("listenerPath"),
            listener_metadata=data.get("listenerMetadata"),
        )


def seccomp_mode(pid: int | str = "self") -> int:
    """The ``Seccomp:`` field of /proc/PID/status (0 none, 1 strict, 2 filter)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Seccomp:"):
                return int(line.split()[1])
    return 0


__all__ = [
    "FILTER_FLAGS",
    "SECCOMP_FILTER_FLAG_NEW_LISTENER",
    "CompiledFilter",
    "action_available",
    "flag_supported",
    "no_new_privs",
    "notif_sizes",
    "seccomp_mode",
    "set_no_new_privs",
]
