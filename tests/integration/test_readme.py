"""The README's library example is run as written (in a scratch directory instead of /tmp/bb)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.root
def test_readme_library_example() -> None:
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S)
    assert code is not None
    with tempfile.TemporaryDirectory() as scratch:
        os.chmod(scratch, 0o755)
        state = os.path.join(scratch, "state")
        source = code.group(1).replace('"/tmp/bb"', repr(os.path.join(scratch, "bb")))
        # the example uses the default state root; keep the test's containers in its own
        source = source.replace("import libcontainer_py as lc\n", "import libcontainer_py as lc\nimport functools\n")
        source = source.replace("lc.run(", f"functools.partial(lc.run, root={state!r})(")
        source = source.replace(
            'lc.Container.create("web", bundle,', f'lc.Container.create("web", bundle, root={state!r},'
        )
        p = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        lines = p.stdout.splitlines()
        assert re.match(r"b'\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d UTC \d{4}\\n'", lines[0]), lines
        assert lines[1] == "b'0\\ndemo\\n'"
        assert lines[2:] == ["running", "137"]
        assert not os.path.exists(os.path.join(state, "web"))
