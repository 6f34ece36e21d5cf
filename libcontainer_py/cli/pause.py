"""pyrunc pause ID: freeze every process of the container (cgroup freezer)."""

from __future__ import annotations

from libcontainer_py.cli._common import add_id
from libcontainer_py.cli._context import Context

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from libcontainer_py.cli._parser import Namespace, VerbParser

HELP = "pause suspends all processes inside the container"


def configure(parser: VerbParser) -> None:
    add_id(parser)


def run(args: Namespace, ctx: Context) -> int:
    from libcontainer_py.container import Container

    Container.load(args.container_id, ctx.root).pause()
    return 0
