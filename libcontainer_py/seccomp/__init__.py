"""Seccomp: ``linux.seccomp`` compiled to BPF in the parent, loaded by the container init.

Public entry points (the lead wires them into ``create`` and the init):

* :func:`validate_seccomp` at create, before anything touches the kernel (one-line ConfigError);
* :func:`compile_filter` in the parent, before forking the init -> :class:`CompiledFilter`
  (plain data; ``to_dict``/``from_dict`` for a fresh-interpreter init);
* :meth:`CompiledFilter.load` in the init -> the notify listener fd or None;
* :func:`send_listener_fd` in the parent, with the fd the init passed back (SCMP_ACT_NOTIFY);
* :func:`default_profile` for the builder and ``pyrunc generate --seccomp-default-profile``.

Where the init loads the filter (runc's ``standard_init_linux.go`` order, and why):

1. With ``process.noNewPrivileges``: set no_new_privs, drop capabilities, ... and load the filter
   *last*, just before closing the sync socket and blocking on the exec fifo. Every syscall after
   the load must pass the filter, so the later it is loaded the fewer syscalls a profile has to allow
   for the runtime's own sake; the user program's execve must be allowed by the profile anyway.
2. Without ``noNewPrivileges``: loading a filter needs CAP_SYS_ADMIN (in the init's user namespace)
   or no_new_privs; the process may have neither after the capability drop, so the filter is loaded
   *before* capabilities are dropped (and the profile must then allow capset, setresuid, prctl...).

In both cases, with SCMP_ACT_NOTIFY, the init passes the listener fd to the parent right after the
load (SCM_RIGHTS on the sync socket), and the parent calls :func:`send_listener_fd` before letting
the init go on: a notified syscall of the init would otherwise wait for a listener that has no fd.

The init imports only ``seccomp.load`` (standard library + errors): import it before pivot_root.
"""

from __future__ import annotations

from libcontainer_py.seccomp.load import CompiledFilter, seccomp_mode

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from typing import Any

    from libcontainer_py.seccomp.compile import SeccompError, compile_filter, uses_notify, validate_seccomp
    from libcontainer_py.seccomp.notify import send_listener_fd
    from libcontainer_py.seccomp.profiles import default_profile

__all__ = [
    "CompiledFilter",
    "SeccompError",
    "compile_filter",
    "default_profile",
    "seccomp_mode",
    "send_listener_fd",
    "uses_notify",
    "validate_seccomp",
]

# Imported on first use: compile pulls in libseccomp (ctypes) and notify/profiles are not needed by
# every caller; the init must not pay for them.
_LAZY = {
    "SeccompError": "compile",
    "compile_filter": "compile",
    "uses_notify": "compile",
    "validate_seccomp": "compile",
    "send_listener_fd": "notify",
    "default_profile": "profiles",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
