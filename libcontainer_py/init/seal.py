"""No import once the container's root is ours.

Until execve, the init and exec's process are the runtime's Python interpreter. After pivot_root
(or chroot, with --no-pivot), or the setns of the container's mount namespace, every path the
import system would search (the package's directory, sys.path, the code pack) names a file of
the container's, which a process in it, or its image, can write. Importing a module there would
run the container's code in the runtime's process, before the capabilities are dropped and the
filter loaded: the CVE-2019-5736 class. The runtime imports all it needs before (child.preload;
exec's parent), and seal() makes sure of the rest: a finder first on sys.meta_path that refuses
every module not imported yet, at once, without looking at a file. A module imported already
comes from sys.modules, which no finder is asked about. tests/integration/test_escape_imports.py
checks that no container path tries one.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from typing import Any


class _Sealed:
    """A meta path finder that finds nothing, and says why."""

    @staticmethod
    def find_spec(name: str, path: Any = None, target: Any = None) -> None:
        raise ImportError(
            f"{name} was not imported before the runtime entered the container, and is not imported"
            " from inside it (its files are the container's)",
            name=name,
        )


_SEALED = _Sealed()


def seal() -> None:
    """From now on, nothing more is imported in this process (a child of the runtime's, about to
    become the container's program)."""
    if not sys.meta_path or sys.meta_path[0] is not _SEALED:
        sys.meta_path.insert(0, _SEALED)
