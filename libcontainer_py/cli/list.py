"""pyrunc list: the containers under --root, as a table, ids only (-q) or JSON."""

from __future__ import annotations

import sys

from libcontainer_py import _json
from libcontainer_py.cli._context import Context

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from libcontainer_py.cli._parser import Namespace, VerbParser

HELP = "lists containers started by pyrunc with the given root"


def configure(parser: VerbParser) -> None:
    parser.add_argument("--format", "-f", choices=("table", "json"), default="table")
    parser.add_argument("--quiet", "-q", action="store_true", help="display only container ids")


def run(args: Namespace, ctx: Context) -> int:
    from libcontainer_py.container import Container
    from libcontainer_py.state import ContainerNotFound, CorruptState, list_ids

    states = []
    for cid in list_ids(ctx.root):
        try:
            states.append(Container.load(cid, ctx.root).state())
        except ContainerNotFound:  # deleted meanwhile (or a create that has not written it yet)
            pass
        except CorruptState as exc:  # listed without it, and said (runc says "load container ID: ...")
            ctx.warn(str(exc))
    if args.quiet:
        for st in states:
            print(st["id"])
    elif args.format == "json":
        # No container: `null`, as runc prints it (its Go slice is nil); go-runc reads both.
        sys.stdout.write(_json.dumps(states or None) + "\n")
    else:
        rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        rows += [(s["id"], str(s["pid"]), s["status"], s["bundle"], s["created"], s["owner"] or "root") for s in states]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            print("   ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    return 0
