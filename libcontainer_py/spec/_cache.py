"""An on-disk cache of the spec models' pydantic-core validators, so that a process that loads a
config.json does not spend ~35 ms before it can validate anything: ~15 ms in pydantic's
``GenerateSchema`` (pure Python) turning the model classes into a core schema, and ~20 ms in pydantic's
plugin loader (``importlib.metadata`` and an entry-point scan), which runs before any validator is made.

How it works: the first time a model class validates or serializes on its own (``Spec``, ``State``,
``Features``, or a part used alone: ``Process`` for exec, ``LinuxDeviceCgroup`` on the create path...),
pydantic builds it as usual and its core schema (a tree of dicts that refers to our model and enum
classes and validator functions by name) is pickled to a file. Later processes unpickle that schema and
hand it to ``SchemaValidator``/``SchemaSerializer`` (pydantic-core, Rust: ~1.5 ms for ``Spec``),
skipping both. The model classes stay the one definition of the spec; the file is only a memo of what
pydantic derived from them.

The class is then complete (``__pydantic_complete__``) with the cached validator and serializer, but its
``__pydantic_core_schema__`` is a lazy mock: whatever needs the schema itself (a JSON schema, another
model or TypeAdapter embedding it) makes pydantic build it the normal way, which also replaces the
cached validator and serializer with equivalent ones. The stored schema has no ``metadata`` (the
JSON-schema hooks, closures that cannot be pickled and that pydantic-core ignores).

A cache file is used only if everything it was built from is unchanged: its format, the Python
implementation and version, the pydantic and pydantic-core versions, this package's version and location,
the class, and the bytes of every module whose classes or functions the schema refers to and of every
``spec/*.py``. Anything else (a missing, truncated, foreign or unsafe file, an import or unpickling
error, a schema pydantic-core rejects) falls back silently to pydantic's own build, which then
rewrites the file. Pydantic plugins (``pydantic`` entry points) are not applied to a validator from
the cache.

Where: ``$LIBCONTAINER_PY_CACHE_DIR`` if set (``0``/``off``/empty: no cache), else the package's own
``spec/__pycache__`` (as for ``.pyc`` files, and as numba does) when it can be written, else
``$XDG_CACHE_HOME/libcontainer-py`` (default ``~/.cache/libcontainer-py``). A file is read only if it
is a regular file owned by the current user or root and not writable by group or others, because
unpickling runs code: the same trust as the ``.pyc`` files next to it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

#: Bump when the file layout or what is stored changes.
FORMAT = 1
ENV_DIR = "LIBCONTAINER_PY_CACHE_DIR"
_MAGIC = b"libcontainer-py schema cache\n"
_OFF = ("", "0", "off", "false", "no")
_SPEC_DIR = os.path.dirname(os.path.abspath(__file__))
_PKG_CACHE = os.path.join(_SPEC_DIR, "__pycache__")

#: Classes whose validator came from the cache in this process (for tests and the benchmark).
installed: set[type[Any]] = set()


def _root_id() -> tuple[int, int] | None:
    try:
        st = os.stat("/")
    except OSError:  # pragma: no cover
        return None
    return st.st_dev, st.st_ino


#: "/" when this module was imported. After a chroot or pivot_root (container init) the cache paths
#: would name files in the container's filesystem, which the container controls: never read or write
#: them there.
_ROOT = _root_id()


def _usable() -> bool:
    return _ROOT is not None and _root_id() == _ROOT


def cache_dirs() -> list[str]:
    """The directories to look in, in order (none when the cache is switched off)."""
    if not _usable():
        return []
    env = os.environ.get(ENV_DIR)
    if env is not None:
        return [] if env.strip().lower() in _OFF else [env]
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return [_PKG_CACHE, os.path.join(xdg, "libcontainer-py")]


_VERSIONS: tuple[str, ...] | None = None
_DIGESTS: dict[tuple[str, ...], str] = {}


def _versions() -> tuple[str, ...]:
    global _VERSIONS
    if _VERSIONS is None:
        _VERSIONS = _compute_versions()
    return _VERSIONS


def _compute_versions() -> tuple[str, ...]:
    import pydantic_core
    from pydantic.version import VERSION

    from libcontainer_py._version import __version__

    return (
        str(FORMAT),
        sys.implementation.cache_tag or sys.version,
        sys.version,
        VERSION,
        pydantic_core.__version__,
        __version__,
        _PKG_CACHE,
    )


def file_name(cls: type[Any]) -> str:
    """The cache file of ``cls``: named by the class and a digest of the versions, so that checkouts or
    environments sharing a cache directory do not overwrite each other's files."""
    digest = hashlib.sha256("\0".join((*_versions(), cls.__module__, cls.__qualname__)).encode()).hexdigest()
    return f"{cls.__module__}.{cls.__qualname__}.{digest[:20]}.schema"


