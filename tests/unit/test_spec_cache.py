"""The on-disk cache of the documents' validators (libcontainer_py/spec/_cache.py): a cached validator
behaves exactly like pydantic's own, and any doubt about a cache file means falling back silently."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from oci_schema import spec_dir

from libcontainer_py.spec import _cache
from libcontainer_py.spec._base import Document, Str, Uint32
from libcontainer_py.spec.config import Root
from libcontainer_py.spec.enums import NamespaceType

REPO = Path(__file__).resolve().parents[2]


class CacheDoc(Document):
    """A small document of its own, so that these tests do not depend on Spec's state in this process."""

    name: Str
    count: Uint32 | None = None
    kind: NamespaceType | None = None
    root: Root | None = None


GOOD: list[Any] = [
    {"name": "a"},
    {"count": 7, "name": "b", "extra": {"kept": [1, 2]}, "kind": "pid"},
    {"name": "c", "root": {"readonly": True, "path": "rootfs", "x-vendor": 1}, "count": None},
]
BAD: list[Any] = [
    {},
    {"name": 5},
    {"name": "a", "count": "5"},
    {"name": "a", "count": -1},
    {"name": "a", "count": 2**32},
    {"name": "a", "kind": "nope"},
    {"name": "a", "root": {"readonly": True}},
    {"name": "a", "root": {"path": "r", "readonly": 1}},
]


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(_cache.ENV_DIR, str(tmp_path))
    CacheDoc.model_rebuild()
    return tmp_path


def _dump(serializer: Any, obj: Any) -> str:
    return json.dumps(serializer.to_python(obj, mode="json", by_alias=True, exclude_unset=True))


def _errors(validator: Any, data: Any) -> list[Any]:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as info:
        validator.validate_python(data)
    return info.value.errors(include_url=False)


def test_cached_validator_and_serializer_match_pydantics(cache_dir: Path) -> None:
    data = _cache.encode(CacheDoc)
    assert data is not None
    built = _cache._decode(CacheDoc, data)
    assert built is not None
    validator, serializer = built
    ours, theirs = CacheDoc.__pydantic_validator__, CacheDoc.__pydantic_serializer__
    for good in GOOD:
        a, b = validator.validate_python(good), ours.validate_python(good)
        assert type(a) is CacheDoc and a == b
        assert a._key_order == tuple(good)  # the wrap validator ran
        assert _dump(serializer, a) == _dump(theirs, b) == json.dumps({k: v for k, v in good.items() if v is not None})
    for bad in BAD:
        assert _errors(validator, bad) == _errors(ours, bad)


def test_store_writes_a_private_file_atomically_and_load_reads_it(cache_dir: Path) -> None:
    path = _cache.store(CacheDoc)
    assert path is not None and Path(path).parent == cache_dir
    assert Path(path).name == _cache.file_name(CacheDoc)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert [p.name for p in cache_dir.iterdir()] == [Path(path).name]  # no temporary file left
    assert _cache.load(CacheDoc) is not None


def _tamper_header(data: bytes, key: str, value: Any) -> bytes:
    end = data.index(b"\n", len(_cache._MAGIC)) + 1
    header = json.loads(data[len(_cache._MAGIC) : end])
    header[key] = value
    return _cache._MAGIC + json.dumps(header).encode() + b"\n" + data[end:]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda d: b"", id="empty"),
        pytest.param(lambda d: d[: len(d) // 2], id="truncated"),
        pytest.param(lambda d: b"x" + d[1:], id="bad-magic"),
        pytest.param(lambda d: d[: len(_cache._MAGIC)] + b"not json\n" + d, id="bad-header"),
        pytest.param(lambda d: d[: d.index(b"\n", len(_cache._MAGIC)) + 1] + b"garbage", id="bad-pickle"),
        pytest.param(lambda d: _tamper_header(d, "versions", ["0"]), id="other-versions"),
        pytest.param(lambda d: _tamper_header(d, "class", ["x", "Y"]), id="other-class"),
        pytest.param(lambda d: _tamper_header(d, "sources", "0" * 64), id="other-sources"),
        pytest.param(lambda d: _tamper_header(d, "modules", ["no.such.module"]), id="unknown-module"),
        pytest.param(lambda d: _tamper_header(d, "modules", "x"), id="bad-modules"),
    ],
)
def test_a_stale_or_broken_file_is_ignored(cache_dir: Path, tamper: Any) -> None:
    path = _cache.store(CacheDoc)
    assert path is not None
    Path(path).write_bytes(tamper(Path(path).read_bytes()))
    assert _cache.load(CacheDoc) is None
    assert _cache.install(CacheDoc) is False


