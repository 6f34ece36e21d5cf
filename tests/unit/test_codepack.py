"""The CLI's code pack (libcontainer_py/_codepack.py): one file of compiled modules, served by a meta
path finder only while each module's source is unchanged. A small package of its own, written
here, so that editing sources is safe; imported in this process and unloaded afterwards."""

from __future__ import annotations

import itertools
import marshal
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from libcontainer_py import _codepack

_names = itertools.count()


@pytest.fixture
def pkg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """A package `lcpy_pack_N` (with a subpackage) under tmp_path, importable the usual way too;
    its modules and any finder a test adds are removed afterwards."""
    name = f"lcpy_pack_{os.getpid()}_{next(_names)}"
    root = tmp_path / name
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("TOP = 'top'\n")
    (root / "mod.py").write_text("def f():\n    return 'packed'\n")
    (root / "sub" / "__init__.py").write_text("")
    (root / "sub" / "deep.py").write_text("from .. import mod\n\nY = mod.f()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    finders = list(sys.meta_path)
    try:
        yield name, root
    finally:
        sys.meta_path[:] = finders
        for m in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[m]


@pytest.fixture
def pack(pkg: tuple[str, Path], tmp_path: Path) -> Path:
    """The pack of `pkg`, as it is when the test starts."""
    name, root = pkg
    path = tmp_path / "pack.bin"
    _codepack.build(str(path), str(root), name)
    return path


def installed(pack: Path, root: Path, name: str) -> _codepack.PackFinder:
    finder = _codepack.load(str(pack), str(root), name)
    assert finder is not None
    sys.meta_path.insert(0, finder)
    return finder


def test_modules_come_from_the_pack(pkg: tuple[str, Path], pack: Path) -> None:
    name, root = pkg
    finder = installed(pack, root, name)
    deep = __import__(f"{name}.sub.deep", fromlist=["Y"])
    assert deep.Y == "packed"
    for mod, source in ((name, "__init__.py"), (f"{name}.mod", "mod.py"), (f"{name}.sub.deep", "sub/deep.py")):
        module = sys.modules[mod]
        assert module.__spec__ is not None and module.__spec__.loader is finder, mod
        assert module.__file__ == str(root / source)  # tracebacks and inspect read the source
    assert sys.modules[f"{name}.sub"].__path__ == [str(root / "sub")]
    assert not finder.stale


def test_a_changed_module_is_imported_from_its_source(pkg: tuple[str, Path], pack: Path) -> None:
    name, root = pkg
    (root / "mod.py").write_text("def f():\n    return 'edited'\n")
    finder = installed(pack, root, name)
    deep = __import__(f"{name}.sub.deep", fromlist=["Y"])
    assert deep.Y == "edited"
    assert sys.modules[f"{name}.mod"].__spec__.loader is not finder
    assert sys.modules[f"{name}.sub.deep"].__spec__.loader is finder  # the others still are
    assert finder.stale


def test_the_same_size_and_a_new_mtime_is_a_change(pkg: tuple[str, Path], pack: Path) -> None:
    name, root = pkg
    source = root / "mod.py"
    source.write_text("def f():\n    return 'PACKED'\n")  # as many bytes
    st = os.stat(source)
    os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    finder = installed(pack, root, name)
    assert __import__(f"{name}.mod", fromlist=["f"]).f() == "PACKED"
    assert finder.stale


def test_a_new_module_marks_the_pack_stale(pkg: tuple[str, Path], pack: Path) -> None:
    name, root = pkg
    (root / "new.py").write_text("Z = 3\n")
    finder = installed(pack, root, name)
    assert __import__(f"{name}.new", fromlist=["Z"]).Z == 3
    assert finder.stale
    _codepack.build(str(pack), str(root), name)  # what refresh_if_stale does
    assert f"{name}.new" in (_codepack.load(str(pack), str(root), name) or pytest.fail("no pack")).entries


def test_packs_that_do_not_fit_are_refused(pkg: tuple[str, Path], pack: Path) -> None:
    name, root = pkg
    assert _codepack.load(str(pack), str(root), name) is not None
    assert _codepack.load(str(pack), str(root.parent), name) is None  # the package moved
    assert _codepack.load(str(pack), str(root), "other") is None
    assert _codepack.load(str(pack.with_name("missing.bin")), str(root), name) is None
    data = pack.read_bytes()
    for broken in (b"", data[:3], data[:40], b"\xff\xff\x00\x00" + data[4:], b"\x05\x00\x00\x00junk"):
        pack.write_bytes(broken)
        assert _codepack.load(str(pack), str(root), name) is None, broken[:8]
    # another interpreter's bytecode
    size = int.from_bytes(data[:4], "little")
    fmt, _magic, where, pname, entries, compiled = marshal.loads(data[4 : 4 + size])
    header = marshal.dumps((fmt, b"\x00\x00\r\n", where, pname, entries, compiled))
    pack.write_bytes(len(header).to_bytes(4, "little") + header + data[4 + size :])
    assert _codepack.load(str(pack), str(root), name) is None


def test_a_truncated_pack_leaves_the_import_to_the_usual_finders(pkg: tuple[str, Path], pack: Path) -> None:
    name, root = pkg
    finder = installed(pack, root, name)
    os.truncate(pack, os.path.getsize(pack) - 10)  # the last module's code is cut short
    last = max(finder.entries, key=lambda m: finder.entries[m][0])
    module = __import__(last, fromlist=["_"])
    assert module.__spec__.loader is not finder


def test_the_real_package_packs_the_code_its_sources_compile_to(tmp_path: Path) -> None:
    pack = tmp_path / "pack.bin"
    _codepack.build(str(pack))
    finder = _codepack.load(str(pack))
    assert finder is not None
    root = Path(_codepack.__file__).parent
    sources = sorted(root.rglob("*.py"))
    assert len(finder.entries) == len(sources)
    for name in ("libcontainer_py.container", "libcontainer_py.cli", "libcontainer_py.spec.fast"):
        spec = finder.find_spec(name)
        assert spec is not None and spec.origin is not None
        expected = compile(Path(spec.origin).read_bytes(), spec.origin, "exec", dont_inherit=True)
        assert spec.loader_state == expected
    assert "libcontainer_py._sys._shim" not in finder.entries  # the compiled shim is imported as usual
    assert finder.compiled == {"libcontainer_py._sys._shim"}  # and its import is no sign of a stale pack
    assert finder.find_spec("libcontainer_py._sys._shim") is None and not finder.stale
