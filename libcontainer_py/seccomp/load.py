"""Loading a compiled seccomp program: the only part of the seccomp package the container init runs.

Why a separate module: the filter is compiled to classic BPF in the parent (``compile.py``, with
libseccomp and the pydantic models), and the init only hands the finished bytes to the kernel. So the
init needs neither libseccomp nor pydantic after pivot_root, and the container start pays one
``seccomp(2)`` call (a few microseconds for ~300 rules) instead of a libseccomp compile (milliseconds).
This module therefore imports only the standard library and ``errors``, and everything it calls is
resolved at import time (``ctypes.CDLL(None)`` is dlopen of the running program: no file is read).

The one kernel call lives in :func:`_seccomp_set_mode_filter`, isolated so that it can be swapped for
the cffi shim (``lc_seccomp_set_mode_filter``, see docs/seccomp-and-hooks.md) without touching anything
else; meanwhile it goes through ctypes' ``syscall(2)``.
"""

from __future__ import annotations

import binascii  # not base64: it imports re (~5 ms here)
import ctypes
import errno as _errno
import os

from libcontainer_py._record import Record, field
from libcontainer_py.errors import SyscallError

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from typing import Any

# <linux/seccomp.h>
SECCOMP_MODE_FILTER = 2
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

# seccomp(2) has no glibc wrapper on older glibc and no constant in Python's os module.
_NR_SECCOMP: dict[str, int] = {
    "x86_64": 317,
    "i386": 354,
    "i686": 354,
    "aarch64": 277,
    "riscv64": 277,
    "loongarch64": 277,
    "armv7l": 383,
    "armv8l": 383,
    "ppc64le": 358,
    "ppc64": 358,
    "s390x": 348,
}
NR_SECCOMP: int | None = _NR_SECCOMP.get(os.uname().machine)  # platform.machine(), without importing platform


class _SockFprog(ctypes.Structure):
    # struct sock_fprog { unsigned short len; struct sock_filter *filter; } (len counts 8-byte insns)
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long
_prctl = _libc.prctl
_prctl.restype = ctypes.c_int
_prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)
_NR_ARG = ctypes.c_long(NR_SECCOMP or -1)
_SET_MODE_FILTER_ARG = ctypes.c_uint(SECCOMP_SET_MODE_FILTER)


class _Prepared:
    """The program as the kernel wants it (a buffer and a struct sock_fprog pointing at it), built
    ahead of the load: done in a freshly forked child, the ctypes allocations alone cost ~150 us
    (first-touch copy-on-write faults), several times the seccomp(2) call itself."""

    __slots__ = ("buf", "fprog", "fprog_ref", "insns")

    def __init__(self, program: bytes) -> None:
        self.insns = len(program) // 8
        self.buf = ctypes.create_string_buffer(program, len(program))
        self.fprog = _SockFprog(self.insns, ctypes.cast(self.buf, ctypes.c_void_p))
        self.fprog_ref = ctypes.byref(self.fprog)


def _seccomp_set_mode_filter(flags: int, prepared: _Prepared) -> int:
    """THE seam: ``seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)``. Returns the kernel's result (0, or
    the listener fd with NEW_LISTENER) or ``-errno``. Swap for the shim's ``lc_seccomp_set_mode_filter``
    (then ``_Prepared`` holds an ``ffi.from_buffer`` of the program instead)."""
    if NR_SECCOMP is None:
        # An architecture missing from the table: prctl takes no flags, so only a plain filter works.
        if flags:
            return -_errno.ENOSYS
        rc = _prctl(22, SECCOMP_MODE_FILTER, ctypes.addressof(prepared.fprog), 0, 0)  # PR_SET_SECCOMP
    else:
        rc = _syscall(_NR_ARG, _SET_MODE_FILTER_ARG, ctypes.c_uint(flags), prepared.fprog_ref)
    return int(rc) if rc >= 0 else -ctypes.get_errno()


def _seccomp_op(op: int, flags: int, arg: Any) -> tuple[int, int]:
    """``seccomp(op, flags, arg)`` -> (result, errno); for the feature probes below."""
    if NR_SECCOMP is None:
        return -1, _errno.ENOSYS
    rc = _syscall(ctypes.c_long(NR_SECCOMP), ctypes.c_uint(op), ctypes.c_uint(flags), arg)
    return int(rc), (ctypes.get_errno() if rc < 0 else 0)


def flag_supported(flag: int) -> bool:
    """Whether the kernel knows a SECCOMP_FILTER_FLAG_* bit. Loading with a NULL program fails with
    EFAULT once the flags have passed validation and with EINVAL before (the probe runc's patchbpf
    uses); nothing is loaded either way."""
    _, err = _seccomp_op(SECCOMP_SET_MODE_FILTER, flag, ctypes.c_void_p(0))
    return err == _errno.EFAULT


def action_available(action: int) -> bool:
    """SECCOMP_GET_ACTION_AVAIL: whether the kernel implements a SECCOMP_RET_* action."""
    value = ctypes.c_uint32(action & 0xFFFF0000)
    rc, _ = _seccomp_op(SECCOMP_GET_ACTION_AVAIL, 0, ctypes.byref(value))
    return rc == 0


def notif_sizes() -> tuple[int, int, int]:
    """SECCOMP_GET_NOTIF_SIZES: sizeof(seccomp_notif, seccomp_notif_resp, seccomp_data) of this kernel."""
    sizes = (ctypes.c_uint16 * 3)()
    rc, err = _seccomp_op(SECCOMP_GET_NOTIF_SIZES, 0, ctypes.byref(sizes))
    if rc < 0:
        raise SyscallError(err, "seccomp SECCOMP_GET_NOTIF_SIZES")
    return sizes[0], sizes[1], sizes[2]


def no_new_privs() -> bool:
    return bool(_prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)


def set_no_new_privs() -> None:
    if _prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise SyscallError(ctypes.get_errno(), "prctl PR_SET_NO_NEW_PRIVS")


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
    _prepared: _Prepared | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.program) % 8 or not 0 < len(self.program) // 8 <= 0xFFFF:
            raise ValueError(f"not a BPF program: {len(self.program)} bytes")
        object.__setattr__(self, "_prepared", _Prepared(self.program))

    @property
    def instructions(self) -> int:
        return len(self.program) // 8

    def load(self) -> int | None:
        """Install the filter on the calling thread (``TSYNC``: on all its threads).

        Returns the notify listener fd (O_CLOEXEC, owned by the caller) when the filter uses
        SCMP_ACT_NOTIFY, else None. Needs no_new_privs or CAP_SYS_ADMIN in the caller's user
        namespace; see ``libcontainer_py.seccomp`` for where the init must call it.
        """
        assert self._prepared is not None
        rc = _seccomp_set_mode_filter(self.flags, self._prepared)
        if rc < 0:
            err = -rc
            hint = ""
            if err == _errno.EACCES:
                hint = " (needs no_new_privs or CAP_SYS_ADMIN: load before dropping capabilities)"
            elif err == _errno.EINVAL and self.flags:
                hint = f" (flags {describe_flags(self.flags)} not accepted by this kernel)"
            raise SyscallError(err, f"loading the seccomp filter ({self.instructions} instructions){hint}")
        if self.flags & SECCOMP_FILTER_FLAG_NEW_LISTENER:
            return rc
        return None

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
