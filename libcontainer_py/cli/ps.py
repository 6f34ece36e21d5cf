"""pyrunc ps [--format table|json] ID [ps options]: the container's processes.

As runc: `--format json` prints the pids as a JSON array; the table runs the host's `ps` with the
given options (default `-ef`) and keeps the header and the rows whose PID is in the container."""

from __future__ import annotations

import subprocess
import sys

from libcontainer_py import _json
from libcontainer_py.cli._context import Context, UsageError

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from libcontainer_py.cli._parser import Namespace, VerbParser

HELP = "ps displays the processes running inside a container"


def configure(parser: VerbParser) -> None:
    parser.add_argument("--format", "-f", choices=("table", "json"), default="table")
    parser.add_argument("container_id", metavar="CONTAINER_ID")
    parser.command_after_id = True


def run(args: Namespace, ctx: Context) -> int:
    from libcontainer_py.container import Container

    container = Container.load(args.container_id, ctx.root)
    pids = container.processes()
    if args.format == "json":
        if args.command:
            raise UsageError("ps: options for ps(1) cannot be used with --format json")
        sys.stdout.write(_json.dumps(pids) + "\n")
        return 0
    options = args.command or ["-ef"]
    try:
        out = subprocess.run(["ps", *options], capture_output=True, text=True, check=True).stdout
    except FileNotFoundError:
        raise UsageError("ps: the host has no ps(1) (install procps) — use --format json") from None
    except subprocess.CalledProcessError as exc:
        raise UsageError(f"ps {' '.join(options)}: {exc.stderr.strip() or f'exit status {exc.returncode}'}") from None
    lines = out.splitlines()
    if not lines:
        return 0
    header = lines[0].split()
    if "PID" not in header:
        raise UsageError(f"ps {' '.join(options)}: its output has no PID column")
    col = header.index("PID")
    wanted = set(pids)
    print(lines[0])
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > col and fields[col].isdigit() and int(fields[col]) in wanted:
            print(line)
    return 0
