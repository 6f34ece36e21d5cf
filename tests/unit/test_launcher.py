"""pyrunc's launcher without `site` (libcontainer_py/launcher.py): the paths it records, its start
without `site` while they are fresh, and its fall back to `site` when they may not be. Real
interpreters are started; PYTHONVERBOSE makes each say which modules it imported."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from libcontainer_py import launcher

PROJECT = str(Path(launcher.__file__).resolve().parent.parent)


def start(script: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONVERBOSE": "1"}
    return subprocess.run([str(script), *argv], capture_output=True, text=True, env=env, timeout=60)


def imported_site(stderr: str) -> bool:
    return any(line.startswith("import 'site'") for line in stderr.splitlines())


def test_render_records_what_site_adds_and_the_directories_it_reads() -> None:
    text = launcher.render()
    assert text.startswith(f"#!{sys.executable} -SP\n")
    normal = subprocess.run([sys.executable, "-c", "import sys; print(repr(sys.path[1:]))"],
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    bare = subprocess.run([sys.executable, "-S", "-c", "import sys; print(repr(sys.path[1:]))"],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip
    added = [p for p in ast.literal_eval(normal) if p not in ast.literal_eval(bare)]
    assert added, "a normal start adds nothing to sys.path?"
    assert f"sys.path += {added!r}" in text
    # The package itself is found through them (site-packages, or an editable install's path).
    assert any(Path(p, "libcontainer_py").is_dir() for p in added) or PROJECT in added


def test_written_launcher_runs_pyrunc_without_site(tmp_path: Path) -> None:
    dest = Path(launcher.write(str(tmp_path / "pyrunc")))
    assert dest == tmp_path / "pyrunc" and os.access(dest, os.X_OK)
    assert not list(tmp_path.glob("*.tmp*"))
    r = start(dest, "--version")
    assert r.returncode == 0 and r.stdout.startswith("pyrunc version "), r
    assert not imported_site(r.stderr), "site was imported although nothing changed"
    # An unknown verb: pyrunc's one line and its exit status come through the launcher.
    r = start(dest, "no-such-verb")
    assert r.returncode != 0 and "no-such-verb" in r.stderr and "Traceback" not in r.stderr


def test_the_launchers_directory_is_not_searched_for_modules(tmp_path: Path) -> None:
    """-P: a module dropped beside the launcher (the venv's bin) is not what pyrunc imports."""
    dest = Path(launcher.write(str(tmp_path / "pyrunc")))
    (tmp_path / "libcontainer_py.py").write_text("raise SystemExit('the planted module ran')\n")
    r = start(dest, "--version")
    assert r.returncode == 0 and r.stdout.startswith("pyrunc version "), r
    assert "planted" not in r.stderr


def test_a_changed_directory_makes_it_run_site(tmp_path: Path) -> None:
    watched = tmp_path / "site-packages"
    watched.mkdir()
    paths = [p for p in sys.path[1:] if p and "site-packages" in p] + [PROJECT]
    script = tmp_path / "pyrunc"
    script.write_text(launcher.text(sys.executable, paths, [str(watched)]))
    script.chmod(0o755)
    r = start(script, "--version")
    assert r.returncode == 0 and not imported_site(r.stderr), r.stderr[-2000:]
    # A package installed there (its mtime changes): the recorded paths may be stale.
    (watched / "new.pth").write_text("/nonexistent\n")
    os.utime(watched, ns=(1, 1))
    r = start(script, "--version")
    assert r.returncode == 0 and r.stdout.startswith("pyrunc version "), r
    assert imported_site(r.stderr)
    # And a directory that is gone.
    (watched / "new.pth").unlink()
    watched.rmdir()
    r = start(script, "--version")
    assert r.returncode == 0 and imported_site(r.stderr), r


def test_usage_errors() -> None:
    assert launcher.main(["-h"]) == 2
    assert launcher.main(["a", "b"]) == 2


def test_installed_pyrunc_is_the_fresh_launcher() -> None:
    """scripts/setup.sh writes it over pip's console script; nothing since (the tests included)
    may have changed site-packages, or every pyrunc call of the run paid for `site` again."""
    installed = Path(sys.executable).parent / "pyrunc"
    if not installed.exists() or launcher.MARK not in installed.read_text():
        pytest.skip("pyrunc here is pip's console script: `python -m libcontainer_py.launcher` writes the launcher")
    r = start(installed, "--version")
    assert r.returncode == 0 and r.stdout.startswith("pyrunc version "), r
    assert not imported_site(r.stderr), "the installed launcher's paths are stale: run scripts/setup.sh"
