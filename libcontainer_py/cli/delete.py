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
    from libcontainer_py.state import ContainerNotFound, StateDir, validate_id

    validate_id(args.container_id)
    try:
        container = Container.load(args.container_id, ctx.root)
    except ContainerNotFound:
        if args.force:  # containerd's cleanup shim relies on this succeeding
            # What a create killed right after claiming the id left: a directory, no state.
            StateDir(ctx.root, args.container_id).remove_orphan()
            return 0
        raise
    container.delete(force=args.force)
    return 0