def test_a_source_change_invalidates(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _cache.store(CacheDoc) is not None
    monkeypatch.setattr(_cache, "sources_digest", lambda modules: "edited")
    assert _cache.load(CacheDoc) is None


def test_the_sources_cover_the_model_modules_and_the_spec_package(cache_dir: Path) -> None:
    path = _cache.store(CacheDoc)
    assert path is not None
    data = Path(path).read_bytes()
    header = json.loads(data[len(_cache._MAGIC) : data.index(b"\n", len(_cache._MAGIC))])
    enums_module = NamespaceType.__module__  # where the enum classes are defined (spec/_enums_core.py)
    assert set(header["modules"]) >= {__name__, "libcontainer_py.spec._base", enums_module}
    assert "libcontainer_py.spec.config" in header["modules"]  # Root


@pytest.mark.parametrize("how", ["group-writable", "world-writable", "other-owner", "symlink", "directory"])
def test_an_unsafe_file_is_not_unpickled(cache_dir: Path, how: str) -> None:
    path = Path(_cache.store(CacheDoc) or "")
    assert path.is_file()
    if how == "group-writable":
        path.chmod(0o664)
    elif how == "world-writable":
        path.chmod(0o646)
    elif how == "other-owner":
        if os.geteuid() != 0:
            pytest.skip("needs root to give the file away")
        os.chown(path, 12345, 12345)
    elif how == "symlink":
        real = path.with_name("real")
        path.rename(real)
        path.symlink_to(real)
    else:
        path.unlink()
        path.mkdir()
    assert _cache.load(CacheDoc) is None


@pytest.mark.parametrize("value", ["0", "off", ""])
def test_the_cache_can_be_switched_off(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(_cache.ENV_DIR, value)
    assert _cache.cache_dirs() == []
    assert _cache.load(CacheDoc) is None
    CacheDoc.model_rebuild()
    assert _cache.store(CacheDoc) is None


def test_default_places(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(_cache.ENV_DIR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    pkg = Path(_cache.__file__).parent / "__pycache__"
    assert _cache.cache_dirs() == [str(pkg), str(tmp_path / "libcontainer-py")]


def test_nothing_is_read_or_written_after_a_chroot(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _cache.store(CacheDoc) is not None
    monkeypatch.setattr(_cache, "_ROOT", (-1, -1))  # as if "/" had changed since import (pivot_root)
    assert _cache.cache_dirs() == []
    assert _cache.load(CacheDoc) is None
    assert _cache.store(CacheDoc) is None


def test_an_unwritable_directory_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv(_cache.ENV_DIR, str(blocker / "sub"))  # cannot be created: a file is in the way
    CacheDoc.model_rebuild()
    assert _cache.store(CacheDoc) is None


def test_local_classes_are_left_to_pydantic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(_cache.ENV_DIR, str(tmp_path))

    class Local(Document):
        a: Str

    from pydantic._internal._mock_val_ser import MockValSer

    validator = Local.__dict__["__pydantic_validator__"]
    assert isinstance(validator, MockValSer)  # pydantic's own lazy build, not the cache's
    assert validator._attempt_rebuild.__module__ != _cache.__name__
    assert Local.from_dict({"a": "x"}).a == "x"
    assert list(tmp_path.iterdir()) == []


# --- end to end, in fresh processes: Spec, State, Features and models used on their own ---------

SCRIPT = r"""
import json, sys
from pathlib import Path
from libcontainer_py.errors import ConfigError
from libcontainer_py.spec import Features, Spec, State
from libcontainer_py.spec._cache import installed

docs = {"config": Spec, "state": State, "features": Features}
inline = {
    "config": [
        {"ociVersion": "1.3.0", "process": {"cwd": "/", "user": {"uid": 0, "gid": 0}, "args": ["sh"]}, "x": 1},
        {"ociVersion": "1.3.0", "process": {"cwd": "/", "user": {"uid": "0"}}},
        {"ociVersion": "1.3.0", "linux": {"namespaces": [{"type": "pid"}, {"type": "bogus"}]}},
        {"ociVersion": "1.3.0", "linux": {"resources": {"memory": {"limit": 1.5}}}},
        {"hostname": "h"},
    ],
    "state": [{"ociVersion": "1", "id": "c", "status": "running", "pid": 1, "bundle": "/b"}, {"id": 1}],
    "features": [{"ociVersionMin": "1.0.0", "ociVersionMax": "1.3.0"}, {"ociVersionMin": 1}],
}

def attempt(cls, load):
    try:
        doc = load()
    except ConfigError as exc:
        return "error: " + str(exc)
    return doc.to_json()

out = []
for kind, cls in docs.items():
    for data in inline[kind]:
        out.append(attempt(cls, lambda: cls.from_dict(data, source="inline")))
    if len(sys.argv) > 1:
        for verdict in ("good", "bad"):
            for path in sorted((Path(sys.argv[1]) / "schema" / "test" / kind / verdict).glob("*.json")):
                out.append(path.name + " " + attempt(cls, lambda: cls.load(path)))
spec = Spec.from_dict({"ociVersion": "1.3.0", "linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW"}}})
spec.linux.seccomp = None
out.append(spec.to_json())
# Models used on their own (exec's --process, the create path's device rules) are cached too.
from libcontainer_py.spec import LinuxDeviceCgroup, Process
out.append(Process.model_validate({"cwd": "/", "args": ["sh"], "x": [1]}).to_dict())
out.append(LinuxDeviceCgroup(allow=True, type="c", major=1, minor=3, access="rwm").to_dict())
try:
    Process.model_validate({"cwd": 1})
except Exception as exc:
    out.append(str(exc).splitlines()[:3])
print(json.dumps({"cached": sorted(c.__name__ for c in installed), "results": out}))
"""


CACHED = ["Features", "LinuxDeviceCgroup", "Process", "Spec", "State"]


def _run(cache: str) -> dict[str, Any]:
    env = {**os.environ, _cache.ENV_DIR: cache}
    args = [sys.executable, "-c", SCRIPT]
    found = spec_dir()
    if found is not None:
        args.append(str(found))
    result = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, check=True, timeout=120)
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def test_documents_behave_the_same_with_the_cache_cold_warm_and_off(tmp_path: Path) -> None:
    off = _run("0")
    cold = _run(str(tmp_path))
    files = sorted(p.name.split(".")[3] for p in tmp_path.iterdir())
    assert files == CACHED
    warm = _run(str(tmp_path))
    assert off["cached"] == cold["cached"] == []
    assert warm["cached"] == CACHED
    assert len(off["results"]) >= 15
    assert off["results"] == cold["results"] == warm["results"]


def test_a_corrupt_file_falls_back_and_is_rewritten(tmp_path: Path) -> None:
    reference = _run("0")
    _run(str(tmp_path))
    for path in tmp_path.iterdir():
        path.write_bytes(path.read_bytes()[:100])
    broken = _run(str(tmp_path))
    assert broken["cached"] == [] and broken["results"] == reference["results"]
    assert _run(str(tmp_path))["cached"] == CACHED
