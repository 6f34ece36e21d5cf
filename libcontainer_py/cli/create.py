"""pyrunc create: set up the container; its program waits until `pyrunc start`."""

from __future__ import annotations

import argparse

from libcontainer_py.cli._common import add_create_flags, create_container
from libcontainer_py.cli._context import Context

HELP = "create a container"


def configure(parser: argparse.ArgumentParser) -> None:
    add_create_flags(parser)


def run(args: argparse.Namespace, ctx: Context) -> int:
    create_container(args, ctx, detach=True)
    return 0
