"""pyrunc events [--stats] [--interval 5s] ID: the container's resource usage as JSON, once with
--stats, else a stream (one JSON object per line) every interval, with OOM events as they happen."""

# No `from __future__ import annotations`: `pyrunc state` and `events --stats` import this module,
# and the __future__ module costs them ~0.15 ms (tests/integration/test_cli_imports.py); annotations
# that name TYPE_CHECKING imports are strings.
import sys

from libcontainer_py import _json

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from libcontainer_py.cli._context import Context
    from libcontainer_py.cli._parser import Namespace, VerbParser

HELP = "display container events such as OOM notifications, cpu, memory, and IO usage statistics"


def duration(text: str) -> float:
    """Go durations as runc takes them: 5s, 500ms, 1m30s, 1h."""
    import re  # here: only --interval needs it (~5 ms to import)

    from libcontainer_py.cli._parser import ArgumentTypeError

    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ArgumentTypeError(f"invalid duration {text!r} (e.g. 5s, 500ms, 1m)")
    total = sum(float(n) * units[u] for n, u in parts)
    if total <= 0:
        raise ArgumentTypeError(f"duration must be positive (got {text!r})")
    return total


def configure(parser: "VerbParser") -> None:
    from libcontainer_py.cli._common import add_id

    parser.add_argument("--interval", type=duration, default=5.0, help="stats interval (default 5s)")
    parser.add_argument("--stats", action="store_true", help="print the stats once and exit")
    add_id(parser)


def fast(argv: list[str], ctx: "Context") -> int | None:
    """`pyrunc events --stats ID` of a running container, through _status.py and cgroups/_read.py
    alone (cli/__init__.py _run_verb): what podman and the shims poll, and what runc answers in
    ~5 ms. None for anything else (other arguments, no such or a stopped container, no cgroup):
    the parser and the library then answer, errors included."""
    if len(argv) != 2 or argv[0] != "--stats" or argv[1].startswith("-"):
        return None
    from libcontainer_py import _status

    st = _status.read_state(ctx.root, argv[1])
    if st is None or not st["cgroup_paths"]:
        return None
    if _status.live_status(st["pid"], st["pid_start"], st["dir"], st["cgroup_paths"]) == "stopped":
        return None
    from libcontainer_py.cgroups import _read

    # runc's dict straight from the files: no typed Stats records (cgroups/_read.py says why)
    data, _oom_kill = _read.runc_stats(st["cgroup_paths"])
    sys.stdout.write(_json.dumps({"type": "stats", "id": st["id"], "data": data}) + "\n")
    return 0


def run(args: "Namespace", ctx: "Context") -> int:
    import contextlib
    import time

    from libcontainer_py.cli._context import UsageError
    from libcontainer_py.container import Container
    from libcontainer_py.errors import LibcontainerError
    from libcontainer_py.state import Status

    container = Container.load(args.container_id, ctx.root)
    if args.stats:
        sys.stdout.write(_json.dumps(container.stats().to_runc_event(container.id)) + "\n")
        return 0
    if container.status is Status.STOPPED:
        raise UsageError(f"container {container.id!r} is not running")
    manager = container._cgroups()
    ooms = manager.oom_kill_count()
    next_stats = 0.0

    def report_ooms() -> None:
        nonlocal ooms
        with contextlib.suppress(LibcontainerError, OSError):  # the cgroup may be gone by now
            count = manager.oom_kill_count()
            if count > ooms:
                ooms = count
                print(_json.dumps({"type": "oom", "id": container.id}), flush=True)

    while container.status not in (Status.STOPPED,):  # re-read every round
        now = time.monotonic()
        report_ooms()
        if now >= next_stats:
            print(_json.dumps(container.stats().to_runc_event(container.id)), flush=True)
            next_stats = now + args.interval
        time.sleep(min(0.2, args.interval))
    # An OOM kill of the init stops the container between two rounds: report it still.
    report_ooms()
    return 0
