"""pyrunc delete [--force] ID: remove a stopped container (with --force, any container)."""

from __future__ import annotations

from libcontainer_py.cli._common import add_id
from libcontainer_py.cli._context import Context

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from libcontainer_py.cli._parser import Namespace, VerbParser

HELP = "delete any resources held by the container"


def configure(parser: VerbParser) -> None:
    parser.add_argument(
        "--force", "-f", action="store_true", help="forcibly delete the container if it is still running (uses SIGKILL)"
    )
    add_id(parser)


def run(args: Namespace, ctx: Context) -> int:
    from libcontainer_py.container import Container
    from libcontainer_py.state import ContainerNotFound, CorruptState, StateDir, validate_id

    validate_id(args.container_id)
    try:
        container = Container.load(args.container_id, ctx.root)
    except ContainerNotFound:
        if args.force:  # containerd's cleanup shim relies on this succeeding
            # What a create killed right after claiming the id left: a directory, no state.
            StateDir(ctx.root, args.container_id).remove_orphan()
            return 0
        raise
    except CorruptState as exc:
        if not args.force:
            raise
        # What the error says to do: the directory goes; what it named cannot be found from it.
        if StateDir(ctx.root, args.container_id).remove_corrupt():
            ctx.warn(
                f"container {args.container_id!r}: its state.json was corrupt ({exc.__cause__}); its directory "
                "was removed, and any process or cgroup it had was left as it was"
            )
        return 0
    container.delete(force=args.force)
    return 0
