"""`pyrunc spec [--bundle DIR] [--rootless]`: write a default config.json, as `runc spec` does.

Same content as runc 1.1.5's (except `ociVersion`), same layout (tab-indented, no final newline),
same refusal to overwrite an existing config.json. This path deliberately imports only
`libcontainer_py.spec.defaults` (plain dicts + json), never pydantic: it is pure data, and the
start-up time of the runtime matters to its callers.
"""

from __future__ import annotations

import errno
import os

from libcontainer_py.cli._context import Context, UsageError

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from libcontainer_py.cli._parser import Namespace, VerbParser

HELP = "create a new specification file (config.json)"

CONFIG_NAME = "config.json"


def configure(parser: VerbParser) -> None:
    parser.add_argument(
        "--bundle",
        "-b",
        metavar="DIR",
        default="",
        help="path to the root of the bundle directory (default: the current directory)",
    )
    parser.add_argument(
        "--rootless",
        action="store_true",
        help="generate a configuration for a rootless container (user namespace mapping your "
        "euid/egid to root, no network namespace, /sys bind-mounted)",
    )


def run(args: Namespace, ctx: Context) -> int:
    # Imported here so that `pyrunc spec --help` does not pay for it. defaults.py needs only the
    # standard library, and libcontainer_py.spec loads its models lazily: no pydantic on this path
    # (test_spec_as_a_subprocess_without_pydantic keeps it that way).
    from libcontainer_py.spec.defaults import default_json

    bundle: str = args.bundle or "."
    if not os.path.isdir(bundle):
        reason = "not a directory" if os.path.exists(bundle) else "no such directory"
        raise UsageError(f"bundle {bundle}: {reason}")
    path = os.path.join(bundle, CONFIG_NAME)
    text = default_json(rootless=args.rootless)
    # O_EXCL makes the "never overwrite" check and the creation one step: runc stats then writes,
    # which races with a concurrent writer; the message is runc's, with the path when it is not
    # the current directory.
    shown = CONFIG_NAME if bundle == "." else path
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    except FileExistsError:
        raise UsageError(f"File {shown} exists. Remove it first") from None
    except OSError as exc:
        if exc.errno == errno.EACCES:
            raise UsageError(f"cannot create {shown}: permission denied") from None
        raise
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return 0
