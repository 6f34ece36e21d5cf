"""pyrunc features: print the OCI features document (features.md) as JSON."""

from __future__ import annotations

import json
import sys

from libcontainer_py.cli._context import Context

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from libcontainer_py.cli._parser import Namespace, VerbParser

HELP = "show the enabled features"


def configure(parser: VerbParser) -> None:
    del parser  # no flags, as runc


def run(args: Namespace, ctx: Context) -> int:
    del args, ctx
    from libcontainer_py.features import features_document

    sys.stdout.write(json.dumps(features_document(), indent=4) + "\n")
    return 0
