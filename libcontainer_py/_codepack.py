"""The CLI's code pack: every module of the package compiled into one file, served to pyrunc's
imports by a meta path finder.

Why: a pyrunc call imports 10-45 of our modules, and the interpreter's import system spends
Python-level work on each before its code runs (a path search over the package's directories, the
stat calls for each candidate suffix, open/read/close of the .pyc, the check of its header). Here
one stat of the source (the same freshness check the .pyc gets: mtime and size) and one pread of
the pack stand in for all of it. Measured on 2026-12-01 (docs/performance.md "The code pack"):
importing `pyrunc exec`'s modules in a fresh process, 11.4-12.4 -> 8.7-9.4 ms median (~50-90 us
a module); `pyrunc exec` of `true` end to end, 34.7 -> 32.6 ms (the tree before the pack).

The pack lives beside the .pyc files (`libcontainer_py/__pycache__/_codepack.<cache tag>.bin`)
and is their cousin: written from them (or from the sources), refreshed by pyrunc itself when a
module it served was stale (unless bytecode writing is off: PYTHONDONTWRITEBYTECODE, -B), or by
`python -m libcontainer_py._codepack` (scripts/setup.sh does). A module whose source changed since
the pack was written is never served from it: it is imported the usual way.

Format: 4 bytes (little-endian length of the header), the header (marshal: format, the
interpreter's bytecode magic, the package's directory and name, {module: (offset from the end
of the header, length, source mtime_ns, source size, is package, source path)}, and the names of
the package's compiled modules, which are imported as usual), then each module's marshalled code
object. Like a timestamp .pyc, a source replaced by one of the same size
with its old mtime kept (a copy that preserves times) is not noticed.

Only the CLI installs the finder (cli/__init__.py): a library caller's imports are left alone.
No file descriptor stays open between imports: the init, a fork of pyrunc, closes every fd it
inherited, and after pivot_root (or the join of a container's mount namespace) nothing is
imported at all: init/seal.py refuses every import before any finder, this one included, could
look at a path, which would then be the container's.
"""

import marshal
import posix
import sys

from libcontainer_py._paths import abspath, dirname, getenv, join

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

FORMAT = 2
PACKAGE = "libcontainer_py"
_ROOT = dirname(abspath(__file__))
# LIBCONTAINER_PY_CODEPACK=FILE puts the pack elsewhere (the tests do); =off does without it.
ENV = "LIBCONTAINER_PY_CODEPACK"
PATH = getenv(ENV) or join(_ROOT, "__pycache__", f"_codepack.{sys.implementation.cache_tag}.bin")
_MAGIC = sys.modules["_frozen_importlib_external"].MAGIC_NUMBER
_ModuleSpec = sys.modules["_frozen_importlib"].ModuleSpec
# Not `types` (one more import), nor type(compile(...)): the first compile() of a process costs
# ~1.5-1.9 ms here (the compiler's set-up).
_CodeType = type((lambda: None).__code__)


class PackFinder:
    """A meta path finder and loader for the modules of one pack file."""

    def __init__(
        self,
        path: str,
        base: int,
        package: str,
        entries: "dict[str, tuple[int, int, int, int, bool, str]]",
        compiled: "frozenset[str]" = frozenset(),
    ) -> None:
        self.path = path
        self.base = base  # where the code starts: the entries' offsets count from there
        self.prefix = package + "."
        self.entries = entries
        self.compiled = compiled  # the package's extension modules (the cffi shim): never packed
        self.stale = False  # a module of ours was not served (changed, or not in the pack)

    def find_spec(
        self, name: str, path: "Sequence[str] | None" = None, target: "ModuleType | None" = None
    ) -> "ModuleSpec | None":
        entry = self.entries.get(name)
        if entry is None:
            if name.startswith(self.prefix) and name not in self.compiled:
                self.stale = True  # a module added since the pack was written
            return None
        offset, length, mtime_ns, size, is_pkg, source = entry
        try:
            st = posix.stat(source)
        except OSError:
            return None  # (after pivot_root, say) the usual import decides, and fails the same
        if st.st_mtime_ns != mtime_ns or st.st_size != size:
            self.stale = True
            return None
        # Read here, not in exec_module: a pack that cannot be read leaves the import to the
        # usual finders instead of failing it.
        try:
            fd = posix.open(self.path, posix.O_RDONLY | posix.O_CLOEXEC)
            try:
                data = posix.pread(fd, length, self.base + offset)
            finally:
                posix.close(fd)
        except OSError:
            return None
        try:
            code = marshal.loads(data)
        except (EOFError, ValueError, TypeError):
            return None
        if type(code) is not _CodeType:
            return None
        spec: ModuleSpec = _ModuleSpec(name, self, origin=source, loader_state=code, is_package=is_pkg)
        if is_pkg:
            spec.submodule_search_locations = [dirname(source)]
        spec.has_location = True  # __file__ is the source, as for a module imported from disk
        return spec

    def create_module(self, spec: "ModuleSpec") -> None:
        return None  # the default module object

    def exec_module(self, module: "ModuleType") -> None:
        spec = module.__spec__
        assert spec is not None
        exec(spec.loader_state, module.__dict__)  # our own modules' code, as the .pyc would give it


