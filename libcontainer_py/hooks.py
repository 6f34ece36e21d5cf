"""The six OCI hooks (config.md "POSIX-platform Hooks", runtime.md "Lifecycle").

A hook is run as runc runs it: ``path`` executed with ``args`` as argv exactly as given (``args[0]``
is argv[0], which need not be the path) and ``env`` as the WHOLE environment: an absent ``env`` means
an EMPTY environment, not the runtime's (runc does the same; a hook that needs PATH must say so).
The container's state JSON is written to its stdin; its stdout and stderr are captured, and their
tail goes into the error when it fails. The hook runs in its own process group, so a ``timeout``
kills the hook and everything it started.

Where each kind runs (the lead wires these; spec references in brackets):

=================  ========================  ===========================================================
kind               who calls run_hooks       when
=================  ========================  ===========================================================
prestart           parent (runtime ns)       create: container namespaces and mounts exist, before
                                             pivot_root; before createRuntime [config.md#prestart,
                                             runtime.md lifecycle 3]. Deprecated, still run.
createRuntime      parent (runtime ns)       right after prestart, same point [lifecycle 4].
createContainer    the init (container ns)   after createRuntime: the parent answers the init's
                                             "hooks" message once createRuntime is done; then the
                                             init, after the mounts and before pivot_root, runs them
                                             with :func:`run_hooks_in_container` [lifecycle 5]. Its
                                             path resolves in the runtime's filesystem, which is
                                             still reachable before pivot_root.
startContainer     the init (container ns)   start: after the exec fifo opened, just before execve of
                                             the user program; path resolves in the container's root
                                             [lifecycle 7]. The hook inherits the init's seccomp
                                             filter and capabilities (as in runc).
poststart          parent (runtime ns)       start: after the user program was exec'd (fifo read),
                                             before `start` returns [lifecycle 9].
poststop           parent (runtime ns)       delete: after the container is destroyed, before
                                             `delete` returns [lifecycle 13].
=================  ========================  ===========================================================

Failures [runtime.md v1.3, lifecycle 3-9 and 13]: a failing prestart, createRuntime, createContainer,
startContainer or poststart hook is an error: the runtime stops the container and goes on with its
destruction (lifecycle step 12, then poststop). A failing poststop hook is only a warning and the
remaining poststop hooks still run. That table is :data:`ON_ERROR`.

State passed on stdin: ``pid`` is the container process as the runtime sees it for runtime-namespace
hooks, and as the container sees it (``os.getpid()`` in the init) for createContainer and
startContainer [runtime.md "State"]; :func:`run_hooks_in_container` sets it.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterable, Mapping, Sequence

from libcontainer_py import _json
from libcontainer_py.errors import ConfigError, LibcontainerError

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from typing import Any, Literal

HOOK_KINDS: tuple[str, ...] = (
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
)

# runtime.md v1.3: what a failure does. "raise": generate an error (the caller stops the container
# and continues at lifecycle step 12); "warn": log a warning and continue as if it had succeeded.
ON_ERROR: dict[str, Literal["raise", "warn"]] = {
    "prestart": "raise",
    "createRuntime": "raise",
    "createContainer": "raise",
    "startContainer": "raise",
    "poststart": "raise",  # a warning before spec 1.1; an error since (runtime.md lifecycle 9)
    "poststop": "warn",
}

# Where the hook's path resolves and where it runs (config.md): "runtime" or "container".
NAMESPACE: dict[str, Literal["runtime", "container"]] = {
    "prestart": "runtime",
    "createRuntime": "runtime",
    "createContainer": "container",  # runs in the container's namespaces, path resolves in the runtime's
    "startContainer": "container",
    "poststart": "runtime",
    "poststop": "runtime",
}
# Paths we can check on the host at `create`: all but startContainer's (it resolves in the container).
_PATH_IN_RUNTIME = frozenset(HOOK_KINDS) - {"startContainer"}

OUTPUT_TAIL = 2048  # bytes of stdout/stderr kept for the error message
_KILL_GRACE = 2.0  # seconds to collect output after killing a timed-out hook

Warn = Callable[[str], None]


class HookError(LibcontainerError):
    """A hook failed: ``hooks.<kind>[<index>] (<path>): <exit status N | timeout ...>: <last line>``."""

    def __init__(
        self,
        kind: str,
        index: int,
        path: str,
        reason: str,
        *,
        stdout: bytes = b"",
        stderr: bytes = b"",
        returncode: int | None = None,
    ) -> None:
        self.kind = kind
        self.index = index
        self.path = path
        self.reason = reason
        self.stdout = stdout
        self.stderr = stderr
        self.returncode = returncode
        last = _last_line(stderr) or _last_line(stdout)
        super().__init__(f"hooks.{kind}[{index}] ({path}): {reason}" + (f": {last}" if last else ""))


def _last_line(data: bytes) -> str:
    lines = [ln for ln in data.decode(errors="replace").splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


def _field(hook: Any, name: str) -> Any:
    """A Hook model or its JSON dict."""
    if isinstance(hook, Mapping):
        return hook.get(name)
    return getattr(hook, name, None)


def run_hook(
    kind: str,
    index: int,
    hook: Any,
    state: Mapping[str, Any],
    *,
    cwd: str | os.PathLike[str] | None = None,
) -> None:
    """Run one hook (a ``spec.Hook`` or its dict) with ``state`` as JSON on stdin; raise
    :class:`HookError` if it cannot be started, exits non-zero or outlives ``hook.timeout``.

    ``cwd``: runc runs hooks in the bundle directory (it chdirs there); pass the bundle for the same.
    """
    path = str(_field(hook, "path"))
    args = _field(hook, "args")
    env = _field(hook, "env")
    timeout = _field(hook, "timeout")
    argv = list(args) if args else [path]  # an absent (or empty) args: argv is [path]
    environ = _environ(env)
    stdin = _json.dumps(dict(state)).encode()
    import subprocess  # here: ~3 ms to import, and most containers have no hooks

    try:
        proc = subprocess.Popen(
            argv,
            executable=path,
            env=environ,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            close_fds=True,
            start_new_session=True,  # its own process group: a timeout kills its children too
        )
    except OSError as exc:
        raise HookError(kind, index, path, f"cannot execute: {exc.strerror or exc}") from exc
    try:
        # communicate() ignores EPIPE: a hook need not read its stdin.
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        try:
            out, err = proc.communicate(timeout=_KILL_GRACE)
        except subprocess.TimeoutExpired:
            # A descendant left the process group and still holds the pipes: give up on the output.
            proc.kill()
            proc.wait()
            out, err = b"", b""
        raise HookError(
            kind,
            index,
            path,
            f"timeout after {timeout}s (killed)",
            stdout=out[-OUTPUT_TAIL:],
            stderr=err[-OUTPUT_TAIL:],
        ) from None
    except BaseException:
        _kill_group(proc.pid)
        proc.wait()
        raise
    if proc.returncode != 0:
        code = proc.returncode
        reason = f"exit status {code}" if code > 0 else f"killed by signal {_signame(-code)}"
        raise HookError(
            kind, index, path, reason, stdout=out[-OUTPUT_TAIL:], stderr=err[-OUTPUT_TAIL:], returncode=code
        )


def _environ(env: Sequence[str] | None) -> dict[str, str]:
    # subprocess wants a mapping; "KEY=VALUE" entries in order, a later KEY overriding an earlier one
    # (execve would pass both; getenv() finds the first, but duplicate keys are a config mistake).
    # An entry without "=" cannot be expressed in a mapping: it is kept as KEY with an empty value.
    result: dict[str, str] = {}
    for entry in env or ():
        key, _, value = entry.partition("=")
        result[key] = value
    return result


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _signame(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)


def run_hooks(
    kind: str,
    hooks: Iterable[Any] | None,
    state: Mapping[str, Any],
    *,
    on_error: Literal["raise", "warn"] | None = None,
    warn: Warn | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> list[HookError]:
    """Run the hooks of one kind in order. ``on_error`` defaults to the spec's rule for the kind
    (:data:`ON_ERROR`): "raise" stops at the first failure with HookError; "warn" reports each failure
    to ``warn`` (default: :func:`warnings.warn`), runs the remaining hooks, and returns the failures.
    """
    if kind not in ON_ERROR:
        raise ValueError(f"unknown hook kind {kind!r} (expected one of {', '.join(HOOK_KINDS)})")
    policy = on_error or ON_ERROR[kind]
    failures: list[HookError] = []
    for index, hook in enumerate(hooks or ()):
        try:
            run_hook(kind, index, hook, state, cwd=cwd)
        except HookError as exc:
            if policy == "raise":
                raise
            failures.append(exc)
            (warn or _default_warn)(str(exc))
    return failures


def run_hooks_in_container(
    kind: str, hooks: Iterable[Any] | None, state: Mapping[str, Any], *, cwd: str | None = None
) -> None:
    """createContainer / startContainer, called BY THE INIT (which is already in the container's
    namespaces, so a plain run is "in the container namespace"): the state's pid becomes the pid as
    the container sees it, as runc does (``s.Pid = unix.Getpid()``). Errors raise HookError; the init
    reports it to the parent like any other stage failure."""
    if kind not in ("createContainer", "startContainer"):
        raise ValueError(f"{kind} hooks run in the runtime namespace: use run_hooks")
    run_hooks(kind, hooks, {**state, "pid": os.getpid()}, on_error="raise", cwd=cwd)


def _default_warn(message: str) -> None:
    import warnings

    warnings.warn(message, stacklevel=3)


def hooks_by_kind(hooks: Any) -> dict[str, list[Any]]:
    """A ``spec.Hooks`` model or the ``hooks`` JSON dict -> {"createRuntime": [...], ...} (spec names)."""
    if hooks is None:
        return {}
    if not isinstance(hooks, Mapping):
        hooks = hooks.to_dict()
    return {kind: list(hooks.get(kind) or []) for kind in HOOK_KINDS if hooks.get(kind)}


def validate_hooks(hooks: Any) -> None:
    """Check ``hooks`` at create: every path absolute, and for hooks whose path resolves in the runtime
    namespace (all but startContainer, which resolves in the container), an executable regular file.
    Raises ConfigError with one line naming ``hooks.<kind>[i].path`` (or ``.timeout``)."""
    for kind, entries in hooks_by_kind(hooks).items():
        for i, hook in enumerate(entries):
            where = f"hooks.{kind}[{i}]"
            path = _field(hook, "path")
            if not isinstance(path, str) or not path:
                raise ConfigError("is required", path=f"{where}.path")
            if not os.path.isabs(path):
                raise ConfigError(f"must be an absolute path, got {path!r}", path=f"{where}.path")
            timeout = _field(hook, "timeout")
            if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0):
                raise ConfigError(f"must be greater than zero, got {timeout!r}", path=f"{where}.timeout")
            if kind in _PATH_IN_RUNTIME:
                if not os.path.isfile(path):
                    raise ConfigError(f"{path} does not exist or is not a regular file", path=f"{where}.path")
                if not os.access(path, os.X_OK):
                    raise ConfigError(f"{path} is not executable", path=f"{where}.path")


__all__ = [
    "HOOK_KINDS",
    "NAMESPACE",
    "ON_ERROR",
    "HookError",
    "hooks_by_kind",
    "run_hook",
    "run_hooks",
    "run_hooks_in_container",
    "validate_hooks",
]
