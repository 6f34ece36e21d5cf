"""Checks on a schema-valid Spec that the JSON schema cannot express, done before anything touches
the kernel so that a bad config fails with a message naming the field rather than with an errno from
deep inside container init.

Errors are what runc's ``libcontainer/configs/validate`` and the spec's MUSTs reject; warnings are
what runc only logs (unknown capability names, relative mount destinations) so that configs written
for runc keep working here.
"""

from __future__ import annotations

from libcontainer_py._paths import isabs
from libcontainer_py._record import Record
from libcontainer_py.errors import ConfigError
from libcontainer_py.spec.caps import KNOWN_CAPABILITIES

TYPE_CHECKING = False  # not `typing`, nor the models (pydantic): the runtime validates fast.Spec objects
if TYPE_CHECKING:
    from libcontainer_py.spec.config import Spec
    from libcontainer_py.spec.process import Process

_CAPABILITY_SETS = ("bounding", "effective", "inheritable", "permitted", "ambient")
_IDMAP_OPTIONS = frozenset({"idmap", "ridmap"})


class Problem(Record, frozen=True):
    """One finding: the JSON path of the field and what is wrong with it."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def runtime_problems(spec: Spec) -> tuple[list[Problem], list[Problem]]:
    """All runtime-level problems of ``spec`` as ``(errors, warnings)``, without raising. Useful to
    list every problem at once (``validate_runtime`` stops at the errors)."""
    errors: list[Problem] = []
    warnings: list[Problem] = []
    _check_root(spec, errors)
    _check_process(spec, errors, warnings)
    has_userns = _check_namespaces(spec, errors)
    _check_mounts(spec, has_userns, errors, warnings)
    return errors, warnings


def validate_runtime(spec: Spec, source: str | None = None) -> list[str]:
    """Raise ConfigError (naming the first bad field, "(and N more)") if ``spec`` cannot be run;
    otherwise return the warnings as ``"json.path: message"`` strings for the caller to log."""
    errors, warnings = runtime_problems(spec)
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(first.message + more, path=first.path, source=source)
    return [str(w) for w in warnings]


def _check_root(spec: Spec, errors: list[Problem]) -> None:
    # Optional in the schema (Windows Hyper-V containers have none); required on Linux.
    if spec.root is None:
        errors.append(Problem("root", "is required on Linux"))
    elif not spec.root.path:
        errors.append(Problem("root.path", "must not be empty"))


def _check_process(spec: Spec, errors: list[Problem], warnings: list[Problem]) -> None:
    proc = spec.process
    if proc is None:  # allowed: `create` needs it, but a config may be completed by `exec --process`
        return
    if not proc.args:
        errors.append(Problem("process.args", "must contain at least the program to run"))
    if not isabs(proc.cwd):
        errors.append(Problem("process.cwd", f"must be an absolute path (got {proc.cwd!r})"))
    errors.extend(exec_problems(proc, "process"))
    if proc.rlimits:
        seen: set[str] = set()
        for i, rlimit in enumerate(proc.rlimits):
            if rlimit.type in seen:
                errors.append(Problem(f"process.rlimits[{i}].type", f'duplicate rlimit "{rlimit.type}"'))
            seen.add(rlimit.type)
    if proc.capabilities is not None:
        unknown_seen: set[str] = set()
        for set_name in _CAPABILITY_SETS:
            names = getattr(proc.capabilities, set_name)
            for i, name in enumerate(names or ()):
                # runc warns once per name and ignores it: a newer kernel's capability in a profile
                # must not stop the container from starting on an older one.
                if name not in KNOWN_CAPABILITIES and name not in unknown_seen:
                    unknown_seen.add(name)
                    path = f"process.capabilities.{set_name}[{i}]"
                    warnings.append(Problem(path, f'unknown capability "{name}" (ignored)'))


def exec_problems(process: Process, path: str) -> list[Problem]:
    """What execve(2) or chdir(2) cannot take in a process, found before anything runs rather than by
    the init after start: a NUL byte in args or cwd, and env entries runc's init refuses (NAME=VALUE
    with a non-empty NAME and no NUL byte)."""
    problems = []
    for i, arg in enumerate(process.args or ()):
        if "\0" in arg:
            problems.append(Problem(f"{path}.args[{i}]", f"must not contain a NUL byte (got {arg!r})"))
    if "\0" in (process.cwd or ""):
        problems.append(Problem(f"{path}.cwd", f"must not contain a NUL byte (got {process.cwd!r})"))
    path_env = f"{path}.env"
    for i, entry in enumerate(process.env or ()):
        name, eq, _ = entry.partition("=")
        if not eq:
            problems.append(Problem(f"{path_env}[{i}]", f"must be NAME=VALUE (got {entry!r}: no '=')"))
        elif not name:
            problems.append(Problem(f"{path_env}[{i}]", f"the variable's name is empty (got {entry!r})"))
        elif "\0" in entry:
            problems.append(Problem(f"{path_env}[{i}]", f"must not contain a NUL byte (got {entry!r})"))
    return problems


def _check_namespaces(spec: Spec, errors: list[Problem]) -> bool:
    """Check namespaces and the id mappings that depend on them; return whether a user namespace is
    used (created or joined)."""
    # here, not at the top: exec imports this module for exec_problems, and its process has no enum
    # (not spec.enums either: it makes all fourteen)
    from libcontainer_py.spec._enums_core import NamespaceType

    linux = spec.linux
    if linux is None:
        return False
    types: set[str] = set()
    userns_created = False
    for i, ns in enumerate(linux.namespaces or ()):
        if ns.type in types:
            errors.append(Problem(f"linux.namespaces[{i}].type", f'duplicate namespace "{ns.type}"'))
        types.add(ns.type)
        if ns.type == NamespaceType.USER and not ns.path:
            userns_created = True
    has_userns = NamespaceType.USER in types
    if not has_userns:
        for field, mappings in (("uidMappings", linux.uid_mappings), ("gidMappings", linux.gid_mappings)):
            if mappings:
                errors.append(Problem(f"linux.{field}", 'requires a user namespace (no "user" in linux.namespaces)'))
    elif userns_created:
        # A fresh user namespace without mappings leaves every id unmapped (overflow "nobody"), so
        # setuid/setgid in init would fail with EINVAL; runc rejects it up front, and so do we.
        for field, mappings in (("uidMappings", linux.uid_mappings), ("gidMappings", linux.gid_mappings)):
            if not mappings:
                errors.append(Problem(f"linux.{field}", "is required when creating a user namespace"))
    if linux.time_offsets and NamespaceType.TIME not in types:
        errors.append(Problem("linux.timeOffsets", 'requires a time namespace (no "time" in linux.namespaces)'))
    return has_userns


def _check_mounts(spec: Spec, has_userns: bool, errors: list[Problem], warnings: list[Problem]) -> None:
    for i, mount in enumerate(spec.mounts or ()):
        if not isabs(mount.destination):
            # runc still accepts these (resolving them against "/") but warns they will be rejected.
            warnings.append(
                Problem(
                    f"mounts[{i}].destination",
                    f'relative destination "{mount.destination}" is deprecated; it is taken relative to "/"',
                )
            )
        idmap_opts = _IDMAP_OPTIONS.intersection(mount.options or ())
        has_uid, has_gid = bool(mount.uid_mappings), bool(mount.gid_mappings)
        if has_uid != has_gid:
            missing = "gidMappings" if has_uid else "uidMappings"
            errors.append(Problem(f"mounts[{i}].{missing}", "is required: uidMappings and gidMappings go together"))
        if idmap_opts and not (has_uid or has_gid) and not has_userns:
            # config.md: without mappings on the mount the runtime MAY use the container's user
            # namespace mapping; with neither, an error MUST be returned.
            opt = sorted(idmap_opts)[0]
            errors.append(
                Problem(
                    f"mounts[{i}].options",
                    f'"{opt}" needs uidMappings and gidMappings on the mount, or a user namespace',
                )
            )
        if (has_uid or has_gid) and not idmap_opts:
            warnings.append(
                Problem(
                    f"mounts[{i}].options",
                    'should contain "idmap" or "ridmap" when uidMappings/gidMappings are given',
                )
            )
