"""pyrunc kill ID [SIGNAL]: send a signal (default SIGTERM) to the container's init, or with
--all to every process of the container."""

from __future__ import annotations

from libcontainer_py.cli._common import add_id
from libcontainer_py.cli._context import Context

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from libcontainer_py.cli._parser import Namespace, VerbParser

HELP = "kill sends the specified signal (default: SIGTERM) to the container's init process"


def configure(parser: VerbParser) -> None:
    parser.add_argument("--all", "-a", action="store_true", help="send the signal to all processes")
    add_id(parser)
    parser.add_argument("signal", nargs="?", default="SIGTERM", help="signal name or number")


def run(args: Namespace, ctx: Context) -> int:
    from libcontainer_py.container import Container
    from libcontainer_py.state import Status

    container = Container.load(args.container_id, ctx.root)
    if args.all and container.status is Status.STOPPED:
        # As runc 1.1 (Signal with all=true): nothing is left to signal, which is success, not
        # "container not running". containerd's shim sends `kill --all ID 9` while cleaning up
        # containers whose init may already be gone.
        return 0
    container.kill(args.signal, all=args.all)
    return 0
