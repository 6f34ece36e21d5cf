"""One small exception tree. Every error a user can cause is a subclass of LibcontainerError whose
str() is one line that names what to fix (a config field, a path, a host limit)."""

from __future__ import annotations


class LibcontainerError(Exception):
    """Base of every error this library raises on purpose."""


class ConfigError(LibcontainerError):
    """config.json (or a Spec built in Python) is invalid. The message names the JSON path."""

    def __init__(self, message: str, *, path: str | None = None, source: str | None = None) -> None:
        self.path = path
        self.source = source
        prefix = f"{source}: " if source else ""
        where = f"{path}: " if path else ""
        super().__init__(f"{prefix}{where}{message}")


class BundleError(LibcontainerError):
    """The bundle directory or its config.json cannot be read."""


class SyscallError(LibcontainerError, OSError):
    """A system call failed. Carries errno like OSError, and says what was being done."""

    def __init__(self, errno_: int, what: str) -> None:
        import posix

        OSError.__init__(self, errno_, f"{what}: {posix.strerror(errno_)}")
        self.what = what

    def __str__(self) -> str:
        import posix

        return f"{self.what}: {posix.strerror(self.errno or 0)}"
