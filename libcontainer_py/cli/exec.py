"""pyrunc exec [flags] ID COMMAND [ARG...], or pyrunc exec --process process.json ID:
run a new process inside a running container. Exits with the process's status; 255 when the
process could not be started (as runc)."""

from __future__ import annotations

import posix

from libcontainer_py.cli._context import Context, UsageError
from libcontainer_py.cli._signals import Relay

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from libcontainer_py.cli._parser import Namespace, VerbParser

HELP = "execute new process inside the container"


def configure(parser: VerbParser) -> None:
    parser.add_argument("--process", "-p", help="path to a process.json (the spec's process object)")
    parser.add_argument("--env", "-e", action="append", default=[], help="set an environment variable (KEY=VALUE)")
    parser.add_argument("--cwd", help="current working directory in the container")
    parser.add_argument("--user", "-u", help="UID[:GID] to run as")
    parser.add_argument("--additional-gids", "-g", action="append", type=int, default=[], help="additional gids")
    parser.add_argument("--cap", "-c", action="append", default=[], help="add a capability to the bounding set")
    parser.add_argument("--tty", "-t", action="store_true", help="allocate a pseudo-TTY")
    parser.add_argument("--detach", "-d", action="store_true", help="detach from the container's process")
    parser.add_argument("--pid-file", help="write the process's pid to this file")
    parser.add_argument("--console-socket", help="unix socket to receive the pty master")
    parser.add_argument("--preserve-fds", type=int, default=0, metavar="N", help="pass N more fds to the process")
    parser.add_argument("--no-new-privs", action="store_true", help="set no_new_privs for the process")
    parser.add_argument("--apparmor", help="apparmor profile (not supported on this host)")
    parser.add_argument("--process-label", help="SELinux label (not supported on this host)")
    parser.add_argument("--ignore-paused", action="store_true", help="allow exec in a paused container")
    parser.add_argument("--cgroup", action="append", default=[], help="run in a sub-cgroup (not supported yet)")
    parser.add_argument("container_id", metavar="CONTAINER_ID")
    parser.command_after_id = True


def build_process(args: Namespace, init_process: object) -> object:
    """The process to run: --process FILE, or the container's own process with the flags applied
    (as runc: env, user, capabilities and rlimits default to the container's). The runtime's
    objects (spec/fast.py through _specload.py): no pydantic on this path."""
    from libcontainer_py import _specload

    if args.process:
        try:
            with open(args.process) as f:
                text = f.read()
        except OSError as exc:
            raise UsageError(f"--process {args.process}: {exc.strerror}") from None
        return load_process(text, args.process)
    if not args.command:
        raise UsageError("exec: give a command to run (pyrunc exec ID COMMAND [ARG...]) or --process FILE")
    proc = _specload.as_runtime(init_process, "Process")  # loaded for this exec: ours to change
    proc.args = list(args.command)
    proc.terminal = args.tty
    env = list(proc.env or [])
    for item in args.env:
        key = item.partition("=")[0]
        env = [e for e in env if e.partition("=")[0] != key] + [item]
    proc.env = env
    if args.cwd:
        proc.cwd = args.cwd
    if args.user:
        uid, _, gid = args.user.partition(":")
        try:
            proc.user = _specload.new("User", uid=int(uid), gid=int(gid) if gid else 0)
        except ValueError:
            raise UsageError(f"--user {args.user!r}: want UID[:GID] as numbers") from None
    if args.additional_gids:
        if proc.user is None:
            proc.user = _specload.new("User", uid=0, gid=0)
        proc.user.additional_gids = list(args.additional_gids)
    if args.cap:
        from libcontainer_py.capabilities import CAP_NUMBERS, normalize

        caps = proc.capabilities or _specload.new("LinuxCapabilities")
        for name in (normalize(c) for c in args.cap):
            if name not in CAP_NUMBERS:
                raise UsageError(f"--cap {name!r}: unknown capability")
            for kind in ("bounding", "effective", "permitted", "ambient"):
                current = list(getattr(caps, kind) or [])
                if name not in current:
                    setattr(caps, kind, [*current, name])
        proc.capabilities = caps
    if args.no_new_privs:
        proc.no_new_privileges = True
    return proc


def load_process(text: str, source: str) -> object:
    """A process.json, with errors naming the file and the JSON path, as config.json's."""
    from libcontainer_py._specload import parse_process

    return parse_process(text, source)


def run(args: Namespace, ctx: Context) -> int:
    try:
        return _run(args, ctx)
    except UsageError as exc:
        # runc exits 255 for every failure past its flags and argument count ("exec failed: ..."),
        # a flag's bad value included (--user, --process, --console-socket...): a client tells a
        # failed exec from the process's own status 1 by it. (The parser's errors stay 1, as runc's.)
        exc.exit_status = 255
        raise


def _run(args: Namespace, ctx: Context) -> int:
    from libcontainer_py._exec import wait_exit
    from libcontainer_py._specload import load_process_of
    from libcontainer_py.container import Container

    for flag in ("apparmor", "process_label"):
        if getattr(args, flag):
            raise UsageError(f"--{flag.replace('_', '-')}: not supported on this host")
    if args.cgroup:
        raise UsageError("--cgroup: sub-cgroups for exec are not supported yet")
    if args.console_socket and not (args.tty or args.process):
        raise UsageError("--console-socket: only with --tty (or a process.json with terminal: true)")
    if args.preserve_fds < 0:
        raise UsageError(f"--preserve-fds: must not be negative (got {args.preserve_fds})")
    container = Container.load(args.container_id, ctx.root)
    init_process = None
    if not args.process:
        try:
            # its process alone: exec takes nothing else of the config (seccomp comes from state.json)
            init_process = load_process_of(container._state.config)
        except Exception as exc:
            raise UsageError(
                f"cannot read the config of container {args.container_id!r} ({exc}): use --process FILE"
            ) from None
    process = build_process(args, init_process)
    if getattr(process, "terminal", False) and args.detach and not args.console_socket:
        raise UsageError("cannot allocate a tty if pyrunc will detach without setting --console-socket")
    # Started detached, then waited for here, so that signals can be forwarded meanwhile; caught
    # from before the fork (cli/_signals.py), so that one arriving meanwhile is passed on, not fatal.
    relay = Relay()
    try:
        pid, _, console = container.exec(
            process,
            detach=True,
            pid_file=args.pid_file,
            preserve_fds=args.preserve_fds,
            console_socket=args.console_socket,
        )
        if args.detach:
            return 0
        relay.target(pid)
        try:
            if console is not None:
                from libcontainer_py import tty

                try:
                    return tty.relay(console, pid)
                finally:
                    posix.close(console)
            return wait_exit(pid)
        finally:
            relay.target(None)
    finally:
        relay.close()
