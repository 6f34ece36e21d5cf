"""`pyrunc generate`: a config.json from oci-runtime-tool style flags, through `SpecBuilder`.

Without flags the output has the content of `pyrunc spec` (runc's defaults, `terminal: true`);
each flag edits it. Like `oci-runtime-tool generate`, flags apply in a fixed order, not in the order
given: the base (`--template` / `--rootless`), then `--privileged`, then everything else, with
`--cap-drop` after `--cap-add` and `--seccomp-default` before the per-syscall rules. So
`--privileged --cap-drop SYS_ADMIN` means "everything except SYS_ADMIN" whatever the order.

Value syntaxes (`SRC:DEST[:OPTS]`...) are the ones of oci-runtime-tool, including its id-mapping
order `HOSTID:CONTAINERID:SIZE`. A bad value is one line naming the flag and the value, exit 1.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from libcontainer_py.cli._context import Context, UsageError
from libcontainer_py.cli._parser import ArgumentTypeError

if TYPE_CHECKING:
    from libcontainer_py.cli._parser import Namespace, VerbParser, _Group
    from libcontainer_py.spec import Spec

HELP = "generate a config.json with oci-runtime-tool style flags"

_HOOK_FLAGS: tuple[tuple[str, str], ...] = (
    ("prestart", "prestart"),
    ("createruntime", "createRuntime"),
    ("createcontainer", "createContainer"),
    ("startcontainer", "startContainer"),
    ("poststart", "poststart"),
    ("poststop", "poststop"),
)

_TRUE = ("1", "t", "true", "yes", "y", "on")
_FALSE = ("0", "f", "false", "no", "n", "off")


def _bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ArgumentTypeError(f"expected true or false (got {text!r})")


def _flag_bool(parser: VerbParser | _Group, name: str, help_: str) -> None:
    """`--flag`, `--flag=true`, `--flag=false` (Go's boolean flag forms, which oci-runtime-tool
    documents as `--tty=true|false`)."""
    parser.add_argument(name, nargs="?", const=True, default=None, type=_bool, metavar="BOOL", help=help_)


def configure(parser: VerbParser) -> None:
    parser.epilog = (
        "Repeatable flags may be given several times; those taking NAMES also accept a "
        "comma-separated list. Boolean flags accept --flag, --flag=true or --flag=false."
    )
    out = parser.add_argument_group("output")
    out.add_argument("--output", "-o", metavar="FILE", help="write to FILE (overwritten); default: stdout")
    out.add_argument("--bundle", "-b", metavar="DIR", help="write DIR/config.json (overwritten); DIR must exist")
    out.add_argument("--template", metavar="FILE", help="start from this config.json instead of the defaults")
    out.add_argument(
        "--rootless", action="store_true", help="start from the rootless defaults (`pyrunc spec --rootless`)"
    )

    proc = parser.add_argument_group("process")
    proc.add_argument(
        "--args",
        action="append",
        metavar="ARG",
        # argparse (unlike Go's flag package) will not take "-c" as the value of `--args -c`:
        # the `--args=-c` form is needed for values starting with a dash.
        help="one argument of the command, repeated in order: --args sh --args=-c --args date "
        "(write --args=VALUE when VALUE starts with -)",
    )
    proc.add_argument("--env", action="append", metavar="NAME=VALUE", help="set an environment variable")
    proc.add_argument("--cwd", metavar="PATH", help="working directory (absolute)")
    _flag_bool(proc, "--tty", "allocate a terminal (the default is true, as with runc spec)")
    proc.add_argument("--uid", type=int, metavar="UID", help="user id of the process")
    proc.add_argument("--gid", type=int, metavar="GID", help="group id of the process")
    proc.add_argument("--additional-gids", "--groups", action="append", metavar="GIDS", help="supplementary group ids")
    proc.add_argument(
        "--cap-add", action="append", metavar="NAMES", help="add capabilities (NET_ADMIN or CAP_NET_ADMIN)"
    )
    proc.add_argument("--cap-drop", action="append", metavar="NAMES", help="drop capabilities (ALL drops every one)")
    _flag_bool(proc, "--privileged", "all capabilities, no masked/read-only paths, no seccomp")
    _flag_bool(proc, "--no-new-privileges", "set the no_new_privs bit (the default is true)")
    proc.add_argument(
        "--rlimits-add",
        action="append",
        metavar="TYPE:HARD:SOFT",
        help="set a resource limit, e.g. RLIMIT_NOFILE:4096:1024 (replaces one of the same type)",
    )
    proc.add_argument("--rlimits-remove", action="append", metavar="TYPE", help="remove a resource limit")

    root = parser.add_argument_group("root, hostname, annotations")
    root.add_argument("--rootfs-path", metavar="PATH", help="root filesystem, absolute or relative to the bundle")
    _flag_bool(root, "--rootfs-readonly", "mount the root filesystem read-only")
    root.add_argument("--hostname", metavar="NAME", help="the container's hostname")
    root.add_argument("--label", action="append", metavar="KEY=VALUE", help="add an annotation")

    mnt = parser.add_argument_group("mounts")
    mnt.add_argument(
        "--mount-bind",
        "--bind",
        action="append",
        metavar="SRC:DEST[:OPTS]",
        help="bind-mount host SRC at DEST; OPTS comma- or colon-separated (ro, rbind, nosuid...); "
        "rbind is added when neither bind nor rbind is given",
    )
    mnt.add_argument(
        "--tmpfs",
        action="append",
        metavar="DEST[:OPTS]",
        help="mount a tmpfs at DEST (default options rw,noexec,nosuid,nodev,size=65536k)",
    )

    ns = parser.add_argument_group("namespaces and id mappings")
    ns.add_argument(
        "--linux-namespace-add",
        action="append",
        metavar="NS[:PATH]",
        help="create namespace NS (pid, network, mount, ipc, uts, user, cgroup, time) or join the one at PATH",
    )
    ns.add_argument(
        "--linux-namespace-path",
        action="append",
        metavar="NS:PATH",
        help="join the existing namespace NS at PATH (e.g. network:/var/run/netns/blue)",
    )
    ns.add_argument("--linux-namespace-remove", action="append", metavar="NS", help="use the host's namespace NS")
    ns.add_argument(
        "--uidmappings",
        action="append",
        metavar="HOSTID:CONTAINERID:SIZE",
        help="map SIZE uids from HOSTID to CONTAINERID (oci-runtime-tool's order); adds a user namespace",
    )
    ns.add_argument(
        "--gidmappings",
        action="append",
        metavar="HOSTID:CONTAINERID:SIZE",
        help="map SIZE gids from HOSTID to CONTAINERID; adds a user namespace",
    )

    res = parser.add_argument_group("resources (cgroups)")
    res.add_argument(
        "--linux-mem-limit",
        metavar="BYTES",
        help="memory limit (bytes, or with a k/m/g suffix; -1 unlimited)",
    )
    res.add_argument("--linux-cpu-shares", metavar="SHARES", help="relative CPU weight")
    res.add_argument("--linux-cpu-quota", metavar="USEC", help="CPU time per period in microseconds")
    res.add_argument("--linux-cpu-period", metavar="USEC", help="CPU period in microseconds")
    res.add_argument("--linux-pids-limit", metavar="N", help="maximum number of tasks (-1 unlimited)")
    res.add_argument("--cgroups-path", metavar="PATH", help="the container's cgroup path")

    sec = parser.add_argument_group("seccomp")
    sec.add_argument(
        "--seccomp-default",
        metavar="ACTION",
        help="action for unmatched syscalls: ALLOW, ERRNO, KILL, KILL_PROCESS, TRAP, TRACE, LOG",
    )
    sec.add_argument(
        "--seccomp-default-profile",
        action="store_true",
        help="a Docker-like default profile (before the per-syscall rules below)",
    )
    sec.add_argument("--seccomp-allow", action="append", metavar="NAMES", help="syscalls to allow")
    sec.add_argument("--seccomp-errno", action="append", metavar="NAMES", help="syscalls that fail with EPERM")
    sec.add_argument("--seccomp-kill", action="append", metavar="NAMES", help="syscalls that kill the caller")

    net = parser.add_argument_group("network (the pyrunc-netns hook)")
    net.add_argument(
        "--network",
        metavar="BRIDGE:SUBNET",
        help="add the pyrunc-netns createRuntime/poststop hooks: a veth on BRIDGE with an address from SUBNET "
        "(e.g. pyrunc0:10.88.0.0/16)",
    )
    net.add_argument(
        "--network-host-netns", metavar="PATH", help="keep the bridge in this network namespace (a netns file)"
    )
    net.add_argument("--network-state-root", metavar="DIR", help="where the address leases live")
    net.add_argument(
        "--network-hook-kind",
        choices=("createRuntime", "prestart"),
        default="createRuntime",
        help="run the up hook as createRuntime (default) or as prestart (as in the runc talk)",
    )

    hooks = parser.add_argument_group(
        "hooks",
        "PATH[:ARG...]: run the program at PATH (absolute); with ARGs its argv is PATH ARG..., "
        "e.g. --hooks-poststop /bin/rm:-f:/tmp/x runs `/bin/rm -f /tmp/x`. Repeatable; run in order.",
    )
    for flag, kind in _HOOK_FLAGS:
        names = [f"--hooks-{flag}"]
        if kind in ("prestart", "poststart", "poststop"):
            names.append(f"--{flag}")  # oci-runtime-tool's older spelling
        hooks.add_argument(
            *names, dest=f"hooks_{flag}", action="append", metavar="PATH[:ARG...]", help=f"add a {kind} hook"
        )


# --- value parsing: each raises UsageError naming the flag and the value --------------------------


def _bad(flag: str, value: str, why: str) -> UsageError:
    return UsageError(f"{flag} {value!r}: {why}")


def _names(values: list[str] | None) -> list[str]:
    """Repeatable, comma-separated NAMES -> a flat list."""
    return [n.strip() for v in values or [] for n in v.split(",") if n.strip()]


def _int(flag: str, value: str, minimum: int = 0) -> int:
    try:
        number = int(value, 10)
    except ValueError:
        raise _bad(flag, value, "expected an integer") from None
    if number < minimum:
        raise _bad(flag, value, f"must be at least {minimum}")
    return number


_SUFFIXES = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def _bytes(flag: str, value: str) -> int:
    text = value.strip().lower().removesuffix("b") if value.strip() != "-1" else "-1"
    factor = 1
    if text and text[-1] in _SUFFIXES:
        factor, text = _SUFFIXES[text[-1]], text[:-1]
    try:
        number = int(text, 10)
    except ValueError:
        raise _bad(flag, value, "expected a number of bytes, e.g. 536870912 or 512m") from None
    if number < -1 or (number == -1 and factor != 1):
        raise _bad(flag, value, "must be a number of bytes, or -1 for no limit")
    return number * factor


def _split_mapping(flag: str, value: str) -> tuple[int, int, int]:
    parts = value.split(":")
    if len(parts) != 3:
        raise _bad(flag, value, "expected HOSTID:CONTAINERID:SIZE")
    host, container, size = (_int(flag, p) if p.isdigit() else -1 for p in parts)
    if min(host, container, size) < 0:
        raise _bad(flag, value, "expected HOSTID:CONTAINERID:SIZE with non-negative integers")
    if size == 0:
        raise _bad(flag, value, "SIZE must be at least 1")
    return host, container, size


_METHOD_PREFIX = re.compile(r"^[a-z_]+: ")


def _apply(flag: str, value: str, method: Callable[..., object], *call_args: Any) -> None:
    """Call a builder method; turn its ConfigError into a one-line error naming the flag and value."""
    from libcontainer_py.errors import ConfigError

    try:
        method(*call_args)
    except ConfigError as exc:
        # The builder's message starts with its method name ("add_capabilities: unknown ...");
        # the user typed a flag, so show the flag instead.
        message = _METHOD_PREFIX.sub("", str(exc), count=1)
        raise _bad(flag, value, message) from None


def _build(args: Namespace) -> tuple[Spec, list[str]]:
    """Apply the flags to a SpecBuilder in oci-runtime-tool's fixed order; return the Spec and the
    validator's warnings."""
    from libcontainer_py.spec.builder import SpecBuilder

    if args.template:
        b = SpecBuilder.load(args.template)
        if args.rootless:
            raise UsageError("--rootless and --template cannot be combined (the template is the base)")
    else:
        b = SpecBuilder.default(rootless=args.rootless)

    if args.privileged:
        b.privileged()

    if args.args:
        b.args(*args.args)
    for entry in args.env or []:
        _apply("--env", entry, b.env, entry)
    if args.cwd is not None:
        _apply("--cwd", args.cwd, b.cwd, args.cwd)
    if args.tty is not None:
        b.terminal(args.tty)
    if args.no_new_privileges is not None:
        b.no_new_privileges(args.no_new_privileges)
    if args.uid is not None:
        _apply("--uid", str(args.uid), b.uid, args.uid)
    if args.gid is not None:
        _apply("--gid", str(args.gid), b.gid, args.gid)
    if args.additional_gids:
        gids = [_int("--additional-gids", g) for g in _names(args.additional_gids)]
        _apply("--additional-gids", ",".join(map(str, gids)), b.additional_gids, *gids)
    for cap in _names(args.cap_add):
        _apply("--cap-add", cap, b.add_capabilities, cap)
    for cap in _names(args.cap_drop):
        _apply("--cap-drop", cap, b.drop_capabilities, cap)
    for value in args.rlimits_add or []:
        parts = value.split(":")
        if len(parts) != 3:
            raise _bad("--rlimits-add", value, "expected TYPE:HARD:SOFT, e.g. RLIMIT_NOFILE:4096:1024")
        if not (parts[1].isdigit() and parts[2].isdigit()):
            raise _bad("--rlimits-add", value, "HARD and SOFT must be non-negative integers")
        kind, hard, soft = parts[0], int(parts[1]), int(parts[2])
        _apply("--rlimits-add", value, b.rlimit, kind, hard, soft)
    for value in args.rlimits_remove or []:
        _apply("--rlimits-remove", value, b.remove_rlimit, value)

    if args.rootfs_path is not None:
        _apply("--rootfs-path", args.rootfs_path, b.rootfs, args.rootfs_path)
    if args.rootfs_readonly is not None:
        b.readonly_rootfs(args.rootfs_readonly)
    if args.hostname is not None:
        b.hostname(args.hostname)
    for value in args.label or []:
        key, eq, val = value.partition("=")
        if not eq or not key:
            raise _bad("--label", value, "expected KEY=VALUE")
        b.annotation(key, val)

    for value in args.mount_bind or []:
        src, sep, rest = value.partition(":")
        dest, _, opts = rest.partition(":")
        if not sep or not src or not dest:
            raise _bad("--mount-bind", value, "expected SRC:DEST[:OPTS]")
        options = [o for o in opts.replace(":", ",").split(",") if o]
        _apply("--mount-bind", value, b.bind_mount, src, dest, options)
    for value in args.tmpfs or []:
        dest, sep, opts = value.partition(":")
        tmpfs_options = [o for o in opts.split(",") if o] if sep else None
        _apply("--tmpfs", value, b.tmpfs, dest, tmpfs_options)

    for value in args.linux_namespace_add or []:
        name, sep, path = value.partition(":")
        _apply("--linux-namespace-add", value, b.add_namespace, name, path if sep else None)
    for value in args.linux_namespace_path or []:
        name, sep, path = value.partition(":")
        if not sep or not path:
            raise _bad("--linux-namespace-path", value, "expected NS:PATH")
        _apply("--linux-namespace-path", value, b.join_namespace, name, path)
    for value in args.linux_namespace_remove or []:
        _apply("--linux-namespace-remove", value, b.remove_namespace, value)
    for value in args.uidmappings or []:
        host, cont, size = _split_mapping("--uidmappings", value)
        b.uid_mapping(container_id=cont, host_id=host, size=size)
    for value in args.gidmappings or []:
        host, cont, size = _split_mapping("--gidmappings", value)
        b.gid_mapping(container_id=cont, host_id=host, size=size)

    if args.linux_mem_limit is not None:
        limit = _bytes("--linux-mem-limit", args.linux_mem_limit)
        _apply("--linux-mem-limit", args.linux_mem_limit, b.memory_limit, limit)
    if args.linux_cpu_shares is not None:
        shares = _int("--linux-cpu-shares", args.linux_cpu_shares)
        b.cpu_shares(shares)
    if args.linux_cpu_quota is not None:
        quota = _int("--linux-cpu-quota", args.linux_cpu_quota, minimum=-1)
        b.cpu_quota(quota)
    if args.linux_cpu_period is not None:
        period = _int("--linux-cpu-period", args.linux_cpu_period)
        b.cpu_period(period)
    if args.linux_pids_limit is not None:
        pids = _int("--linux-pids-limit", args.linux_pids_limit, minimum=-1)
        b.pids_limit(pids)
    if args.cgroups_path is not None:
        b.cgroups_path(args.cgroups_path)

    if args.seccomp_default_profile:
        b.with_default_seccomp()
    if args.seccomp_default is not None:
        _apply("--seccomp-default", args.seccomp_default, b.seccomp_default, args.seccomp_default)
    for flag, method in (
        ("--seccomp-allow", b.seccomp_allow),
        ("--seccomp-errno", b.seccomp_errno),
        ("--seccomp-kill", b.seccomp_kill),
    ):
        values = getattr(args, flag[2:].replace("-", "_"))
        for value in values or []:
            names = _names([value])
            if not names:
                raise _bad(flag, value, "expected comma-separated syscall names")
            _apply(flag, value, method, *names)

    if args.network:
        bridge, _, subnet = args.network.partition(":")
        from libcontainer_py.errors import LibcontainerError

        try:
            b.with_network(
                bridge or "pyrunc0",
                subnet or "10.88.0.0/16",
                host_netns=args.network_host_netns,
                state_root=args.network_state_root,
                kind=args.network_hook_kind,
            )
        except LibcontainerError as exc:
            raise _bad("--network", args.network, str(exc)) from None
    elif args.network_host_netns or args.network_state_root:
        flag = "--network-host-netns" if args.network_host_netns else "--network-state-root"
        raise _bad(flag, args.network_host_netns or args.network_state_root, "needs --network BRIDGE:SUBNET")

    for flag, kind in _HOOK_FLAGS:
        for value in getattr(args, f"hooks_{flag}") or []:
            path, *hook_args = value.split(":")
            _apply(f"--hooks-{flag}", value, b.hook, kind, path, [path, *hook_args] if hook_args else None)

    from libcontainer_py.errors import ConfigError

    try:
        return b.build(), b.warnings
    except ConfigError as exc:
        # A problem only the whole document shows (e.g. a uid mapping needed but missing).
        message = str(exc).removeprefix(f"{exc.source}: ") if exc.source else str(exc)
        raise UsageError(f"the generated configuration is invalid: {message}") from None


def run(args: Namespace, ctx: Context) -> int:
    from libcontainer_py.spec.defaults import dumps_config

    if args.output and args.bundle:
        raise UsageError("--output and --bundle cannot be combined: choose where config.json goes")
    target: str | None = args.output
    if args.bundle:
        if not os.path.isdir(args.bundle):
            raise UsageError(f"--bundle {args.bundle}: no such directory")
        target = os.path.join(args.bundle, "config.json")
    spec, warnings = _build(args)
    for warning in warnings:
        ctx.warn(warning)
    # runc's layout (tabs), plus a final newline since the output may go to a terminal.
    text = dumps_config(spec.to_dict()) + "\n"
    if target is None:
        sys.stdout.write(text)
        return 0
    # Write to a temporary name and rename, so a failure never leaves half a config.json.
    tmp = f"{target}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, target)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return 0
