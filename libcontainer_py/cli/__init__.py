"""`pyrunc`: a runc-compatible command line over libcontainer_py.

Start-up time matters (orchestrators call the runtime thousands of times), so this module imports
nothing heavy: global flags are parsed by hand, and only the module of the verb being run is
imported (`libcontainer_py.cli.<verb>`). `pyrunc --version` never imports pydantic.

Every verb module exposes:
    HELP: str                                   one line for `pyrunc --help`
    configure(parser: VerbParser)              adds the verb's flags (cli/_parser.py)
    run(args: Namespace, ctx: Context) -> int
"""

# No `from __future__ import annotations`: `pyrunc state` and `events --stats` import this module,
# and the __future__ module costs them ~0.15 ms (tests/integration/test_cli_imports.py); annotations
# that name TYPE_CHECKING imports are strings.
import posix
import sys

from libcontainer_py.cli._context import Context, GlobalOptions, UsageError, parse_globals

TYPE_CHECKING = False  # not `typing`: its import costs ~2 ms of every pyrunc call
if TYPE_CHECKING:
    from typing import NoReturn

# verb -> (module under libcontainer_py.cli, one-line help). Kept here, not discovered, so that
# listing the verbs costs nothing.
VERBS: dict[str, tuple[str, str]] = {
    "spec": ("spec", "create a new specification file (config.json)"),
    "generate": ("generate", "generate a config.json with oci-runtime-tool style flags"),
    "features": ("features", "show the enabled features (the OCI features document)"),
    "create": ("create", "create a container"),
    "start": ("start", "executes the user defined process in a created container"),
    "run": ("run", "create and run a container"),
    "state": ("state", "output the state of a container"),
    "kill": ("kill", "send a signal to the container's init process (default: SIGTERM)"),
    "delete": ("delete", "delete any resources held by the container"),
    "list": ("list", "lists containers started by pyrunc with the given root"),
    "exec": ("exec", "execute new process inside the container"),
    "ps": ("ps", "ps displays the processes running inside a container"),
    "pause": ("pause", "pause suspends all processes inside the container"),
    "resume": ("resume", "resumes all processes that have been previously paused"),
    "update": ("update", "update container resource constraints"),
    "events": ("events", "display container events such as OOM notifications and usage statistics"),
}


def _usage() -> str:
    lines = [
        "usage: pyrunc [global options] COMMAND [command options] [arguments...]",
        "",
        "pyrunc is a command line client for running containers according to the OCI runtime",
        "specification, built on libcontainer_py.",
        "",
        "commands:",
    ]
    lines += [f"   {name:<10} {help_}" for name, (_mod, help_) in VERBS.items()]
    lines += [
        "",
        "global options:",
        "   --root DIR            root directory for storage of container state (default: /run/pyrunc)",
        "   --log FILE            write the log to FILE (default: stderr)",
        "   --log-format FORMAT   log format: text (default) or json",
        "   --debug               enable debug logging and tracebacks",
        "   --systemd-cgroup      use systemd cgroups (not supported yet)",
        "   --version, -v         print the version",
        "   --help, -h            show help",
    ]
    return "\n".join(lines)


def version_text() -> str:
    from libcontainer_py._version import SPEC_VERSION, __version__

    return f"pyrunc version {__version__}\nspec: {SPEC_VERSION}\npython: {sys.version.split()[0]}\n"


def main(argv: list[str] | None = None) -> "NoReturn":
    # A short-lived process: the cyclic garbage collector would spend ~10 ms walking the objects
    # of the imports (pydantic's above all) to free nothing; and the interpreter's teardown of
    # those modules costs another 15-25 ms that no one waits for. So: no collection passes, and
    # posix._exit once the output is flushed. Long-waiting verbs (run, exec, events) allocate
    # little while they wait.
    import gc

    global _USE_PACK
    _USE_PACK = True  # this process is pyrunc (not a test or a library caller calling _main)
    gc.disable()
    # Started with SIGCHLD ignored (it is inherited across execve), the kernel would reap the
    # container's processes itself and their exit statuses would be lost: a runtime needs them.
    import _signal  # type: ignore[import-not-found]  # (no stub; builtin, no cost)

    if _signal.getsignal(_signal.SIGCHLD) == _signal.SIG_IGN:
        _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
    _stdio_open()
    status = _main(sys.argv[1:] if argv is None else argv)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):
        status = status or 1
    pack = sys.modules.get("libcontainer_py._codepack")
    if pack is not None:
        pack.refresh_if_stale()  # once after an upgrade or an edit, as a .pyc is rewritten
    posix._exit(status)


def _stdio_open() -> None:
    """pyrunc started with fd 0, 1 or 2 closed (`pyrunc list >&-`): /dev/null there, as Go's
    runtime gives runc, and sys.stdout and friends, which the interpreter left as None, back
    (writing to them was a traceback). Output to a closed stdout is discarded, as runc's is."""
    try:
        posix.fstat(0), posix.fstat(1), posix.fstat(2)
        return
    except OSError:
        pass
    import io

    from libcontainer_py.init.fds import ensure_stdio

    ensure_stdio()
    if sys.stdin is None:
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False))
    if sys.stdout is None:
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), line_buffering=True)
    if sys.stderr is None:
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), errors="backslashreplace", line_buffering=True)


