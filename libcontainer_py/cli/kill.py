"""pyrunc kill ID [SIGNAL]: send a signal (default SIGTERM) to the container's init, or with
--all to every process of the container."""

from __future__ import annotations

import argparse

from libcontainer_py.cli._common import add_id
from libcontainer_py.cli._context import Context

HELP = "kill sends the specified signal (default: SIGTERM) to the container's init process"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--all", "-a", action="store_true", help="send the signal to all processes")
    add_id(parser)
    parser.add_argument("signal", nargs="?", default="SIGTERM", help="signal name or number")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from libcontainer_py.container import Container

    Container.load(args.container_id, ctx.root).kill(args.signal, all=args.all)
    return 0
