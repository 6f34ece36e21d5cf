"""Hooks run where the spec says: a runtime-namespace hook sees the runtime's namespaces, and a hook
the init runs with run_hooks_in_container sees the container's (here: a forked child in new mount,
UTS and IPC namespaces standing in for the init, until the lifecycle is wired). Each hook writes its
stdin and its namespace inodes to a file."""

from __future__ import annotations

import ctypes
import json
import os
from pathlib import Path

import pytest

from libcontainer_py.hooks import HookError, run_hooks, run_hooks_in_container

pytestmark = pytest.mark.root

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
NAMESPACES = ("mnt", "uts", "ipc")
STATE = {"ociVersion": "1.3.0", "id": "hooks", "status": "creating", "pid": 0, "bundle": "/b"}


def recorder(out: Path) -> dict[str, object]:
    links = " ".join(f"/proc/$$/ns/{ns}" for ns in NAMESPACES)
    body = f"/bin/cat > {out}.stdin; for l in {links}; do /bin/readlink $l; done > {out}.ns"
    return {"path": "/bin/sh", "args": ["sh", "-c", body]}


def namespaces(pid: int | str = "self") -> list[str]:
    return [os.readlink(f"/proc/{pid}/ns/{ns}") for ns in NAMESPACES]


def test_runtime_and_container_namespace_hooks(tmp_path: Path) -> None:
    run_hooks("createRuntime", [recorder(tmp_path / "runtime")], {**STATE, "pid": 4242})
    assert (tmp_path / "runtime.ns").read_text().split() == namespaces()
    assert json.loads((tmp_path / "runtime.stdin").read_text())["pid"] == 4242

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the stand-in init
        code = 0
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC) != 0:
                raise OSError(ctypes.get_errno(), "unshare")
            os.write(w, json.dumps(namespaces()).encode())
            run_hooks_in_container("createContainer", [recorder(tmp_path / "container")], STATE)
            try:
                run_hooks_in_container("startContainer", [{"path": "/bin/false"}], STATE)
                code = 4
            except HookError as exc:
                code = 0 if str(exc) == "hooks.startContainer[0] (/bin/false): exit status 1" else 5
        except BaseException:
            code = 3
        os._exit(code)
    os.close(w)
    with os.fdopen(r) as f:
        child_ns = json.loads(f.read())
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert (tmp_path / "container.ns").read_text().split() == child_ns
    assert child_ns != namespaces()
    # The state a container-namespace hook gets names the pid as the container sees it.
    assert json.loads((tmp_path / "container.stdin").read_text())["pid"] == pid