def _main(argv: list[str]) -> int:
    ctx: Context | None = None
    verb: str | None = None
    try:
        opts, rest = parse_globals(argv)
        ctx = Context(opts)
        if opts.version:
            sys.stdout.write(version_text())
            return 0
        if opts.help or not rest:
            print(_usage())
            return 0 if opts.help else 1
        verb, verb_args = rest[0], rest[1:]
        if verb == "help":
            print(_usage())
            return 0
        if verb not in VERBS:
            # Exit status 3, as runc's (urfave/cli's "No help topic"): scripts that probe a
            # runtime's verbs look at it.
            raise UsageError(f"no such command {verb!r} (see pyrunc --help)", exit_status=3)
        if opts.systemd_cgroup:
            raise UsageError("--systemd-cgroup is not supported yet: drop the flag to use cgroupfs")
        return _run_verb(verb, verb_args, ctx)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError as exc:
        if not _stdout_reader_gone():
            # Another pipe or socket (a child of ours that died, a hook's stdin): a real error.
            return _report(exc, ctx, verb)
        # The reader went away (pyrunc list | head): not an error worth a traceback.
        # Point stdout at /dev/null so the interpreter's final flush does not complain again.
        devnull = posix.open("/dev/null", posix.O_WRONLY)
        posix.dup2(devnull, sys.stdout.fileno())
        posix.close(devnull)
        return 1
    except BaseException as exc:
        if isinstance(exc, SystemExit):
            code = exc.code
            return code if isinstance(code, int) else (0 if code is None else 1)
        return _report(exc, ctx, verb)


def _stdout_reader_gone() -> bool:
    """Whether stdout is a pipe or socket whose reader has gone (poll reports POLLERR for it)."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), 0)
        return any(ev & (select.POLLERR | select.POLLHUP) for _fd, ev in poller.poll(0))
    except (OSError, ValueError):
        return False


# Verbs whose module has a fast(argv, ctx) for their common form (see _run_verb; a unit test holds
# this to the verb modules).
FAST_VERBS = frozenset({"state", "events"})
_USE_PACK = False  # set by main(): only a pyrunc process reads its imports from the code pack


def _use_code_pack() -> None:
    """Serve the rest of our imports from the code pack (libcontainer_py/_codepack.py): one stat
    and one pread a module instead of the import system's path search (~50-90 us a module here).
    Not for the fast forms of state and events: they import a handful of modules, fewer than the
    pack's own set-up is worth."""
    if not _USE_PACK:
        return
    from libcontainer_py import _codepack

    _codepack.install()


def _run_verb(verb: str, verb_args: list[str], ctx: Context) -> int:
    if verb not in FAST_VERBS:
        _use_code_pack()
    name = f"libcontainer_py.cli.{VERBS[verb][0]}"
    __import__(name)  # not importlib.import_module: importing importlib is one more module
    module = sys.modules[name]
    # A verb may answer its most common form itself, before the parser and the library are
    # imported (state ID, events --stats ID: cli/state.py, cli/events.py); None means "not this
    # form": the full path below then answers, with its errors.
    fast = getattr(module, "fast", None)
    if fast is not None:
        status: int | None = fast(verb_args, ctx)
        if status is not None:
            return status
        _use_code_pack()
    from libcontainer_py.cli._parser import VerbParser

    parser = VerbParser(prog=f"pyrunc {verb}", description=VERBS[verb][1])
    module.configure(parser)
    args = parser.parse_verb_args(verb_args)
    result: int = module.run(args, ctx)
    return result


def _report(exc: BaseException, ctx: Context | None, verb: str | None = None) -> int:
    """Turn any exception into one line on stderr (and the --log file), and an exit status."""
    from libcontainer_py.errors import LibcontainerError

    if isinstance(exc, UsageError | LibcontainerError):
        message = str(exc)
    elif isinstance(exc, OSError) and exc.filename is not None:
        message = f"{exc.strerror or exc}: {exc.filename}"
    else:
        message = f"internal error: {type(exc).__name__}: {exc} (run with --debug for a traceback)"
    message = " ".join(message.splitlines()) or type(exc).__name__
    debug = ctx is not None and ctx.options.debug
    if debug:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    if ctx is not None:
        ctx.log_error(message)
    else:
        sys.stderr.write(f"pyrunc: {message}\n")
    if verb == "exec" and not isinstance(exc, UsageError):
        # runc exits 255 for every failure of `exec` past its argument checks ("exec failed:
        # container does not exist", "cannot exec in a stopped container", ...), so a caller can
        # tell a failed exec from the process's own status 1; podman and the shim rely on it.
        return 255
    return int(getattr(exc, "exit_status", 1))


__all__ = ["VERBS", "Context", "GlobalOptions", "main", "version_text"]
