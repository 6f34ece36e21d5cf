"""``linux.seccomp`` -> a classic BPF program, in the parent, through libseccomp (pyseccomp).

The translation follows runc's ``libcontainer/seccomp/seccomp_linux.go`` so profiles written for runc
behave the same here:

* SCMP_ACT_KILL is KILL_THREAD (libseccomp's alias); ERRNO and TRACE take ``errnoRet`` (default EPERM,
  as runc), every other action refuses one.
* A syscall name libseccomp does not know is skipped with a warning (the profile may be newer or
  older than this libseccomp), never an error.
* A rule whose action is the default action is skipped: libseccomp refuses it (EACCES), and it
  changes nothing.
* Conditions on different argument indexes are ANDed in one rule. When two conditions name the SAME
  index, libseccomp cannot express it in one rule, and runc falls back to adding each condition as a
  rule of its own (so they are ORed); we do exactly that, because profiles (Docker's ``personality``
  and ``socket`` rules) rely on it.
* ``flags`` are not given to libseccomp: we load the exported program ourselves with seccomp(2), so
  they become seccomp(2) flag bits, checked against the running kernel here (a clear error now rather
  than EINVAL inside the init).

Compiling takes milliseconds for a Docker-size profile, so results are cached per profile (the same
bytes for the same JSON), which makes the second container with a profile pay nothing here.
"""

from __future__ import annotations

import os

# collections.abc's Mapping, without importing the collections package (~1.4 ms): every create of a
# container with a filter imports this module, for the cache below if for nothing else.
from _collections_abc import Mapping

from libcontainer_py import _json
from libcontainer_py.errors import ConfigError, LibcontainerError
from libcontainer_py.seccomp import load as _load
from libcontainer_py.seccomp.load import CompiledFilter

TYPE_CHECKING = False  # not `typing` (with contextlib and functools, ~10 ms of every such create)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Warn = Callable[[str], None]

EPERM = 1
MAX_ERRNO_RET = 0xFFFF  # SECCOMP_RET_DATA is 16 bits
SYSCALL_MAX_ARGS = 6

# SECCOMP_RET_* (the kernel's values, which are libseccomp's SCMP_ACT_*). The bool: takes errnoRet.
ACTIONS: dict[str, tuple[int, bool]] = {
    "SCMP_ACT_KILL": (0x00000000, False),  # = KILL_THREAD, as in libseccomp and runc
    "SCMP_ACT_KILL_THREAD": (0x00000000, False),
    "SCMP_ACT_KILL_PROCESS": (0x80000000, False),
    "SCMP_ACT_TRAP": (0x00030000, False),
    "SCMP_ACT_ERRNO": (0x00050000, True),
    "SCMP_ACT_TRACE": (0x7FF00000, True),
    "SCMP_ACT_LOG": (0x7FFC0000, False),
    "SCMP_ACT_ALLOW": (0x7FFF0000, False),
    "SCMP_ACT_NOTIFY": (0x7FC00000, False),
}

# enum scmp_compare
OPERATORS: dict[str, int] = {
    "SCMP_CMP_NE": 1,
    "SCMP_CMP_LT": 2,
    "SCMP_CMP_LE": 3,
    "SCMP_CMP_EQ": 4,
    "SCMP_CMP_GE": 5,
    "SCMP_CMP_GT": 6,
    "SCMP_CMP_MASKED_EQ": 7,
}

# SCMP_ARCH_* -> libseccomp's token, which is the kernel's AUDIT_ARCH_* (EM_* | 64BIT | LE | N32).
_64, _LE, _N32 = 0x80000000, 0x40000000, 0x20000000
ARCHES: dict[str, int] = {
    "SCMP_ARCH_X86": 3 | _LE,
    "SCMP_ARCH_X86_64": 62 | _64 | _LE,
    "SCMP_ARCH_X32": 62 | _LE,
    "SCMP_ARCH_ARM": 40 | _LE,
    "SCMP_ARCH_AARCH64": 183 | _64 | _LE,
    "SCMP_ARCH_MIPS": 8,
    "SCMP_ARCH_MIPS64": 8 | _64,
    "SCMP_ARCH_MIPS64N32": 8 | _64 | _N32,
    "SCMP_ARCH_MIPSEL": 8 | _LE,
    "SCMP_ARCH_MIPSEL64": 8 | _64 | _LE,
    "SCMP_ARCH_MIPSEL64N32": 8 | _64 | _LE | _N32,
    "SCMP_ARCH_PPC": 20,
    "SCMP_ARCH_PPC64": 21 | _64,
    "SCMP_ARCH_PPC64LE": 21 | _64 | _LE,
    "SCMP_ARCH_S390": 22,
    "SCMP_ARCH_S390X": 22 | _64,
    "SCMP_ARCH_PARISC": 15,
    "SCMP_ARCH_PARISC64": 15 | _64,
    "SCMP_ARCH_RISCV64": 243 | _64 | _LE,
    "SCMP_ARCH_LOONGARCH64": 258 | _64 | _LE,
    "SCMP_ARCH_M68K": 4,
    "SCMP_ARCH_SH": 42 | _LE,  # libseccomp: SCMP_ARCH_SH is AUDIT_ARCH_SHEL, SHEB is AUDIT_ARCH_SH
    "SCMP_ARCH_SHEB": 42,
}


