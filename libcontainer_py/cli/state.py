"""pyrunc state: print the container's state as JSON (state-schema.json, plus runc's fields)."""

from __future__ import annotations

import sys

from libcontainer_py import _json
from libcontainer_py.cli._common import add_id
from libcontainer_py.cli._context import Context

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from libcontainer_py.cli._parser import Namespace, VerbParser

HELP = "output the state of a container"


def configure(parser: VerbParser) -> None:
    add_id(parser)


def run(args: Namespace, ctx: Context) -> int:
    from libcontainer_py.container import Container

    doc = Container.load(args.container_id, ctx.root).state()
    sys.stdout.write(_json.dumps(doc, indent=2) + "\n")
    return 0
