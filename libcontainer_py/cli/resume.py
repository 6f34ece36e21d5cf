"""pyrunc resume ID: thaw a paused container."""

from __future__ import annotations

import argparse

from libcontainer_py.cli._common import add_id
from libcontainer_py.cli._context import Context

HELP = "resumes all processes that have been previously paused"


def configure(parser: argparse.ArgumentParser) -> None:
    add_id(parser)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from libcontainer_py.container import Container

    Container.load(args.container_id, ctx.root).resume()
    return 0
