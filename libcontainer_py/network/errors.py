"""The network package's one error type. Kept apart from the modules that use pyroute2 so that the
hook's argument parsing and the address manager can raise it without importing pyroute2."""

from __future__ import annotations

from libcontainer_py.errors import LibcontainerError


class NetworkError(LibcontainerError):
    """A network set-up or tear-down step failed, or an argument to one is invalid.

    ``argument`` names what to fix, spelled as the Python keyword (``subnet``, ``bridge``, ``pid``,
    ``host_netns``, ``state_root``, ``mtu``, ``ifname``, ``container_id``, ``linux.netDevices.X``...);
    the hook maps it to its command-line flag. ``str()`` is one line: "argument: what is wrong"."""

    def __init__(self, argument: str, message: str) -> None:
        self.argument = argument
        self.reason = message
        super().__init__(f"{argument}: {message}")
