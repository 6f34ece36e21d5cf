"""examples/seccomp_notify_listener.py --demo: the agent logs each mkdir and denies one path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "seccomp_notify_listener.py"


@pytest.mark.root
def test_notify_listener_example_demo() -> None:
    env = dict(os.environ, PYTHONPATH=str(EXAMPLE.parents[1]))
    p = subprocess.run([sys.executable, str(EXAMPLE), "--demo"], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "/forbidden) DENIED" in p.stdout
    assert p.stdout.count(") allowed") == 2
    assert "ok: mkdir logged, one path denied" in p.stdout
