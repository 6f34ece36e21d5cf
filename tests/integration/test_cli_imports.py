"""The CLI's start-up budget: create, start, run, exec, state, events, pause, resume, kill and delete of
a valid config never import pydantic (80-90 ms here: spec/fast.py and _specload.py validate without
it), and an invalid config still gets pydantic's one-line error. Observed with PYTHONPROFILEIMPORTTIME,
which every Python process of the run (pyrunc and its children until execve) honours."""

from __future__ import annotations

from typing import Any

import pytest


def imported(stderr: str) -> set[str]:
    """The modules an importtime report on stderr names."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


@pytest.fixture
def importtime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPROFILEIMPORTTIME", "1")


def test_lifecycle_verbs_never_import_pydantic(rt: Any, importtime: None) -> None:
    out = rt.run(rt.bundle(["sh", "-c", "echo hello"]))
    assert out.rc == 0 and out.out == "hello\n", out
    seen = {"run": imported(out.err)}
    assert "libcontainer_py.spec.fast" in seen["run"] and "libcontainer_py.init.child" in seen["run"]

    cid = rt.new_id()
    bundle = rt.bundle(["sleep", "60"])
    steps = [
        ("create", ["create", "--bundle", str(bundle), cid]),
        ("start", ["start", cid]),
        ("state", ["state", cid]),
        ("exec", ["exec", cid, "true"]),
        ("events", ["events", "--stats", cid]),
        ("pause", ["pause", cid]),
        ("resume", ["resume", cid]),
        ("list", ["list"]),
        ("kill", ["kill", cid, "KILL"]),
    ]
    for name, argv in steps:
        r = rt.pyrunc(*argv)
        assert r.rc == 0, (name, r)
        seen[name] = imported(r.err)
    rt.wait_status(cid, "stopped")
    r = rt.pyrunc("delete", cid)
    assert r.rc == 0, r
    seen["delete"] = imported(r.err)
    assert all(seen.values()), "no importtime report: PYTHONPROFILEIMPORTTIME not honoured?"
    for name, modules in seen.items():
        assert not {m for m in modules if m.split(".")[0] in ("pydantic", "pydantic_core")}, name
    # Nor what a config without hooks, terminal or seccomp filter, and no stats, do not need:
    # signal's IntEnums (_signal's numbers do), hooks.py, tty.py, the Stats records.
    # Nor the resource module (an extension module, ~0.3 ms to load): rlimits go through prlimit.
    for name in ("run", "create", "start", "exec", "delete"):
        extra = seen[name] & {"signal", "libcontainer_py.hooks", "libcontainer_py.tty", "libcontainer_py.cgroups.stats"}
        assert not extra, (name, sorted(extra))
        assert "resource" not in seen[name], name
    # Nor contextlib (~3 ms with collections, functools, operator, keyword, reprlib): the lock, the
    # subreaper window and the suppressed errors on these paths are written without it.
    # Nor enum (~6 ms with functools, collections, operator, types: the runtime's enums are
    # _strenum's). collections may still come with cgroupspy, when run/create write a device rule.
    for name in ("run", "create", "start", "exec", "kill", "delete"):
        assert not seen[name] & {"contextlib", "enum", "functools"}, (name, sorted(seen[name] & {"enum", "functools"}))
        if "cgroupspy" not in seen[name]:
            assert "collections" not in seen[name], name
    # exec joins the cgroup through the files state.json names (cgroups.join_files): no driver,
    # no mountinfo (~1.5 ms).
    drivers = {"libcontainer_py.cgroups.v1", "libcontainer_py.cgroups.paths", "libcontainer_py.mountinfo", "cgroupspy"}
    assert not seen["exec"] & drivers, sorted(seen["exec"] & drivers)
    # Nor the container init's modules, nor (its child runs no Python: init/vspawn.py) the forked
    # child's: the sync socket's protocol, the seal, the steps of the console and the seccomp
    # listener, the spawn modes.
    forked = {"libcontainer_py.init.setns", "libcontainer_py.init.sync", "_socket", "libcontainer_py.init.seal",
              "libcontainer_py.init.finish", "libcontainer_py.init.mode"}  # fmt: skip
    assert not seen["exec"] & {"libcontainer_py.init.child", "libcontainer_py.init.spawn", *forked}, name
    # Nor os (~2 ms of every exec: it builds _collections_abc's ABCs and imports posixpath, stat and
    # genericpath): exec's modules use posix and _paths.py, when the launcher started pyrunc
    # without site, which imports it.
    if "site" not in seen["exec"]:
        assert not seen["exec"] & {"os", "posixpath", "_collections_abc", "stat", "genericpath"}, sorted(seen["exec"])


def test_an_invalid_config_falls_back_to_pydantic_for_its_error(rt: Any, importtime: None) -> None:
    def edit(config: dict[str, Any]) -> None:
        config["process"]["user"]["uid"] = "root"

    r = rt.run(rt.bundle(edit=edit))
    assert r.rc == 1
    errors = [line for line in r.err.splitlines() if not line.startswith("import time:")]
    assert len(errors) == 1 and "process.user.uid" in errors[0] and "config.json" in errors[0], errors
    assert "pydantic" in imported(r.err)
    assert rt.state_dirs() == []



def test_a_seccomp_filter_costs_no_ctypes(rt: Any, importtime: None) -> None:
    """The filter goes to the kernel through the shim (lc_seccomp_set_filter): ctypes (3-6 ms to
    import here) is on no path of a container with one, podman's and containerd's among them; and a
    create whose compiled filter is in the cache imports neither typing, contextlib and functools
    (~10 ms) nor hashlib (OpenSSL, ~6 ms) and platform (~4 ms): 105 -> 75 ms a `pyrunc run`."""

    def edit(config: dict[str, Any]) -> None:
        config["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["sethostname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
        }

    cid = rt.new_id()
    r = rt.run(rt.bundle(["true"], edit=edit))  # compiles the filter (pyseccomp: ctypes), and caches it
    assert r.rc == 0, r
    # the compiled filter from the cache:
    r = rt.pyrunc("run", "-d", "--bundle", str(rt.bundle(["sleep", "60"], edit=edit)), cid)
    assert r.rc == 0, r
    heavy = {"ctypes", "typing", "contextlib", "functools", "hashlib", "platform"}
    try:
        assert not imported(r.err) & heavy, sorted(imported(r.err) & heavy)
        r = rt.pyrunc("exec", cid, "sh", "-c", "grep ^Seccomp: /proc/self/status; hostname x || echo refused")
        assert r.rc == 0, r
        lines = r.out.splitlines()
        assert lines[0].split() == ["Seccomp:", "2"] and "refused" in lines[-1], r.out
        assert not imported(r.err) & heavy, sorted(imported(r.err) & heavy)
    finally:
        rt.pyrunc("delete", "--force", cid)


def test_a_json_log_line_costs_no_json_package(rt: Any, importtime: None, tmp_path: Any) -> None:
    """podman passes --log-format json --log FILE, and its creates log the seccomp profile's
    warnings there: the line is written with _json, not the json package (~11 ms with re and enum)."""

    def edit(config: dict[str, Any]) -> None:
        config["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": "/tmp/nobody.sock",  # without a notify rule: a warning
            "syscalls": [{"names": ["sethostname"], "action": "SCMP_ACT_ERRNO"}],
        }

    log = tmp_path / "log.json"
    r = rt.pyrunc("--log", str(log), "--log-format", "json", "run", "--bundle", str(rt.bundle(edit=edit)), rt.new_id())
    assert r.rc == 0, r
    assert "json" not in imported(r.err)
    import json

    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(d["level"], d["msg"]) for d in lines] == [
        ("warning", "linux.seccomp.listenerPath: ignored, no rule uses SCMP_ACT_NOTIFY")
    ], lines

# What the read-only verbs' fast path (cli/state.py, cli/events.py `fast`: _status.py and
# cgroups/_read.py) keeps out: each of these cost 0.2-2 ms of a call that runc answers in ~5 ms.
NOT_ON_THE_FAST_PATH = {
    "enum", "contextlib", "collections", "functools", "signal", "cgroupspy", "libcontainer_py.container",
    "libcontainer_py.state", "libcontainer_py.cli._parser", "libcontainer_py.cli._common",
    "libcontainer_py.cgroups.base", "libcontainer_py.cgroups.paths", "libcontainer_py.cgroups.v1",
    "libcontainer_py.cgroups.v2", "libcontainer_py.mountinfo", "libcontainer_py._version", "json", "re",
    "libcontainer_py.cgroups.stats", "libcontainer_py._record", "__future__",
}  # fmt: skip


def test_state_and_events_stats_import_only_what_they_read(rt: Any, importtime: None) -> None:
    cid = rt.new_id()
    r = rt.pyrunc("run", "-d", "--bundle", str(rt.bundle(["sleep", "60"])), cid)
    assert r.rc == 0, r
    try:
        fast = {}
        for name, argv in (("state", ["state", cid]), ("events", ["events", "--stats", cid])):
            r = rt.pyrunc(*argv)
            assert r.rc == 0, (name, r)
            fast[name] = r.out
            modules = imported(r.err)
            assert "libcontainer_py._status" in modules, name
            assert not modules & NOT_ON_THE_FAST_PATH, (name, sorted(modules & NOT_ON_THE_FAST_PATH))
            # Not even os (~2 ms: _paths.py), when the launcher started pyrunc without site, which
            # imports it (scripts/setup.sh writes the launcher; `python -m libcontainer_py.cli`
            # has site).
            if "site" not in modules:
                assert not modules & {"os", "posixpath", "_collections_abc"}, (name, sorted(modules))
        # The other spellings take the parser and the library: the same document.
        r = rt.pyrunc("state", "--", cid)
        assert r.rc == 0 and r.out == fast["state"], r
        assert "libcontainer_py.container" in imported(r.err)
        r = rt.pyrunc("events", cid, "--stats")
        assert r.rc == 0 and "libcontainer_py.container" in imported(r.err), r
        assert r.out.startswith('{"type": "stats", "id": "' + cid + '", "data": {"cpu": '), r.out
    finally:
        rt.pyrunc("delete", "--force", cid)
    # Errors are the library's, from the full path.
    r = rt.pyrunc("events", "--stats", cid)
    assert r.rc == 1 and "does not exist" in r.err and "libcontainer_py.container" in imported(r.err), r
