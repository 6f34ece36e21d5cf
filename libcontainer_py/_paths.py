"""The few functions of `os` and `os.path` that pyrunc's verbs use, over `posix` alone.

Why: `pyrunc state` and `pyrunc events --stats` are what podman, conmon and containerd's shims
poll, and importing `os` cost each call ~2 ms here (os builds the ABCs of _collections_abc and
imports posixpath, stat and genericpath), a tenth of a call that runc answers in ~10 ms
(docs/performance.md, "The read-only verbs without os"). So those verbs' modules (cli/__init__.py,
cli/_context.py, _status.py, cgroups/_read.py) use `posix` and these; and since stop 22 so do
the modules of `pyrunc exec`'s path (state.py, container.py, _exec.py, init/vspawn.py and what
they import: "exec without os" there), where the same ~2 ms was a tenth of the gap to runc.

For str paths each gives what posixpath's function of the same name gives (tests/unit/
test_paths.py holds them to it). abspath does the common case itself (a path already absolute
and normal, such as `--root /run/pyrunc`) and hands the rest to os.path. fsencode and getenv give
what os's give.
"""

import posix
import sys

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    import os

_S_IFMT = 0o170000
_S_IFDIR = 0o040000
_S_IFREG = 0o100000


def join(a: str, *parts: str) -> str:
    """posixpath.join: an absolute part starts the path again."""
    path = a
    for b in parts:
        if b.startswith("/"):
            path = b
        elif not path or path.endswith("/"):
            path += b
        else:
            path += "/" + b
    return path


def dirname(p: str) -> str:
    """posixpath.dirname: everything before the last slash, trailing slashes dropped unless the
    result is all slashes."""
    head = p[: p.rfind("/") + 1]
    if head and head != "/" * len(head):
        head = head.rstrip("/")
    return head


def exists(p: str) -> bool:
    try:
        posix.stat(p)
    except (OSError, ValueError):
        return False
    return True


def isdir(p: str) -> bool:
    return _is(p, _S_IFDIR)


def isfile(p: str) -> bool:
    return _is(p, _S_IFREG)


def _is(p: str, kind: int) -> bool:
    """The file at p (symlinks followed) is of this kind; False for none, or a NUL in p."""
    try:
        mode = posix.stat(p).st_mode
    except (OSError, ValueError):
        return False
    return mode & _S_IFMT == kind


def isabs(p: str) -> bool:
    return p.startswith("/")


def basename(p: str) -> str:
    return p[p.rfind("/") + 1 :]


# The file system's encoding is fixed at the interpreter's start (os reads it once too).
_FS_ENCODING = sys.getfilesystemencoding()
_FS_ERRORS = sys.getfilesystemencodeerrors()


def fsencode(p: "str | bytes | os.PathLike[str] | os.PathLike[bytes]") -> bytes:
    """os.fsencode: a str in the file system's encoding (surrogates escaped back to their bytes),
    bytes as they are, a path-like object through its __fspath__."""
    if type(p) is str:  # (every path of the shim's wrappers: first, and without a call)
        return p.encode(_FS_ENCODING, _FS_ERRORS)
    p = posix.fspath(p)
    if isinstance(p, bytes):
        return p
    return p.encode(_FS_ENCODING, _FS_ERRORS)


def getenv(name: str) -> "str | None":
    """os.environ.get(name). Once something imported os, os.environ is what the process's code
    changes (os.environ[...] = ..., a test's monkeypatch.setenv), so it answers; before that
    nobody could have, and posix.environ, the environment the process started with, does."""
    os_module = sys.modules.get("os")
    if os_module is not None:
        return os_module.environ.get(name)  # type: ignore[no-any-return]
    value = posix.environ.get(name.encode(_FS_ENCODING, _FS_ERRORS))
    if value is None:
        return None
    return value.decode(_FS_ENCODING, _FS_ERRORS)


def abspath(p: str) -> str:
    """posixpath.abspath. An absolute path with no empty, "." or ".." component (no "//", no
    trailing slash) is already what it would return; anything else goes to os.path."""
    if p == "/" or (p.startswith("/") and not {"", ".", ".."} & set(p[1:].split("/"))):
        return p
    import os.path

    return os.path.abspath(p)