class SeccompError(LibcontainerError):
    """libseccomp is missing or refused a profile that passed validation."""


def as_dict(seccomp: Any) -> dict[str, Any]:
    """A LinuxSeccomp model or its JSON dict -> the JSON dict (spec names, so errors can name them).
    A dict is taken as it is (the functions here do not change it)."""
    if isinstance(seccomp, dict):
        return seccomp
    if isinstance(seccomp, Mapping):
        return dict(seccomp)
    to_dict = getattr(seccomp, "to_dict", None)
    if to_dict is None:
        raise TypeError(f"expected LinuxSeccomp or a dict, got {type(seccomp).__name__}")
    data: dict[str, Any] = to_dict()
    return data


def _errno_ret(action: str, value: Any, where: str) -> int:
    if value is None:
        return EPERM
    if not ACTIONS[action][1]:
        raise ConfigError(
            f"errnoRet is not supported with {action} (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE)", path=where
        )
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ERRNO_RET:
        raise ConfigError(f"must be an errno between 0 and {MAX_ERRNO_RET}, got {value!r}", path=where)
    return value


def _action(name: Any, errno_ret: Any, where: str, errno_where: str) -> int:
    if name not in ACTIONS:
        raise ConfigError(f"unknown seccomp action {name!r} (expected one of {', '.join(ACTIONS)})", path=where)
    base, takes_errno = ACTIONS[name]
    ret = _errno_ret(name, errno_ret, errno_where)
    return base | ret if takes_errno else base


