"""libcontainer_py: an OCI container runtime for Linux, a Python port of runc's libcontainer.

Importing the package is cheap: the public names are loaded on first use (PEP 562), so that
`pyrunc --version` or a script that only needs the bundle helper does not pay for pydantic.
"""

# No `from __future__ import annotations`: `pyrunc state` and `events --stats` import this module,
# and the __future__ module costs them ~0.15 ms (tests/integration/test_cli_imports.py); annotations
# that name TYPE_CHECKING imports are strings.
import sys

# `typing` is not imported at run time: it costs milliseconds that `pyrunc --version` does not have.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from libcontainer_py._run import CompletedContainer, ContainerFailed, run
    from libcontainer_py._version import SPEC_VERSION, __version__
    from libcontainer_py.bundle import make_busybox_bundle
    from libcontainer_py.container import Container
    from libcontainer_py.errors import BundleError, ConfigError, LibcontainerError, SyscallError
    from libcontainer_py.spec import Spec
    from libcontainer_py.state import Status

# Even the version: every pyrunc call imports this package, few need it (each module ~0.15 ms).
_LAZY = {
    "__version__": "libcontainer_py._version",
    "SPEC_VERSION": "libcontainer_py._version",
    "run": "libcontainer_py._run",
    "CompletedContainer": "libcontainer_py._run",
    "ContainerFailed": "libcontainer_py._run",
    "Container": "libcontainer_py.container",
    "Status": "libcontainer_py.state",
    "Spec": "libcontainer_py.spec",
    "make_busybox_bundle": "libcontainer_py.bundle",
    "LibcontainerError": "libcontainer_py.errors",
    "ConfigError": "libcontainer_py.errors",
    "BundleError": "libcontainer_py.errors",
    "SyscallError": "libcontainer_py.errors",
}


def __getattr__(name: str) -> "Any":
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'libcontainer_py' has no attribute {name!r}")
    __import__(module)  # not importlib.import_module: importing importlib is one more module
    value = getattr(sys.modules[module], name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "SPEC_VERSION",
    "BundleError",
    "CompletedContainer",
    "ConfigError",
    "Container",
    "ContainerFailed",
    "LibcontainerError",
    "Spec",
    "Status",
    "SyscallError",
    "__version__",
    "make_busybox_bundle",
    "run",
]