def load(path: str = PATH, root: str = _ROOT, package: str = PACKAGE) -> "PackFinder | None":
    """The finder of the pack at ``path``, or None when there is none usable (missing, written by
    another interpreter or for a package elsewhere, unreadable)."""
    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError:
        return None
    try:
        head = posix.read(fd, 4)
        if len(head) != 4:
            return None
        size = int.from_bytes(head, "little")
        raw = posix.pread(fd, size, 4)
        end = posix.fstat(fd).st_size
    except OSError:
        return None
    finally:
        posix.close(fd)
    try:
        # loads, not load from a BytesIO: marshal.load reads a stream object by object through its
        # Python methods (~0.5 ms for this header, against ~0.04)
        fmt, magic, where, name, entries, compiled = marshal.loads(raw)
    except (EOFError, ValueError, TypeError):
        return None
    if (fmt, magic, where, name) != (FORMAT, _MAGIC, root, package) or not isinstance(entries, dict):
        return None
    base = 4 + size
    # The modules' code fills the rest of the file exactly: a wrong header size (or a file cut
    # short or grown) would put every offset elsewhere.
    try:
        if entries and base + max(e[0] + e[1] for e in entries.values()) != end:
            return None
    except (TypeError, IndexError):
        return None
    return PackFinder(path, base, package, entries, frozenset(compiled))


_installed: "PackFinder | None" = None
_tried = False  # install() was called (so a missing pack is worth writing)


def install() -> "PackFinder | None":
    """Put the pack's finder first on sys.meta_path (once). Not under -O (the pack holds the
    plain bytecode) nor when there is no usable pack: then nothing changes."""
    global _installed, _tried
    if _tried or sys.flags.optimize or PATH == "off":
        return _installed
    _tried = True
    finder = load()
    if finder is not None:
        sys.meta_path.insert(0, finder)
        _installed = finder
    return finder


def refresh_if_stale() -> None:
    """After install(): rewrite the pack when there was none usable or its finder met a changed
    or new module, unless bytecode writing is off. Never raises: a pack is only a speed-up."""
    if not _tried or sys.dont_write_bytecode or sys.flags.optimize or PATH == "off":
        return
    if _installed is not None and not _installed.stale:
        return
    try:  # noqa: SIM105  (not contextlib: its import costs ~3 ms of every pyrunc call)
        build()
    except (OSError, SyntaxError, ValueError):
        pass


def _modules(root: str, package: str) -> "tuple[list[tuple[str, str, bool]], list[str]]":
    """(module name, source path, is package) for every .py module of the package at ``root``, and
    the names of its compiled modules (files with an extension-module suffix)."""
    import os
    from importlib.machinery import EXTENSION_SUFFIXES

    out = []
    compiled = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if os.path.isfile(os.path.join(dirpath, d, "__init__.py")))
        rel = os.path.relpath(dirpath, root)
        parts = [package] + ([] if rel == "." else rel.split(os.sep))
        for fn in sorted(filenames):
            suffix = next((x for x in EXTENSION_SUFFIXES if fn.endswith(x)), None)
            if suffix is not None:
                compiled.append(".".join([*parts, fn[: -len(suffix)]]))
            if not fn.endswith(".py"):
                continue
            is_pkg = fn == "__init__.py"
            name = ".".join(parts if is_pkg else [*parts, fn[:-3]])
            out.append((name, os.path.join(dirpath, fn), is_pkg))
    return out, compiled


def _code_bytes(source: str, st: posix.stat_result) -> bytes:
    """The marshalled code of ``source``: from its .pyc when that is fresh (the timestamp kind,
    for this source's mtime and size), else compiled here."""
    from importlib.util import cache_from_source

    try:
        with open(cache_from_source(source), "rb") as f:
            pyc = f.read()
    except OSError:
        pyc = b""
    if (
        len(pyc) > 16
        and pyc[:4] == _MAGIC
        and int.from_bytes(pyc[4:8], "little") == 0  # flags: not a hash-based pyc
        and int.from_bytes(pyc[8:12], "little") == int(st.st_mtime) & 0xFFFFFFFF
        and int.from_bytes(pyc[12:16], "little") == st.st_size & 0xFFFFFFFF
    ):
        return pyc[16:]
    with open(source, "rb") as f:
        code = compile(f.read(), source, "exec", dont_inherit=True)
    return marshal.dumps(code)


def build(path: str = PATH, root: str = _ROOT, package: str = PACKAGE) -> str:
    """Write the pack of every module of ``package`` (its directory: ``root``) to ``path``,
    atomically; returns the path."""
    entries: dict[str, tuple[int, int, int, int, bool, str]] = {}
    blobs: list[bytes] = []
    offset = 0
    modules, compiled = _modules(root, package)
    for name, source, is_pkg in modules:
        st = posix.stat(source)
        blob = _code_bytes(source, st)
        entries[name] = (offset, len(blob), st.st_mtime_ns, st.st_size, is_pkg, source)
        blobs.append(blob)
        offset += len(blob)
    header = marshal.dumps((FORMAT, _MAGIC, root, package, entries, tuple(compiled)))
    import os  # (here: the finder, which every pyrunc call imports, does without it)

    os.makedirs(dirname(path), exist_ok=True)
    tmp = f"{path}.{posix.getpid()}.tmp"  # another pyrunc may be writing the pack at the same time
    try:
        with open(tmp, "wb") as f:
            f.write(len(header).to_bytes(4, "little"))
            f.write(header)
            for blob in blobs:
                f.write(blob)
        posix.replace(tmp, path)
    except BaseException:
        try:  # noqa: SIM105  (not contextlib: its import costs ~3 ms of every pyrunc call)
            posix.unlink(tmp)
        except OSError:
            pass
        raise
    return path


if __name__ == "__main__":
    if PATH == "off":
        sys.exit(f"{ENV}=off: no code pack to write")
    print(build())
