"""Flags and helpers shared by the lifecycle verbs."""

from __future__ import annotations

from libcontainer_py.cli._context import Context

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from libcontainer_py.cli._parser import Namespace, VerbParser


def add_id(parser: VerbParser) -> None:
    parser.add_argument("container_id", metavar="CONTAINER_ID", help="the container's id")


def add_create_flags(parser: VerbParser) -> None:
    parser.add_argument("--bundle", "-b", default=".", help="path to the bundle directory (default: cwd)")
    parser.add_argument("--pid-file", help="write the init's pid to this file")
    parser.add_argument("--console-socket", help="unix socket that receives the pty master (process.terminal)")
    parser.add_argument("--no-pivot", action="store_true", help="use MS_MOVE and chroot instead of pivot_root")
    parser.add_argument(
        "--no-new-keyring", action="store_true", help="do not create a new session keyring for the container"
    )
    parser.add_argument(
        "--preserve-fds",
        type=int,
        default=0,
        metavar="N",
        help="pass N more fds (3 .. 3+N-1) to the container's process",
    )
    add_id(parser)


def create_container(args: Namespace, ctx: Context, *, detach: bool, start: bool = False) -> object:
    """Container.create with the flags; `detach`: nobody will relay a terminal (create, run -d);
    `start`: run the program as soon as the container is set up (run)."""
    from libcontainer_py import _create
    from libcontainer_py.cli._context import UsageError
    from libcontainer_py.container import Container

    _create.CHILD_IMPORTS = True  # one container, then exit: the child imports the init's modules
    if args.preserve_fds < 0:
        raise UsageError(f"--preserve-fds: must not be negative (got {args.preserve_fds})")
    container = Container.create(
        args.container_id,
        args.bundle,
        root=ctx.root,
        pid_file=args.pid_file,
        no_pivot=args.no_pivot,
        preserve_fds=args.preserve_fds,
        no_new_keyring=args.no_new_keyring,
        console_socket=args.console_socket,
        detach=detach,
        warn=ctx.warn,
        start=start,
    )
    if container.init_kind is not None:  # (run: which init set it up, init/vinit.py)
        ctx.debug(f"container {args.container_id}: init {container.init_kind}")
    return container
