"""pyrunc state: print the container's state as JSON (state-schema.json, plus runc's fields)."""

from __future__ import annotations

import argparse
import json
import sys

from libcontainer_py.cli._common import add_id
from libcontainer_py.cli._context import Context

HELP = "output the state of a container"


def configure(parser: argparse.ArgumentParser) -> None:
    add_id(parser)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from libcontainer_py.container import Container

    doc = Container.load(args.container_id, ctx.root).state()
    sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    return 0
