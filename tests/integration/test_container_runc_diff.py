"""Differential checks: the same bundle under runc and under pyrunc, the observations compared.

Each container prints its observations in sections; runc and pyrunc must print the same ones.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from typing import Any

import pytest

RUNC = shutil.which("runc")

pytestmark = [pytest.mark.runc, pytest.mark.skipif(RUNC is None, reason="runc is not installed")]

SCRIPT = (
    "echo '== id'; id; "
    "echo '== status'; "
    "grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Uid|Gid|Groups|Seccomp_filters|SigIgn|SigBlk):' /proc/self/status; "
    "echo '== ulimit'; ulimit -n; ulimit -Hn; "
    "echo '== hostname'; hostname; "
    "echo '== umask'; umask; "
    "echo '== cwd'; pwd; "
    "echo '== env'; env | sort; "
    "echo '== dev'; ls /dev; "
    "echo '== fds'; ls /proc/$$/fd; "
    "echo '== mountinfo'; cat /proc/self/mountinfo"
)


def sections(out: str) -> dict[str, str]:
    result: dict[str, list[str]] = {}
    current = None
    for line in out.splitlines():
        if line.startswith("== "):
            current = line[3:]
            result[current] = []
        elif current is not None:
            result[current].append(line)
    return {k: "\n".join(v) for k, v in result.items()}


def observe(rt: Any, text: str) -> dict[str, Any]:
    s = sections(text)
    obs: dict[str, Any] = {k: v for k, v in s.items() if k not in ("mountinfo", "status", "env")}
    obs["status"] = rt.status_fields(s["status"])
    obs["status"].pop("Seccomp_filters", None)  # runc may load a filter; no seccomp in this config
    # SigIgn compared whole: both runtimes start the program with no signal ignored, whatever
    # their caller ignored (a shell without job control ignores SIGINT and SIGQUIT in its
    # background commands, nohup SIGHUP): test_exec.py checks that from such a caller.
    obs["env"] = sorted(line for line in s["env"].splitlines() if not line.startswith(("SHLVL=", "PWD=", "_=")))
    # /sys/fs/cgroup/*: runc mounts what its cgroup manager sees; compare the rest.
    obs["mounts"] = [(p, t) for p, t in rt.mount_points(s["mountinfo"]) if not p.startswith("/sys/fs/cgroup/")]
    return obs


def run_runc(rt: Any, bundle: Any) -> str:
    root = tempfile.mkdtemp(prefix="runc-root-", dir=rt.base)
    cid = rt.new_id("runc")
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.run(
            [RUNC or "runc", "--root", root, "run", "--bundle", str(bundle), cid],
            stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=60,
        )  # fmt: skip
        out.seek(0)
        err.seek(0)
        text, errors = out.read(), err.read()
    subprocess.run([RUNC or "runc", "--root", root, "delete", "--force", cid], capture_output=True, check=False)
    assert p.returncode == 0, f"runc failed ({p.returncode}): {errors}"
    return text


def compare(rt: Any, edit: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
    bundle = rt.bundle(["sh", "-c", SCRIPT], edit=edit)
    ours = observe(rt, rt.out(bundle))
    theirs = observe(rt, run_runc(rt, bundle))
    return ours, theirs


def assert_same(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    for key in sorted(set(ours) | set(theirs)):
        assert ours.get(key) == theirs.get(key), f"{key}: pyrunc {ours.get(key)!r} != runc {theirs.get(key)!r}"


def test_default_config(rt: Any) -> None:
    assert_same(*compare(rt))


def test_non_root_user_with_capabilities(rt: Any) -> None:
    def edit(config: dict[str, Any]) -> None:
        config["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [10, 20], "umask": 0o077}
        config["process"]["capabilities"] = {
            "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
            "effective": ["CAP_KILL"],
            "permitted": ["CAP_KILL", "CAP_NET_RAW"],
            "inheritable": ["CAP_KILL"],
            "ambient": ["CAP_KILL"],
        }
        config["process"]["noNewPrivileges"] = False
        config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}]
        config["process"]["cwd"] = "/tmp"
        config["process"]["env"].append("FOO=bar")
        config["hostname"] = "diff-host"

    assert_same(*compare(rt, edit))


def test_user_namespace(rt: Any) -> None:
    def edit(config: dict[str, Any]) -> None:
        config["linux"]["namespaces"].append({"type": "user"})
        config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        # runc's rootless-friendly choices, so both can mount in the user namespace
        config["mounts"] = [m for m in config["mounts"] if m["destination"] != "/sys/fs/cgroup"]
        # set from the host's side by both (runc at procReady; pyrunc's parent at "ready")
        config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 300, "hard": 400}]

    assert_same(*compare(rt, edit))


def test_writable_root_and_masks(rt: Any) -> None:
    def edit(config: dict[str, Any]) -> None:
        config["root"]["readonly"] = False
        config["linux"]["maskedPaths"].append("/etc/hostname")
        config["linux"]["readonlyPaths"].append("/var")

    assert_same(*compare(rt, edit))
