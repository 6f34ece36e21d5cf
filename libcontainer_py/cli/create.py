"""pyrunc create: set up the container; its program waits until `pyrunc start`."""

from __future__ import annotations

from libcontainer_py.cli._common import add_create_flags, create_container
from libcontainer_py.cli._context import Context
from libcontainer_py.cli._signals import Relay

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from libcontainer_py.cli._parser import Namespace, VerbParser

HELP = "create a container"


def configure(parser: VerbParser) -> None:
    add_create_flags(parser)


def run(args: Namespace, ctx: Context) -> int:
    # SIGTERM, SIGINT, SIGHUP... caught while the container is made, then dropped, as runc's create
    # does: one of them must not kill pyrunc half-way and leave a half-made container (cli/_signals.py).
    relay = Relay()
    try:
        create_container(args, ctx, detach=True)
    finally:
        relay.close()
    return 0
