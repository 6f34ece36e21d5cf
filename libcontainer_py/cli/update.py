"""pyrunc update [flags] ID: change the resource limits of a running container, with runc's
flags or a whole LinuxResources document (--resources FILE, or - for stdin)."""

from __future__ import annotations

import json
import sys

from libcontainer_py.cli._common import add_id
from libcontainer_py.cli._context import Context, UsageError
from libcontainer_py.cli._parser import ArgumentTypeError

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from typing import Any

    from libcontainer_py.cli._parser import Namespace, VerbParser

HELP = "update container resource constraints"

_SUFFIXES = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def size(value: str) -> int:
    """`512m`, `1G`, `1048576`, `-1` (unlimited), as runc (go-units RAMInBytes)."""
    text = value.strip().lower().removesuffix("b")
    if text == "-1":
        return -1
    mult = _SUFFIXES.get(text[-1:], 1)
    number = text[:-1] if text[-1:] in _SUFFIXES else text
    try:
        return int(float(number) * mult)
    except ValueError:
        raise ArgumentTypeError(f"invalid size {value!r} (e.g. 512m, 1g, -1)") from None


def configure(parser: VerbParser) -> None:
    parser.add_argument("--resources", "-r", help="a LinuxResources JSON file, or - for stdin")
    parser.add_argument("--memory", type=size, help="memory limit (bytes, or 512m, 1g)")
    parser.add_argument("--memory-reservation", type=size, help="memory soft limit")
    parser.add_argument("--memory-swap", type=size, help="memory + swap limit (-1 for unlimited)")
    parser.add_argument("--kernel-memory", type=size, help="(ignored, as by runc on current kernels)")
    parser.add_argument("--kernel-memory-tcp", type=size, help="(ignored)")
    parser.add_argument("--cpu-shares", "--cpu-share", type=int, help="relative CPU weight")
    parser.add_argument("--cpu-quota", type=int, help="CPU time (us) per period")
    parser.add_argument("--cpu-period", type=int, help="CPU CFS period (us)")
    parser.add_argument("--cpu-rt-period", type=int, help="realtime period (us)")
    parser.add_argument("--cpu-rt-runtime", type=int, help="realtime runtime (us)")
    parser.add_argument("--cpuset-cpus", help="CPUs the container may use (0-3, 0,1)")
    parser.add_argument("--cpuset-mems", help="memory nodes the container may use")
    parser.add_argument("--pids-limit", type=int, help="maximum number of tasks (-1: unlimited)")
    parser.add_argument("--blkio-weight", type=int, help="block IO weight (10-1000)")
    parser.add_argument("--l3-cache-schema", help="(Intel RDT: not supported)")
    parser.add_argument("--mem-bw-schema", help="(Intel RDT: not supported)")
    add_id(parser)


def build(args: Namespace) -> dict[str, Any]:
    if args.resources:
        try:
            text = sys.stdin.read() if args.resources == "-" else open(args.resources).read()  # noqa: SIM115
        except OSError as exc:
            raise UsageError(f"--resources {args.resources}: {exc.strerror}") from None
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--resources {args.resources}: invalid JSON: {exc.msg} at line {exc.lineno}") from None
        if not isinstance(doc, dict):
            raise UsageError(f"--resources {args.resources}: must be a JSON object (a LinuxResources)")
        return doc
    res: dict[str, Any] = {}
    mem = {
        "limit": args.memory,
        "reservation": args.memory_reservation,
        "swap": args.memory_swap,
    }
    cpu = {
        "shares": args.cpu_shares,
        "quota": args.cpu_quota,
        "period": args.cpu_period,
        "realtimePeriod": args.cpu_rt_period,
        "realtimeRuntime": args.cpu_rt_runtime,
        "cpus": args.cpuset_cpus,
        "mems": args.cpuset_mems,
    }
    if any(v is not None for v in mem.values()):
        res["memory"] = {k: v for k, v in mem.items() if v is not None}
    if any(v is not None for v in cpu.values()):
        res["cpu"] = {k: v for k, v in cpu.items() if v is not None}
    if args.pids_limit is not None:
        res["pids"] = {"limit": args.pids_limit}
    if args.blkio_weight is not None:
        res["blockIO"] = {"weight": args.blkio_weight}
    if args.l3_cache_schema or args.mem_bw_schema:
        raise UsageError("--l3-cache-schema/--mem-bw-schema: Intel RDT is not supported")
    if not res:
        raise UsageError("update: nothing to update (give --memory, --cpu-shares, ... or --resources FILE)")
    return res


def run(args: Namespace, ctx: Context) -> int:
    from libcontainer_py.container import Container

    Container.load(args.container_id, ctx.root).update(build(args))
    return 0