def _uint64(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 64:
        raise ConfigError(f"must be an unsigned 64-bit integer, got {value!r}", path=where)
    return value


def validate_seccomp(seccomp: Any, *, path: str = "linux.seccomp") -> list[str]:
    """Check ``linux.seccomp`` without libseccomp or the kernel (cheap: call it at ``create``).

    Raises :class:`ConfigError` whose one-line message names the field (``linux.seccomp.syscalls[3]
    .errnoRet: errnoRet is not supported with SCMP_ACT_KILL ...``); returns warnings as strings.
    What only libseccomp or the kernel can tell (an architecture this libseccomp lacks, a flag this
    kernel lacks, unknown syscall names) is checked by :func:`compile_filter`.
    """
    data = as_dict(seccomp)
    warnings: list[str] = []
    default = data.get("defaultAction")
    _action(default, data.get("defaultErrnoRet"), f"{path}.defaultAction", f"{path}.defaultErrnoRet")
    if default == "SCMP_ACT_NOTIFY":
        # runc refuses it too: every syscall of the init after the load, the write that hands the
        # listener fd to the parent included, would wait for a listener that has not got the fd yet.
        raise ConfigError("SCMP_ACT_NOTIFY cannot be the default action", path=f"{path}.defaultAction")
    for i, arch in enumerate(data.get("architectures") or []):
        if arch not in ARCHES:
            raise ConfigError(f"unknown architecture {arch!r}", path=f"{path}.architectures[{i}]")
    for i, flag in enumerate(data.get("flags") or []):
        if flag not in _load.FILTER_FLAGS:
            raise ConfigError(
                f"unknown seccomp flag {flag!r} (expected one of {', '.join(_load.FILTER_FLAGS)})",
                path=f"{path}.flags[{i}]",
            )
    if data.get("listenerMetadata") is not None and not data.get("listenerPath"):
        raise ConfigError("must not be set without listenerPath", path=f"{path}.listenerMetadata")
    uses_notify = False
    for i, rule in enumerate(data.get("syscalls") or []):
        where = f"{path}.syscalls[{i}]"
        if not isinstance(rule, Mapping):
            raise ConfigError("must be an object", path=where)
        names = rule.get("names")
        if not isinstance(names, list) or not names:
            raise ConfigError("must list at least one syscall name", path=f"{where}.names")
        for j, name in enumerate(names):
            if not isinstance(name, str) or not name:
                raise ConfigError(f"must be a syscall name, got {name!r}", path=f"{where}.names[{j}]")
        action = rule.get("action")
        _action(action, rule.get("errnoRet"), f"{where}.action", f"{where}.errnoRet")
        if action == "SCMP_ACT_NOTIFY":
            uses_notify = True
            if "write" in names:
                # The init reports to the parent with write(2) after loading: it would never return.
                raise ConfigError("SCMP_ACT_NOTIFY cannot be used for the write syscall", path=f"{where}.names")
        for k, arg in enumerate(rule.get("args") or []):
            awhere = f"{where}.args[{k}]"
            if not isinstance(arg, Mapping):
                raise ConfigError("must be an object", path=awhere)
            index = arg.get("index")
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < SYSCALL_MAX_ARGS:
                raise ConfigError(f"must be 0..{SYSCALL_MAX_ARGS - 1}, got {index!r}", path=f"{awhere}.index")
            if arg.get("op") not in OPERATORS:
                raise ConfigError(
                    f"unknown operator {arg.get('op')!r} (expected one of {', '.join(OPERATORS)})", path=f"{awhere}.op"
                )
            _uint64(arg.get("value"), f"{awhere}.value")
            if arg.get("valueTwo") is not None:
                _uint64(arg["valueTwo"], f"{awhere}.valueTwo")
    if uses_notify and not data.get("listenerPath"):
        raise ConfigError(
            "is required when a rule uses SCMP_ACT_NOTIFY (nothing would answer the notifications)",
            path=f"{path}.listenerPath",
        )
    if data.get("listenerPath") and not uses_notify:
        warnings.append(f"{path}.listenerPath: ignored, no rule uses SCMP_ACT_NOTIFY")
    return warnings


def uses_notify(seccomp: Any) -> bool:
    """Whether any rule has SCMP_ACT_NOTIFY (the init must then hand a listener fd to the parent)."""
    data = as_dict(seccomp)
    return any(r.get("action") == "SCMP_ACT_NOTIFY" for r in data.get("syscalls") or [])


def compile_filter(
    seccomp: Any,
    warn: Warn | None = None,
    *,
    path: str = "linux.seccomp",
    cache_dir: str | os.PathLike[str] | None = None,
) -> CompiledFilter:
    """Validate and compile ``linux.seccomp`` (a LinuxSeccomp or its dict) for the running kernel.

    Call it in the parent, before forking the init. Warnings (unknown syscall names skipped, ...) go
    to ``warn`` (default: :func:`warnings.warn`). Raises ConfigError naming the field, or SeccompError.

    Cached in memory (the same profile compiles once per process) and, with ``cache_dir`` (say
    ``<state root>/seccomp-cache``), on disk: a multi-architecture Docker-size profile takes ~25-60 ms
    to compile (most of it libseccomp's x86/x32 handling and its import), a cache hit ~1 ms (the
    profile's JSON as the key, one file read). With this module's imports kept light (no typing,
    hashlib or platform), a `pyrunc run` with the default profile takes ~5 ms more than one without
    (72.6 against 67.2 ms, 2026-12-01; it was 35 ms more before).
    """
    data = as_dict(seccomp)
    key = _json.dumps(data, sort_keys=True, separators=(",", ":"))
    compiled = _cache_load(cache_dir, key, path) if cache_dir is not None else None
    if compiled is None:
        compiled = _compile_cached(key, path)
        if cache_dir is not None:
            _cache_store(cache_dir, key, path, compiled)
    emit = warn or _default_warn
    for message in compiled.warnings:
        emit(message)
    return compiled


def _default_warn(message: str) -> None:
    import warnings

    warnings.warn(message, stacklevel=3)


_compiled: dict[tuple[str, str], CompiledFilter] = {}  # this process's: a caller making many containers


def _compile_cached(key: str, path: str) -> CompiledFilter:
    compiled = _compiled.get((key, path))
    if compiled is None:
        compiled = _compile(_json.loads(key), path)
        if len(_compiled) >= 16:
            _compiled.clear()
        _compiled[key, path] = compiled
    return compiled


def _sha256_hex(data: bytes) -> str:
    try:
        # The C module behind hashlib's fallback: hashlib itself loads OpenSSL first (~6 ms here).
        from _sha256 import sha256  # type: ignore[import-not-found]  # (Python 3.11; _sha2 since 3.12)
    except ImportError:
        try:
            from _sha2 import sha256  # type: ignore[import-not-found]
        except ImportError:
            from hashlib import sha256
    return str(sha256(data).hexdigest())


def _cache_file(cache_dir: str | os.PathLike[str], key: str, path: str) -> str:
    from libcontainer_py._version import __version__

    # The program depends on the profile, on what this kernel supports (flags, actions: the kernel
    # release stands for them), on the machine, and on our translation (the package version).
    uname = os.uname()
    ident = "\0".join((key, path, uname.release, uname.machine, __version__, "v1"))
    return os.path.join(os.fspath(cache_dir), _sha256_hex(ident.encode()) + ".json")


def _cache_load(cache_dir: str | os.PathLike[str], key: str, path: str) -> CompiledFilter | None:
    try:
        with open(_cache_file(cache_dir, key, path), "rb") as f:
            data = _json.loads(f.read())
        compiled = CompiledFilter.from_dict(data)
        return CompiledFilter(
            program=compiled.program,
            flags=compiled.flags,
            notify=compiled.notify,
            listener_path=compiled.listener_path,
            listener_metadata=compiled.listener_metadata,
            warnings=tuple(data.get("warnings") or ()),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing or damaged: compile again


def _cache_store(cache_dir: str | os.PathLike[str], key: str, path: str, compiled: CompiledFilter) -> None:
    target = _cache_file(cache_dir, key, path)
    tmp = f"{target}.{os.getpid()}.tmp"
    try:
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)
        with open(tmp, "w") as f:
            f.write(_json.dumps({**compiled.to_dict(), "warnings": list(compiled.warnings)}))
        os.replace(tmp, target)  # atomic: a concurrent create reads the old file or the new one
    except OSError:
        # A cache that cannot be written only costs speed.
        try:  # noqa: SIM105  (not contextlib: ~3 ms to import)
            os.unlink(tmp)
        except OSError:
            pass


def _import_pyseccomp() -> Any:
    import importlib

    try:
        pyseccomp = importlib.import_module("pyseccomp")
    except (ImportError, RuntimeError) as exc:  # pyseccomp raises RuntimeError without libseccomp.so
        raise SeccompError(
            f"linux.seccomp needs libseccomp and pyseccomp ({exc}): apt-get install libseccomp2; pip install pyseccomp"
        ) from exc
    return pyseccomp


def _compile(data: dict[str, Any], path: str) -> CompiledFilter:
    warnings = validate_seccomp(data, path=path)
    filt = _build(data, path, warnings)
    flags, more = _kernel_flags(data, path)
    warnings += more
    return CompiledFilter(
        program=_export(filt),
        flags=flags,
        notify=bool(flags & _load.SECCOMP_FILTER_FLAG_NEW_LISTENER),
        listener_path=data.get("listenerPath"),
        listener_metadata=data.get("listenerMetadata"),
        warnings=tuple(warnings),
    )


def filter_pfc(seccomp: Any, warn: Warn | None = None, *, path: str = "linux.seccomp") -> str:
    """libseccomp's readable "pseudo filter code" of a profile: for debugging and tests."""
    data = as_dict(seccomp)
    warnings = validate_seccomp(data, path=path)
    filt = _build(data, path, warnings)
    for message in warnings:
        (warn or _default_warn)(message)
    fd = os.memfd_create("seccomp-pfc", os.MFD_CLOEXEC)
    try:
        filt.export_pfc(_Fd(fd))
        with open(fd, closefd=False) as f:
            f.seek(0)
            return f.read()
    finally:
        os.close(fd)


def _build(data: dict[str, Any], path: str, warnings: list[str]) -> Any:
    """The libseccomp filter (a pyseccomp.SyscallFilter) of a validated profile."""
    sc = _import_pyseccomp()
    default = _action(data["defaultAction"], data.get("defaultErrnoRet"), "", "")
    _require_action(data["defaultAction"], default, f"{path}.defaultAction")
    filt = sc.SyscallFilter(default)
    # A binary tree of syscall numbers instead of a linear list: fewer instructions run per syscall
    # for a ~300-rule allow list (libseccomp >= 2.5; older ones refuse the attribute, which is fine).
    try:  # noqa: SIM105  (not contextlib: this module is on every create with a filter)
        filt.set_attr(sc.Attr.CTL_OPTIMIZE, 2)
    except OSError:
        pass
    for i, arch in enumerate(data.get("architectures") or []):
        try:
            filt.add_arch(ARCHES[arch])
        except OSError as exc:
            if exc.errno != 17:  # EEXIST: the native architecture is always in the filter
                raise ConfigError(
                    f"architecture {arch} is not supported by this libseccomp", path=f"{path}.architectures[{i}]"
                ) from exc

    unknown: list[str] = []
    for i, rule in enumerate(data.get("syscalls") or []):
        where = f"{path}.syscalls[{i}]"
        action = _action(rule["action"], rule.get("errnoRet"), "", "")
        _require_action(rule["action"], action, f"{where}.action")
        if action == default:
            continue
        conditions = _conditions(sc, rule.get("args") or [])
        for name in rule["names"]:
            nr = sc.resolve_syscall(sc.Arch.NATIVE, name)
            if nr == -1:  # __NR_SCMP_ERROR
                if name not in unknown:
                    unknown.append(name)
                continue
            try:
                for cond in conditions:
                    filt.add_rule(action, nr, *cond)
            except OSError as exc:
                raise SeccompError(f"{where}: libseccomp refused the rule for {name!r}: {exc.strerror}") from exc

    if unknown:
        # One line for all of them: a profile newer than this libseccomp (Docker's lists syscalls
        # added this year) would otherwise print a line per name on every start.
        warnings.append(
            f"{path}.syscalls: {len(unknown)} syscall name(s) unknown to libseccomp ignored: {', '.join(unknown)}"
        )
    return filt


def _conditions(sc: Any, args: list[dict[str, Any]]) -> list[list[Any]]:
    """The rules (each a list of ANDed conditions) one syscall entry becomes, as runc splits them."""
    if not args:
        return [[]]
    conds = []
    for arg in args:
        op = OPERATORS[arg["op"]]
        value_two = arg.get("valueTwo") or 0
        # SCMP_CMP_MASKED_EQ: (arg & value) == valueTwo. The others compare with value only.
        conds.append(sc.Arg(arg["index"], op, arg["value"], value_two))
    indexes = [a["index"] for a in args]
    if len(set(indexes)) != len(indexes):
        return [[c] for c in conds]  # runc's fallback: one rule per condition
    return [conds]


def _require_action(name: str, action: int, where: str) -> None:
    if not _action_available(action & 0xFFFF0000):
        raise ConfigError(f"{name} is not supported by this kernel ({os.uname().release})", path=where)


_probed: dict[tuple[str, int], bool] = {}  # what this kernel answered (it does not change)


def _action_available(action: int) -> bool:
    if ("action", action) not in _probed:
        _probed["action", action] = _load.action_available(action)
    return _probed["action", action]


def _flag_supported(bit: int) -> bool:
    if ("flag", bit) not in _probed:
        _probed["flag", bit] = _load.flag_supported(bit)
    return _probed["flag", bit]


def _kernel_flags(data: dict[str, Any], path: str) -> tuple[int, list[str]]:
    flags = 0
    warnings: list[str] = []
    notify = uses_notify(data)
    for i, name in enumerate(data.get("flags") or []):
        bit = _load.FILTER_FLAGS[name]
        if bit == _load.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV and not notify:
            # The kernel rejects it without a listener (EINVAL); it only means something for NOTIFY.
            warnings.append(f"{path}.flags[{i}]: {name} ignored, no rule uses SCMP_ACT_NOTIFY")
            continue
        # WAIT_KILLABLE_RECV is only valid together with NEW_LISTENER: probe it that way.
        wait_killable = bit == _load.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
        probe = bit | (_load.SECCOMP_FILTER_FLAG_NEW_LISTENER if wait_killable else 0)
        if not _flag_supported(probe):
            raise ConfigError(
                f"{name} is not supported by this kernel ({os.uname().release})", path=f"{path}.flags[{i}]"
            )
        flags |= bit
    if notify:
        flags |= _load.SECCOMP_FILTER_FLAG_NEW_LISTENER
        if flags & _load.SECCOMP_FILTER_FLAG_TSYNC:
            # TSYNC and NEW_LISTENER both use the return value; TSYNC_ESRCH (5.7) makes them compatible.
            flags |= _load.SECCOMP_FILTER_FLAG_TSYNC_ESRCH
    if flags and not _flag_supported(flags):
        raise ConfigError(
            f"this kernel ({os.uname().release}) refuses the combination {_load.describe_flags(flags)}",
            path=f"{path}.flags",
        )
    return flags, warnings


class _Fd:
    def __init__(self, fd: int) -> None:
        self._fd = fd

    def fileno(self) -> int:
        return self._fd


def _export(filt: Any) -> bytes:
    """libseccomp's seccomp_export_bpf writes the program to an fd: a memfd, read back at once."""
    fd = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
    try:
        try:
            filt.export_bpf(_Fd(fd))
        except OSError as exc:
            raise SeccompError(f"exporting the seccomp filter: {exc.strerror}") from exc
        size = os.fstat(fd).st_size
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while size > 0:
            chunk = os.read(fd, size)
            if not chunk:
                break
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)