def sources_digest(modules: tuple[str, ...]) -> str | None:
    """sha256 over the files of ``modules`` (which must be imported) and of every ``spec/*.py`` (so that
    a constant imported from a module without classes in the schema counts too); None if one of them
    cannot be read. Computed once per process for a given set of modules (the classes in memory do not
    change either)."""
    digest = _DIGESTS.get(modules)
    if digest is None:
        digest = _compute_digest(modules)
        if digest is not None:  # a module not imported yet may be later
            _DIGESTS[modules] = digest
    return digest


def _compute_digest(modules: tuple[str, ...]) -> str | None:
    paths = set()
    for module in modules:
        path = getattr(sys.modules.get(module), "__file__", None)
        if not path:
            return None
        paths.add(os.path.abspath(path))
    try:
        paths.update(os.path.join(_SPEC_DIR, n) for n in os.listdir(_SPEC_DIR) if n.endswith(".py"))
        h = hashlib.sha256()
        for path in sorted(paths):
            with open(path, "rb") as f:
                data = f.read()
            h.update(f"{path}\0{len(data)}\0".encode())
            h.update(data)
    except OSError:
        return None
    return h.hexdigest()


# --- reading ---------------------------------------------------------------------------------------


def _read_trusted(path: str) -> bytes | None:
    """The file's bytes if it is a regular file that only its owner (us or root) can write."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not _safe_stat(st):
            return None
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def _safe_stat(st: os.stat_result) -> bool:
    import stat

    return stat.S_ISREG(st.st_mode) and st.st_uid in (0, os.geteuid()) and not st.st_mode & 0o022


def load(cls: type[Any]) -> tuple[Any, Any] | None:
    """The cached (SchemaValidator, SchemaSerializer) of ``cls``, or None (no file, stale, unsafe...)."""
    try:
        dirs = cache_dirs()
        if not dirs:
            return None
        name = file_name(cls)
        for directory in dirs:
            data = _read_trusted(os.path.join(directory, name))
            if data is not None:
                built = _decode(cls, data)
                if built is not None:
                    return built
    except Exception:
        return None
    return None


def _header(cls: type[Any], modules: list[str], sources: str) -> bytes:
    header: dict[str, object] = {
        "versions": list(_versions()),
        "class": [cls.__module__, cls.__qualname__],
        "modules": modules,
        "sources": sources,
    }
    return json.dumps(header, sort_keys=True).encode() + b"\n"


def _decode(cls: type[Any], data: bytes) -> tuple[Any, Any] | None:
    """Check the file's JSON header line against what is loaded now; only then unpickle the schema."""
    if not data.startswith(_MAGIC):
        return None
    end = data.index(b"\n", len(_MAGIC)) + 1
    header = json.loads(data[len(_MAGIC) : end])
    modules = header.get("modules") if isinstance(header, dict) else None
    if not isinstance(modules, list) or not all(isinstance(m, str) for m in modules):
        return None
    digest = sources_digest(tuple(modules))
    if digest is None or data[:end] != _MAGIC + _header(cls, modules, digest):
        return None
    import pickle

    schema, config = pickle.loads(data[end:])
    from pydantic_core import SchemaSerializer, SchemaValidator

    return SchemaValidator(schema, config), SchemaSerializer(schema, config)


def install(cls: type[BaseModel]) -> bool:
    """Give ``cls`` its validator and serializer from the cache; False (and nothing changed) if there is
    no usable cache file."""
    built = load(cls)
    if built is None:
        return False
    from pydantic._internal._mock_val_ser import MockCoreSchema

    def full_build(*, parent_namespace_depth: int = 5) -> Any:
        # Whoever needs the core schema itself gets pydantic's own build (which also replaces the
        # validator and serializer with equivalent ones).
        cls.model_rebuild(force=True, raise_errors=False)
        schema = cls.__dict__.get("__pydantic_core_schema__")
        return None if isinstance(schema, MockCoreSchema) else schema

    cls.__pydantic_validator__, cls.__pydantic_serializer__ = built
    cls.__pydantic_core_schema__ = MockCoreSchema(
        f"`{cls.__name__}` could not be built; call `{cls.__name__}.model_rebuild(force=True)`.",
        code="class-not-fully-defined",
        attempt_rebuild=full_build,
    )
    cls.__pydantic_complete__ = True
    installed.add(cls)
    return True


