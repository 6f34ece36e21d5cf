"""Which step a child of the runtime is at, and the text its failure is reported with: shared by
the children that report over the sync socket (sync.py) and by exec's child that runs no Python
(vspawn.py), whose parent reports for it. Apart from sync.py so that the latter's parent need not
import the socket protocol (`_socket` and sync.py: ~0.5 ms of every `pyrunc exec`)."""

from __future__ import annotations

from libcontainer_py.errors import LibcontainerError


class Stage:
    """Which step a child is at, for the error it reports (a mutable cell shared with the caller)."""

    def __init__(self, name: str) -> None:
        self.name = name


def failure_message(exc: BaseException) -> str:
    """The text a child's failure is reported with (the type named unless it is one of ours or an
    OSError, whose text says enough)."""
    message = str(exc) or type(exc).__name__
    if not isinstance(exc, LibcontainerError | OSError):
        message = f"{type(exc).__name__}: {message}"
    return message
