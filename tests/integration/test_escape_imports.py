"""Nothing is imported inside the container.

Until execve, the init and exec's process are the runtime's Python interpreter. Once the
container's root is theirs (after pivot_root, or the setns of its mount namespace), every path the
import system searches (the package's directories, sys.path, the code pack) names a file of the
container's, which a process in the container (or its image) can write. An import there would run
the container's code in the runtime's process, before it drops its capabilities, with the caller's
seccomp-free, unconfined view (the CVE-2019-5736 class). So the runtime imports all it needs before,
and refuses any import after (init/seal.py): a late import fails at once, without a look at a file.

A helper process runs containers through the library in the ways that take other code paths (a
filter, a user namespace, hooks in the container, a terminal, --no-pivot, errors after the pivot,
exec), with an audit hook that records every import attempted in a process whose "/" is not the
host's. The hook is inherited by the forked init and exec children; the record is an anonymous
shared mapping, which survives the fork and the pivot.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

PROBE = r"""
import json, mmap, os, sys, warnings
warnings.simplefilter("ignore")
BUF = mmap.mmap(-1, 1 << 16)
HOST = os.stat("/")
HOST = (HOST.st_dev, HOST.st_ino)

def hook(event, args):
    if event != "import":
        return
    try:
        st = os.stat("/")
    except OSError:
        return
    if (st.st_dev, st.st_ino) == HOST:
        return
    line = (str(os.getpid()) + " " + str(args[0]) + "\n").encode()
    off = int.from_bytes(BUF[:8], "little") or 8
    if off + len(line) < len(BUF):
        BUF[off:off + len(line)] = line
        BUF[:8] = (off + len(line)).to_bytes(8, "little")

sys.addaudithook(hook)

import libcontainer_py as lc
from libcontainer_py.container import Container
from libcontainer_py.spec.defaults import default_dict

base, root = sys.argv[1], sys.argv[2]
results = {}
n = [0]

def bundle(args, edit=None):
    n[0] += 1
    config = default_dict()
    config["process"]["terminal"] = False
    config["root"]["readonly"] = False
    if edit:
        edit(config)
    return str(lc.make_busybox_bundle(os.path.join(base, f"b{n[0]}"), args=args, config=config))

def seccomp(c):
    c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                             "syscalls": [{"names": ["sethostname"], "action": "SCMP_ACT_ERRNO"}]}

def userns(c):
    c["linux"]["namespaces"].append({"type": "user"})
    c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]

def hooks(c):
    c["hooks"] = {"createContainer": [{"path": "/bin/true"}], "startContainer": [{"path": "/bin/true"}]}

def bad_cwd(c):
    c["process"]["cwd"] = "/nonexistent"

def run(name, b, **kw):
    try:
        r = lc.run(b, root=root, capture_output=True, **kw)
        results[name] = r.returncode
    except Exception as exc:
        results[name] = type(exc).__name__

run("plain", bundle(["true"]))
run("seccomp", bundle(["true"], seccomp))
run("user namespace", bundle(["true"], userns))
run("hooks in the container", bundle(["true"], hooks))
run("program not found", bundle(["/nonexistent"]))
run("cwd missing", bundle(["true"], bad_cwd))

c = Container.create("probe-nopivot", bundle(["true"]), root=root, no_pivot=True, start=True)
results["no pivot"] = c.wait()
c.delete()

for name, edit in (("exec", None), ("exec, seccomp", seccomp), ("exec, user namespace", userns)):
    c = Container.create("probe-" + str(n[0]), bundle(["sleep", "60"], edit), root=root)
    c.start()
    try:
        for what, proc in ((name, {"args": ["true"], "cwd": "/"}),
                           (name + ", not found", {"args": ["/nonexistent"], "cwd": "/"}),
                           (name + ", cwd missing", {"args": ["true"], "cwd": "/nonexistent"}),
                           (name + ", terminal", {"args": ["true"], "cwd": "/", "terminal": True})):
            try:
                r = c.exec(proc, detach=bool(proc.get("terminal")))
                if r.console is not None:
                    os.close(r.console)
                    os.waitpid(r.pid, 0)
                    results[what] = 0
                else:
                    results[what] = r.exit_status
            except Exception as exc:
                results[what] = type(exc).__name__
    finally:
        c.delete(force=True)

end = int.from_bytes(BUF[:8], "little") or 8
print(json.dumps({"results": results, "imports": BUF[8:end].decode().splitlines()}))
"""


def test_nothing_is_imported_inside_the_container(rt: Any) -> None:
    p = subprocess.run(
        [sys.executable, "-c", PROBE, str(rt.mkdir("probe")), rt.root],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.splitlines()[-1])
    results = out["results"]
    # The containers ran, and the errors were the runtime's clear ones, not an ImportError.
    assert results["plain"] == 0 and results["seccomp"] == 0 and results["user namespace"] == 0, results
    assert results["hooks in the container"] == 0 and results["no pivot"] == 0, results
    assert results["program not found"] == "ContainerFailed" or results["program not found"] != 0, results
    for ex in ("exec", "exec, seccomp", "exec, user namespace"):
        assert results[ex] == 0 and results[f"{ex}, terminal"] == 0, results
        assert results[f"{ex}, not found"] == "ExecError" and results[f"{ex}, cwd missing"] == "ExecError", results
    assert out["imports"] == [], out["imports"]


def test_a_late_import_would_run_the_containers_file_and_the_seal_refuses_it(tmp_path: Any) -> None:
    """What the seal is for, in a forked child chrooted into a directory that stands for a
    container's root, whose image holds a module where the runtime's package lives on the host.
    Unsealed, importing a module not imported before runs the image's file; sealed, the import
    fails at once and the file is not even read."""
    import os

    import libcontainer_py
    from libcontainer_py.init.seal import seal

    pkgdir = os.path.dirname(libcontainer_py.__file__)
    planted = tmp_path / pkgdir.lstrip("/") / "planted_by_the_image.py"
    planted.parent.mkdir(parents=True)
    planted.write_text("open('/ran', 'w').close()\n")
    outcomes = {}
    for sealed in (False, True):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 1
            try:
                os.chroot(str(tmp_path))
                os.chdir("/")
                if sealed:
                    seal()
                try:
                    import libcontainer_py.planted_by_the_image  # type: ignore[import-not-found]

                    code = 0
                except ImportError:
                    code = 3
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        ran = (tmp_path / "ran").exists()
        outcomes[sealed] = (os.waitstatus_to_exitcode(status), ran)
        if ran:
            (tmp_path / "ran").unlink()
    assert outcomes == {False: (0, True), True: (3, False)}, outcomes
