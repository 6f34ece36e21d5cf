"""pyrunc state: print the container's state as JSON (state-schema.json, plus runc's fields)."""

# No `from __future__ import annotations`: `pyrunc state` and `events --stats` import this module,
# and the __future__ module costs them ~0.15 ms (tests/integration/test_cli_imports.py); annotations
# that name TYPE_CHECKING imports are strings.
import sys

from libcontainer_py import _json

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from libcontainer_py.cli._context import Context
    from libcontainer_py.cli._parser import Namespace, VerbParser

HELP = "output the state of a container"


def configure(parser: "VerbParser") -> None:
    from libcontainer_py.cli._common import add_id

    add_id(parser)


def fast(argv: list[str], ctx: "Context") -> int | None:
    """`pyrunc state ID` of a created container, through _status.py alone (cli/__init__.py
    _run_verb); None for anything else (other arguments, no such container, a create at work):
    the parser and the library then answer, errors included."""
    if len(argv) != 1 or argv[0].startswith("-"):
        return None
    from libcontainer_py import _status

    st = _status.read_state(ctx.root, argv[0])
    if st is None:
        return None
    status = _status.live_status(st["pid"], st["pid_start"], st["dir"], st["cgroup_paths"])
    _print(_status.oci_state(
        oci_version=st["oci_version"], container_id=st["id"], status=status, pid=st["pid"], bundle=st["bundle"],
        rootfs=st["rootfs"], created=st["created"], owner=st["owner"], annotations=st["annotations"],
    ))  # fmt: skip
    return 0


def run(args: "Namespace", ctx: "Context") -> int:
    from libcontainer_py.container import Container

    _print(Container.load(args.container_id, ctx.root).state())
    return 0


def _print(doc: dict[str, object]) -> None:
    sys.stdout.write(_json.dumps(doc, indent=2) + "\n")
