"""pyrunc run: create and start a container, wait for it in the foreground, then delete it.

The exit status is the container's (128+signal when killed). SIGINT, SIGTERM, SIGHUP, SIGQUIT,
SIGUSR1/2 and SIGWINCH are caught from the start and forwarded to the container's init once it
runs (cli/_signals.py): one that arrives during the create neither kills pyrunc half-way nor is
lost.
"""

from __future__ import annotations

import os

from libcontainer_py.cli._common import add_create_flags, create_container
from libcontainer_py.cli._context import Context
from libcontainer_py.cli._signals import Relay

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from libcontainer_py.cli._parser import Namespace, VerbParser

HELP = "create and run a container"

def configure(parser: VerbParser) -> None:
    parser.add_argument("--detach", "-d", action="store_true", help="detach from the container's process")
    parser.add_argument("--keep", action="store_true", help="do not delete the container after it exits")
    parser.add_argument(
        "--no-subreaper",
        action="store_true",
        help="accepted for runc compatibility; pyrunc is a subreaper only while the container's first child lives",
    )
    add_create_flags(parser)


def run(args: Namespace, ctx: Context) -> int:
    from libcontainer_py.container import Container

    relay = Relay()
    try:
        # Created and started in one step, as the library's run() (and crun's run): no exec fifo,
        # no `start` round trip; a failure there (a poststart hook included) leaves nothing behind.
        container = create_container(args, ctx, detach=args.detach, start=True)
        assert isinstance(container, Container)
        if args.detach:
            return 0  # (what arrived meanwhile is dropped, as runc's run --detach does)
        try:
            relay.target(container.pid)
            if container.console is not None:  # a terminal: relay it; the pty delivers ^C and resizes
                from libcontainer_py import tty

                try:
                    return tty.relay(container.console, container.pid)
                finally:
                    os.close(container.console)
            status = container.wait()
        finally:
            relay.target(None)  # reaped (or about to be deleted): its pid may become another's
            if not args.keep:
                container.delete(force=True)
        return status
    finally:
        relay.close()
