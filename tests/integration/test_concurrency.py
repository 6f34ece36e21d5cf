"""Many pyrunc processes on one --root at once: 32 containers created, started, killed and
deleted in parallel; concurrent state/kill/delete on one id; one winner for a duplicate id. No
corrupted state file, no leftover (the rt fixture checks state dirs, processes and mounts)."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from typing import Any

N = 32


def pyrunc(rt: Any, *argv: str) -> subprocess.CompletedProcess[str]:
    # Files, not pipes: a created container's init holds pyrunc's stdout and stderr (as runc's
    # does) until its program redirects them, so reading a pipe to EOF would wait for it.
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.run(
            [*rt.cmd, "--root", rt.root, *argv], stdout=out, stderr=err, text=True, timeout=120,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(p.args, p.returncode, out.read(), err.read())


def quiet_bundle(rt: Any, args: list[str]) -> Any:
    def edit(c: dict[str, Any]) -> None:
        c["process"]["args"] = ["sh", "-c", f"exec {' '.join(args)} </dev/null >/dev/null 2>&1"]

    return rt.bundle(args, edit=edit)


def test_32_containers_in_parallel(rt: Any) -> None:
    bundle = quiet_bundle(rt, ["sleep", "60"])
    ids = [f"par-{i:02d}" for i in range(N)]

    def lifecycle(cid: str) -> list[str]:
        problems = []
        for argv in (("create", "--bundle", str(bundle), cid), ("start", cid)):
            r = pyrunc(rt, *argv)
            if r.returncode:
                problems.append(f"{argv[0]} {cid}: {r.stderr.strip()}")
                return problems
        r = pyrunc(rt, "state", cid)
        if r.returncode or json.loads(r.stdout)["status"] != "running":
            problems.append(f"state {cid}: {r.stdout} {r.stderr}")
        for argv in (("kill", cid, "KILL"), ("delete", "--force", cid)):
            r = pyrunc(rt, *argv)
            if r.returncode:
                problems.append(f"{argv[0]} {cid}: {r.stderr.strip()}")
        return problems

    with ThreadPoolExecutor(max_workers=N) as pool:
        results = list(pool.map(lifecycle, ids))
    assert [p for ps in results for p in ps] == []
    assert rt.state_dirs() == []


def test_concurrent_verbs_on_one_container(rt: Any) -> None:
    bundle = quiet_bundle(rt, ["sleep", "60"])
    cid = "contended"
    assert pyrunc(rt, "run", "-d", "--bundle", str(bundle), cid).returncode == 0
    state_file = os.path.join(rt.root, cid, "state.json")

    def poke(i: int) -> tuple[int, str]:
        verb = ("state", "kill", "state", "delete", "list")[i % 5]
        argv = {
            "state": ("state", cid),
            "kill": ("kill", cid, "KILL"),
            "delete": ("delete", "--force", cid),
            "list": ("list", "--format", "json"),
        }[verb]
        r = pyrunc(rt, *argv)
        # every answer is either success or one clean line; a half-written state.json would show
        # up as a JSON error or a traceback
        assert "Traceback" not in r.stderr and "corrupt" not in r.stderr, r.stderr
        if r.returncode == 0 and verb == "state":
            json.loads(r.stdout)
        if os.path.exists(state_file):
            try:
                with open(state_file) as f:
                    json.load(f)
            except FileNotFoundError:
                pass
        return r.returncode, verb

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(poke, range(40)))
    assert any(rc == 0 for rc, verb in outcomes if verb == "delete")
    assert pyrunc(rt, "delete", "--force", cid).returncode == 0
    assert rt.state_dirs() == []


def test_duplicate_id_has_exactly_one_winner(rt: Any) -> None:
    bundle = quiet_bundle(rt, ["sleep", "60"])

    def create(_: int) -> subprocess.CompletedProcess[str]:
        return pyrunc(rt, "create", "--bundle", str(bundle), "dup")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(create, range(8)))
    winners = [r for r in results if r.returncode == 0]
    losers = [r for r in results if r.returncode != 0]
    assert len(winners) == 1, [r.stderr for r in results]
    assert all("already exists" in r.stderr and len(r.stderr.strip().splitlines()) == 1 for r in losers)
    assert json.loads(pyrunc(rt, "state", "dup").stdout)["status"] == "created"
    assert pyrunc(rt, "delete", "--force", "dup").returncode == 0
