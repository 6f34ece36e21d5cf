"""Global options of pyrunc, parsed by hand (fast), and the per-invocation context.

runc is a Go program built on urfave/cli: its callers (containerd's go-runc, podman, conmon) put the
global flags before the verb, write them as `--root X`, `--root=X` or `-root X`, and expect error
messages on stderr and, with `--log FILE --log-format json`, as JSON lines in FILE.
"""

# No `from __future__ import annotations`: `pyrunc state` and `events --stats` import this module,
# and the __future__ module costs them ~0.15 ms (tests/integration/test_cli_imports.py); annotations
# that name TYPE_CHECKING imports are strings.
import posix
import sys

from libcontainer_py._paths import abspath

DEFAULT_ROOT = "/run/pyrunc"


class UsageError(Exception):
    """A command line the user must correct. Exit status 1 (or `exit_status`), one line, no
    traceback."""

    exit_status = 1

    def __init__(self, message: str, *, exit_status: int = 1) -> None:
        super().__init__(message)
        self.exit_status = exit_status


class GlobalOptions:
    """runc's global flags. A plain class: importing dataclasses costs ~9 ms of start-up."""

    def __init__(self) -> None:
        self.root: str = DEFAULT_ROOT
        self.log: str | None = None
        self.log_format: str = "text"
        self.debug: bool = False
        self.systemd_cgroup: bool = False
        self.rootless: str | None = None
        self.criu: str | None = None
        self.version: bool = False
        self.help: bool = False


# flag -> (attribute, takes a value)
_GLOBAL_FLAGS: dict[str, tuple[str, bool]] = {
    "root": ("root", True),
    "log": ("log", True),
    "log-format": ("log_format", True),
    "debug": ("debug", False),
    "systemd-cgroup": ("systemd_cgroup", False),
    "rootless": ("rootless", True),
    "criu": ("criu", True),
    "version": ("version", False),
    "v": ("version", False),
    "help": ("help", False),
    "h": ("help", False),
}


def parse_globals(argv: list[str]) -> tuple[GlobalOptions, list[str]]:
    """Consume the global flags before the verb; return them and the rest of argv."""
    opts = GlobalOptions()
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-") or arg == "-":
            break
        if arg == "--":
            i += 1
            break
        name, eq, value = arg.lstrip("-").partition("=")
        if name not in _GLOBAL_FLAGS:
            raise UsageError(f"flag provided but not defined: {arg} (see pyrunc --help)")
        attr, takes_value = _GLOBAL_FLAGS[name]
        if takes_value:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise UsageError(f"flag needs an argument: {arg}")
                value = argv[i]
            setattr(opts, attr, value)
        elif eq:
            setattr(opts, attr, value.lower() in ("1", "true", "t", "yes"))
        else:
            setattr(opts, attr, True)
        i += 1
    if opts.log_format not in ("text", "json"):
        raise UsageError(f"--log-format: unknown format {opts.log_format!r} (use text or json)")
    if not opts.root:
        raise UsageError("--root: the state directory must not be empty")
    opts.root = abspath(opts.root)
    return opts, argv[i:]


class Context:
    """What every verb gets: the global options, and the log."""

    def __init__(self, options: GlobalOptions) -> None:
        self.options = options

    @property
    def root(self) -> str:
        return self.options.root

    def _log_line(self, level: str, message: str) -> str:
        import time

        # _json, not json: the json package (with re, enum, functools, collections) costs ~11 ms,
        # and podman's creates log the seccomp profile's warnings with --log-format json.
        from libcontainer_py import _json as json

        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if self.options.log_format == "json":
            # Compact, as runc's logrus writes it ({"level":"error","msg":...}): clients parse it as
            # JSON, but people and scripts grep these files for '"level":"error"'.
            return json.dumps({"level": level, "msg": message, "time": now}, separators=(",", ":")) + "\n"
        return f'time="{now}" level={level} msg={json.dumps(message)}\n'

    def _write_log(self, level: str, message: str) -> bool:
        if not self.options.log:
            return False
        try:
            fd = posix.open(self.options.log, posix.O_WRONLY | posix.O_APPEND | posix.O_CREAT | posix.O_CLOEXEC, 0o644)
        except OSError as exc:
            sys.stderr.write(f"pyrunc: cannot open --log {self.options.log}: {exc.strerror}\n")
            return False
        try:
            posix.write(fd, self._log_line(level, message).encode())
        finally:
            posix.close(fd)
        return True

    def log_error(self, message: str) -> None:
        """An error ends the command: to the --log file when given, and always to stderr
        (podman without the JSON log flags reads the runtime's stderr)."""
        self._write_log("error", message)
        sys.stderr.write(f"pyrunc: {message}\n")

    def warn(self, message: str) -> None:
        if not self._write_log("warning", message):
            sys.stderr.write(f"pyrunc: warning: {message}\n")

    def debug(self, message: str) -> None:
        if self.options.debug and not self._write_log("debug", message):
            sys.stderr.write(f"pyrunc: debug: {message}\n")
