"""pyrunc imports our modules from the code pack (libcontainer_py/_codepack.py) when there is one,
writes it when there is none (unless bytecode writing is off), and runs the same containers either
way. Observed with PYTHONVERBOSE, through which the interpreter names each module's loader; the pack
is put in a temporary file (LIBCONTAINER_PY_CODEPACK) so the package's own is not touched."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

PACKED = "libcontainer_py._codepack.PackFinder"


def loaders(stderr: str) -> dict[str, str]:
    """module -> the loader PYTHONVERBOSE names for it ("import 'x' # <loader object at 0x..>")."""
    return dict(re.findall(r"^import '(libcontainer_py[\w.]*)' # <([\w.]+)", stderr, re.M))


@pytest.fixture
def pack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "codepack.bin"
    monkeypatch.setenv("LIBCONTAINER_PY_CODEPACK", str(path))
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    return path


def test_run_writes_the_pack_then_imports_from_it(rt: Any, pack: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = rt.bundle(["sh", "-c", "id -u; echo hello"])
    assert not pack.exists()
    assert rt.out(bundle) == "0\nhello\n"
    assert pack.exists(), "the first run writes the pack"

    monkeypatch.setenv("PYTHONVERBOSE", "1")
    r = rt.run(bundle)
    assert r.rc == 0 and r.out == "0\nhello\n", r
    seen = loaders(r.err)
    packed = {m for m, loader in seen.items() if loader == PACKED}
    # the container's code, from the pack; only what the CLI imports before it reads the pack is not
    assert {"libcontainer_py.container", "libcontainer_py._create", "libcontainer_py.init.child"} <= packed
    assert set(seen) - packed <= {"libcontainer_py", "libcontainer_py.cli", "libcontainer_py.cli._context",
                                  "libcontainer_py._paths", "libcontainer_py._codepack",
                                  "libcontainer_py._sys._shim"}  # fmt: skip


def test_state_and_events_stats_do_without_it(rt: Any, pack: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cid = rt.new_id()
    assert rt.pyrunc("run", "-d", "--bundle", str(rt.bundle(["sleep", "60"])), cid).rc == 0
    pack.unlink()  # (written by that run)
    monkeypatch.setenv("PYTHONVERBOSE", "1")
    for argv in (["state", cid], ["events", "--stats", cid]):
        r = rt.pyrunc(*argv)
        assert r.rc == 0, r
        assert "libcontainer_py._codepack" not in loaders(r.err), argv  # a handful of modules: no pack
    assert not pack.exists()
    assert rt.pyrunc("delete", "--force", cid).rc == 0


def test_no_pack_written_without_bytecode_writing(rt: Any, pack: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    assert rt.out(rt.bundle(["true"])) == ""
    assert not pack.exists()


def test_off_imports_as_usual(rt: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIBCONTAINER_PY_CODEPACK", "off")
    monkeypatch.setenv("PYTHONVERBOSE", "1")
    r = rt.run(rt.bundle(["echo", "plain"]))
    assert r.rc == 0 and r.out == "plain\n", r
    seen = loaders(r.err)
    assert "libcontainer_py.container" in seen and PACKED not in seen.values()


def test_an_edited_module_is_not_served_and_the_pack_is_rewritten(rt: Any, pack: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:  # fmt: skip
    """A module changed since the pack was written comes from its source, and pyrunc then rewrites
    the pack. Simulated with a pack whose record of one module's source size is off by one."""
    import marshal

    assert rt.out(rt.bundle(["true"])) == ""
    data = pack.read_bytes()
    size = int.from_bytes(data[:4], "little")
    fmt, magic, root, package, entries, compiled = marshal.loads(data[4 : 4 + size])
    name = "libcontainer_py.container"
    offset, length, mtime_ns, src_size, is_pkg, source = entries[name]
    entries[name] = (offset, length, mtime_ns, src_size + 1, is_pkg, source)
    header = marshal.dumps((fmt, magic, root, package, entries, compiled))
    assert len(header) == size
    pack.write_bytes(data[:4] + header + data[4 + size :])

    monkeypatch.setenv("PYTHONVERBOSE", "1")
    r = rt.run(rt.bundle(["echo", "edited"]))
    assert r.rc == 0 and r.out == "edited\n", r
    seen = loaders(r.err)
    assert seen[name] != PACKED and seen["libcontainer_py._create"] == PACKED
    rewritten = pack.read_bytes()
    new_size = int.from_bytes(rewritten[:4], "little")
    assert marshal.loads(rewritten[4 : 4 + new_size])[4][name][3] == src_size
