"""pyrunc features: print the OCI features document (features.md) as JSON."""

from __future__ import annotations

import argparse
import json
import sys

from libcontainer_py.cli._context import Context

HELP = "show the enabled features"


def configure(parser: argparse.ArgumentParser) -> None:
    del parser  # no flags, as runc


def run(args: argparse.Namespace, ctx: Context) -> int:
    del args, ctx
    from libcontainer_py.features import features_document

    sys.stdout.write(json.dumps(features_document(), indent=4) + "\n")
    return 0
