"""The examples are part of the product: each runs as a script and asserts its own output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.root
def test_01_date_demo() -> None:
    """The README's main job: a busybox container prints the date, through pyrunc and the library."""
    env = dict(os.environ, PYTHONPATH=str(EXAMPLES.parent))
    p = subprocess.run(
        [sys.executable, str(EXAMPLES / "01_date.py")], capture_output=True, text=True, env=env, timeout=120
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert "ok: the container printed the date" in p.stdout
    assert "UTC" in p.stdout
