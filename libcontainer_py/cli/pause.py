"""pyrunc pause ID: freeze every process of the container (cgroup freezer)."""

from __future__ import annotations

import argparse

from libcontainer_py.cli._common import add_id
from libcontainer_py.cli._context import Context

HELP = "pause suspends all processes inside the container"


def configure(parser: argparse.ArgumentParser) -> None:
    add_id(parser)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from libcontainer_py.container import Container

    Container.load(args.container_id, ctx.root).pause()
    return 0
