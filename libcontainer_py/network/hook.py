"""``pyrunc-netns``: the network as an OCI hook.

    pyrunc-netns up   --bridge pyrunc0 --subnet 10.88.0.0/16 [--state-root DIR] [--host-netns NS]
                      [--mtu N] [--ifname eth0]               < state.json   (createRuntime / prestart)
    pyrunc-netns down --bridge pyrunc0 [--subnet ...] [--state-root DIR] [--host-netns NS]
                                                              < state.json   (poststop)

The runtime writes the container's state (runtime.md, "State": ociVersion, id, status, pid, bundle) on
the hook's stdin. `up` attaches the network namespace of the state's pid to the bridge; `down` needs
only the id (the pid is gone by poststop). For use by hand, `--id` with `--pid` or `--netns` replaces
stdin. Success prints nothing; a failure prints one line naming the argument at fault and exits 1
(2 for a usage error), with nothing half-made.

`add_network_hooks(config, ...)` writes both hooks into a config (a dict, or a Spec).

Only argparse and json at import: pyroute2 is imported by the set-up itself, not to parse arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import MutableMapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from libcontainer_py.network._netns import check_ifname
from libcontainer_py.network.errors import NetworkError
from libcontainer_py.network.ipam import DEFAULT_STATE_ROOT, parse_subnet

if TYPE_CHECKING:
    from libcontainer_py.spec import Spec

PROG = "pyrunc-netns"
DEFAULT_BRIDGE = "pyrunc0"
DEFAULT_SUBNET = "10.88.0.0/16"
UP_KINDS = ("createRuntime", "prestart")

#: NetworkError.argument -> how the command line spells it.
_FLAGS = {
    "bridge": "--bridge",
    "subnet": "--subnet",
    "state_root": "--state-root",
    "host_netns": "--host-netns",
    "mtu": "--mtu",
    "ifname": "--ifname",
    "netns": "--netns",
}


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not argparse's usage block
        raise _UsageError(message)


def _parser() -> _Parser:
    parser = _Parser(prog=PROG, description="Attach a container's network namespace to a bridge (an OCI hook).")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, help_ in (
        ("up", "attach (createRuntime or prestart hook): veth, address, default route"),
        ("down", "detach (poststop hook): delete the veth, release the address"),
    ):
        p = sub.add_parser(name, help=help_)
        p.add_argument("--bridge", default=DEFAULT_BRIDGE, help=f"bridge name (default {DEFAULT_BRIDGE})")
        p.add_argument("--subnet", default=None, help=f"IPv4 subnet of the bridge (default {DEFAULT_SUBNET})")
        p.add_argument("--state-root", default=DEFAULT_STATE_ROOT, help=f"lease files (default {DEFAULT_STATE_ROOT})")
        p.add_argument("--host-netns", default=None, help="netns path or name holding the bridge (default: ours)")
        p.add_argument("--id", dest="container_id", default=None, help="container id (instead of stdin's state)")
        if name == "up":
            p.add_argument("--mtu", type=int, default=None, help="MTU (default: the bridge's)")
            p.add_argument("--ifname", default="eth0", help="interface name in the container (default eth0)")
            p.add_argument("--pid", type=int, default=None, help="container pid (instead of stdin's state)")
            p.add_argument("--netns", default=None, help="container netns path (instead of a pid)")
    return parser


def read_state(stream: Any, *, need_pid: bool) -> tuple[str, int | None]:
    """(id, pid) from the OCI state JSON on `stream`. NetworkError("stdin") says what is missing."""
    if stream is None or (hasattr(stream, "isatty") and stream.isatty()):
        raise NetworkError("stdin", "no container state: a hook reads the OCI state JSON on stdin (or give --id)")
    text = stream.read()
    if not text.strip():
        raise NetworkError("stdin", "no container state: stdin is empty (expected the OCI state JSON)")
    try:
        state = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NetworkError("stdin", f"the container state is not valid JSON ({exc})") from None
    if not isinstance(state, dict):
        raise NetworkError("stdin", "the container state is not a JSON object")
    cid = state.get("id")
    if not isinstance(cid, str) or not cid:
        raise NetworkError("stdin", 'the container state has no "id"')
    pid = state.get("pid")
    if pid is not None and (isinstance(pid, bool) or not isinstance(pid, int)):
        raise NetworkError("stdin", f'the container state\'s "pid" is not an integer ({pid!r})')
    if need_pid and (pid is None or pid <= 0):
        status = state.get("status", "?")
        raise NetworkError("stdin", f'the container state has no "pid" (status {status!r}); is this a poststop hook?')
    return cid, pid


def _run(args: argparse.Namespace, stdin: Any) -> None:
    check_ifname(args.bridge, "bridge")
    subnet = parse_subnet(args.subnet if args.subnet is not None else DEFAULT_SUBNET)
    if args.command == "up":
        from libcontainer_py.network.bridge import check_mtu

        check_mtu(args.mtu)
        check_ifname(args.ifname, "ifname")
        target: int | str | None = args.netns if args.netns is not None else args.pid
        if args.container_id is not None and target is not None:
            cid = args.container_id
        else:
            cid, pid = read_state(stdin, need_pid=target is None)
            cid = args.container_id or cid
            if target is None:
                target = pid
        assert target is not None
        from libcontainer_py.network.veth import connect

        connect(
            cid,
            target,
            args.bridge,
            subnet,
            state_root=args.state_root,
            mtu=args.mtu,
            host_netns=args.host_netns,
            ifname=args.ifname,
        )
    else:
        cid = args.container_id if args.container_id is not None else read_state(stdin, need_pid=False)[0]
        from libcontainer_py.network.veth import disconnect

        disconnect(cid, args.bridge, state_root=args.state_root, host_netns=args.host_netns)


def main(argv: Sequence[str] | None = None, stdin: Any = None) -> int:
    """The console script. Returns the exit status: 0, 1 (a failure, one line on stderr), 2 (usage)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and argv[0] in ("up", "down") else None
    prog = f"{PROG} {command}" if command else PROG
    try:
        args = _parser().parse_args(argv)
    except _UsageError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    try:
        _run(args, sys.stdin if stdin is None else stdin)
    except NetworkError as exc:
        where = exc.argument
        if where == "pid":
            where = "--pid" if getattr(args, "pid", None) is not None else "stdin: pid"
        elif where == "container_id":
            where = "--id" if args.container_id is not None else "stdin: id"
        else:
            where = _FLAGS.get(where, where)
        print(f"{prog}: {where}: {exc.reason}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug or an unexpected kernel answer: still one line, still non-zero
        print(f"{prog}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


# --- adding the hooks to a spec -------------------------------------------------------------------

ConfigT = TypeVar("ConfigT", bound="MutableMapping[str, Any] | Spec")


def hook_command(hook_path: str | None = None) -> tuple[str, list[str]]:
    """(path, argv prefix) that runs this hook: `hook_path`; else the installed `pyrunc-netns` script
    (next to this interpreter, or on PATH); else this interpreter with `-m libcontainer_py.network`.
    Resolved now, to absolute paths, because the runtime runs hooks with its own PATH."""
    if hook_path is not None:
        if not os.path.isabs(hook_path):
            raise NetworkError("hook_path", f"a hook path must be absolute (got {hook_path!r})")
        return hook_path, [PROG]
    beside = Path(sys.executable).parent / PROG
    found = str(beside) if os.access(beside, os.X_OK) else shutil.which(PROG)
    if found:
        return os.path.abspath(found), [PROG]
    return sys.executable, [sys.executable, "-m", "libcontainer_py.network"]


def add_network_hooks(
    config: ConfigT,
    bridge: str = DEFAULT_BRIDGE,
    subnet: str = DEFAULT_SUBNET,
    *,
    state_root: str | None = None,
    host_netns: str | None = None,
    mtu: int | None = None,
    ifname: str | None = None,
    kind: str = "createRuntime",
    hook_path: str | None = None,
    timeout: int | None = None,
) -> ConfigT:
    """Add `pyrunc-netns up` (as a `kind` hook: createRuntime, the default, or prestart) and
    `pyrunc-netns down` (poststop) to a config. A dict (config.json as a dict, e.g. SpecBuilder's) is
    changed in place and returned; a Spec is returned as a new Spec. Adding the same hooks twice
    changes nothing. The arguments are checked now, so a bad subnet fails here, not at `pyrunc run`."""
    from libcontainer_py.network.bridge import check_mtu

    check_ifname(bridge, "bridge")
    parse_subnet(subnet)
    check_mtu(mtu)
    if ifname is not None:
        check_ifname(ifname, "ifname")
    if kind not in UP_KINDS:
        raise NetworkError("kind", f"the up hook runs as one of {', '.join(UP_KINDS)} (got {kind!r})")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0):
        raise NetworkError("timeout", f"must be a positive number of seconds (got {timeout!r})")
    path, prefix = hook_command(hook_path)
    common = ["--bridge", bridge, "--subnet", subnet]
    if state_root is not None:
        common += ["--state-root", os.path.abspath(state_root)]
    if host_netns is not None:
        common += ["--host-netns", host_netns]
    up_args = [*prefix, "up", *common]
    if mtu is not None:
        up_args += ["--mtu", str(mtu)]
    if ifname is not None:
        up_args += ["--ifname", ifname]
    down_args = [*prefix, "down", *common]

    if isinstance(config, MutableMapping):
        _add_hooks(config, kind, path, up_args, down_args, timeout)
        return config
    data = config.to_dict()
    _add_hooks(data, kind, path, up_args, down_args, timeout)
    return type(config).from_dict(data)


def _add_hooks(
    data: MutableMapping[str, Any], kind: str, path: str, up: list[str], down: list[str], timeout: int | None
) -> None:
    hooks = data.get("hooks")
    if not isinstance(hooks, MutableMapping):
        hooks = data["hooks"] = {}
    for key, args in ((kind, up), ("poststop", down)):
        entry: dict[str, Any] = {"path": path, "args": args}
        if timeout is not None:
            entry["timeout"] = timeout
        entries = hooks.get(key)
        if not isinstance(entries, list):
            entries = hooks[key] = []
        if entry not in entries:
            entries.append(entry)
