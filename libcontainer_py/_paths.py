"""The few functions of `os.path` that pyrunc's read-only verbs use, over `posix` alone.

Why: `pyrunc state` and `pyrunc events --stats` are what podman, conmon and containerd's shims
poll, and importing `os` cost each call ~2 ms here (os builds the ABCs of _collections_abc and
imports posixpath, stat and genericpath), a tenth of a call that runc answers in ~10 ms
(docs/performance.md, "The read-only verbs without os"). So those verbs' modules (cli/__init__.py,
cli/_context.py, _status.py, cgroups/_read.py) use `posix` and these.

For str paths each gives what posixpath's function of the same name gives (tests/unit/
test_paths.py holds them to it). abspath does the common case itself (a path already absolute
and normal, such as `--root /run/pyrunc`) and hands the rest to os.path.
"""

import posix

_S_IFMT = 0o170000
_S_IFDIR = 0o040000


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
    try:
        mode = posix.stat(p).st_mode
    except (OSError, ValueError):
        return False
    return mode & _S_IFMT == _S_IFDIR


def abspath(p: str) -> str:
    """posixpath.abspath. An absolute path with no empty, "." or ".." component (no "//", no
    trailing slash) is already what it would return; anything else goes to os.path."""
    if p == "/" or (p.startswith("/") and not {"", ".", ".."} & set(p[1:].split("/"))):
        return p
    import os.path

    return os.path.abspath(p)