# --- writing ---------------------------------------------------------------------------------------


def _strip(node: Any, modules: set[str]) -> Any:
    """A copy of a core schema without its ``metadata`` (JSON-schema hooks: closures that cannot be
    pickled, and that pydantic-core ignores), noting the modules of the classes and functions in it."""
    if isinstance(node, dict):
        return {k: _strip(v, modules) for k, v in node.items() if k != "metadata"}
    if isinstance(node, list):
        return [_strip(v, modules) for v in node]
    if isinstance(node, tuple):
        return tuple(_strip(v, modules) for v in node)
    if isinstance(node, str | int | float | bool | bytes) or node is None:
        return node
    owner = getattr(node, "__self__", None)  # a bound (class)method: its class's module
    module = getattr(owner if isinstance(owner, type) else node, "__module__", None)
    if isinstance(module, str):
        modules.add(module)
    if hasattr(node, "__func__"):
        modules.add(node.__func__.__module__)
    return node


def encode(cls: type[BaseModel]) -> bytes | None:
    """The cache file's bytes for a fully built ``cls``, or None if its schema cannot be cached."""
    schema = cls.__dict__.get("__pydantic_core_schema__")
    if not isinstance(schema, dict):
        return None
    found: set[str] = {cls.__module__}
    stripped = _strip(schema, found)
    modules = sorted(found)
    digest = sources_digest(tuple(modules))
    if digest is None:
        return None
    from pydantic._internal._config import ConfigWrapper

    # What pydantic passes to SchemaValidator/SchemaSerializer next to the schema (complete_model_class).
    config = ConfigWrapper(cls.model_config, check=False).core_config(title=cls.__name__)
    import pickle

    body = pickle.dumps((stripped, config), protocol=pickle.HIGHEST_PROTOCOL)
    # What will be read back must build: refuse to write a file that would only ever fall back.
    from pydantic_core import SchemaSerializer, SchemaValidator

    schema2, config2 = pickle.loads(body)
    SchemaValidator(schema2, config2)
    SchemaSerializer(schema2, config2)
    return _MAGIC + _header(cls, modules, digest) + body


def store(cls: type[BaseModel]) -> str | None:
    """Write the cache file of a fully built ``cls`` to the first directory that takes it; returns its
    path, or None. Never raises."""
    try:
        data = encode(cls)
        if data is None:
            return None
        name = file_name(cls)
        for directory in cache_dirs():
            path = os.path.join(directory, name)
            if _write_atomic(directory, path, data):
                return path
    except Exception:
        return None
    return None


def _write_atomic(directory: str, path: str, data: bytes) -> bool:
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            os.write(fd, data)
            os.fchmod(fd, 0o644)  # whatever the umask: readable by all, writable by us only
        finally:
            os.close(fd)
        os.replace(tmp, path)
        return True
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return False


# --- hooking into pydantic's lazy build ---------------------------------------------------------


def attach(cls: type[BaseModel]) -> None:
    """Make the first use of a deferred ``cls``'s validator or serializer try the cache before pydantic's
    build, and write the cache after a build. Does nothing if ``cls`` is already built, or if this
    pydantic does not have the lazy mocks this relies on."""
    if cls.__pydantic_complete__ or not cache_dirs():
        return
    if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:  # not importable by name
        return
    try:
        from pydantic._internal._mock_val_ser import MockValSer
    except ImportError:  # pragma: no cover - a pydantic without it: its own lazy build only
        return
    if not isinstance(cls.__dict__.get("__pydantic_validator__"), MockValSer):
        return

    def attempt(attr: str) -> Any:
        def handler(*, parent_namespace_depth: int = 5) -> Any:
            if install(cls):
                return getattr(cls, attr)
            if cls.model_rebuild(raise_errors=False, _parent_namespace_depth=parent_namespace_depth) is False:
                return None
            store(cls)
            return getattr(cls, attr)

        return handler

    message = f"`{cls.__name__}` is not fully defined; call `{cls.__name__}.model_rebuild()`."
    cls.__pydantic_validator__ = MockValSer(  # type: ignore[assignment]
        message,
        code="class-not-fully-defined",
        val_or_ser="validator",
        attempt_rebuild=attempt("__pydantic_validator__"),
    )
    cls.__pydantic_serializer__ = MockValSer(  # type: ignore[assignment]
        message,
        code="class-not-fully-defined",
        val_or_ser="serializer",
        attempt_rebuild=attempt("__pydantic_serializer__"),
    )
