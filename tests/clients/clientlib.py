"""Helpers for the clients tier: running commands and terminals, the busybox image (and an OCI
archive of it for containerd), podman and containerd handles, runc/pyrunc pairs, leftover checks.

See docs/clients.md and ../shared/runtime-clients.md for how each client calls the runtime.
The client packages install with scripts/install-clients.sh (podman, conmon, containerd, tmux).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import platform
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import termios
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
IMAGE = "localhost/lcpy-bb:latest"
# podman asks for NOFILE and NPROC 1048576, above this VM's hard limits (runtime-clients.md §2.1).
ULIMITS = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096")
# pyrunc's default state root: podman passes no --root (runtime-clients.md §2.3).
PYRUNC_DEFAULT_ROOT = "/run/pyrunc"


def _find_pyrunc() -> str | None:
    """The pyrunc script of the interpreter running the tests (the venv's), else the one on PATH.
    Clients exec it directly, so it must be a real executable file."""
    beside = Path(sys.executable).parent / "pyrunc"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("pyrunc")


PYRUNC = _find_pyrunc()
RUNC = shutil.which("runc")
BUSYBOX = shutil.which("busybox")
PODMAN = shutil.which("podman")
CONMON = shutil.which("conmon") or next(
    (p for p in ("/usr/libexec/podman/conmon", "/usr/lib/podman/conmon") if os.path.exists(p)), None
)
CONTAINERD = shutil.which("containerd")
CTR = shutil.which("ctr")
SHIM = shutil.which("containerd-shim-runc-v2")
INSTALL_HINT = "run scripts/install-clients.sh"


def common_skip() -> str | None:
    if os.geteuid() != 0:
        return "needs root: the clients tier runs real containers"
    if PYRUNC is None:
        return "no pyrunc executable next to sys.executable or on PATH (pip install -e .)"
    if BUSYBOX is None:
        return "needs busybox-static for the image (apt-get install busybox-static)"
    return None


# -- running commands ---------------------------------------------------------------------------------


@dataclass
class Result:
    argv: list[str]
    rc: int
    out: str
    err: str

    def __repr__(self) -> str:
        return f"Result({' '.join(self.argv)!r}, rc={self.rc}, out={self.out[-2000:]!r}, err={self.err[-2000:]!r})"


def run(
    argv: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    input: str | None = None,
    timeout: float = 60,
    cwd: str | None = None,
) -> Result:
    """Run a command; its output through files, not pipes: after `create` or a detached run, the
    container (or conmon, or the shim) may hold the caller's stdout, and reading a pipe to EOF would
    wait for it."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.run(
            list(argv),
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            text=True,
            timeout=timeout,
            env=env,
            cwd=cwd,
        )
        out.seek(0)
        err.seek(0)
        return Result(list(argv), p.returncode, out.read(), err.read())


def _set_ctty() -> None:
    import fcntl

    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def pty_session(
    argv: Sequence[str],
    steps: Sequence[tuple[str, str]],
    *,
    env: dict[str, str] | None = None,
    rows: int = 30,
    cols: int = 150,
    timeout: float = 20,
) -> tuple[int, str]:
    """Run `argv` on a new pty as its controlling terminal (as a user at a terminal would), and for
    each (expect, send) wait until `expect` appears in the output, then type `send`. Returns the exit
    status and everything the terminal showed. On timeout the process group is killed and the test
    fails with the output so far."""
    import fcntl
    import struct

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    p = subprocess.Popen(
        list(argv),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
        preexec_fn=_set_ctty,
    )
    os.close(slave)
    buf = b""
    deadline = time.monotonic() + timeout

    def read_some(wait: float) -> bool:
        nonlocal buf
        ready, _, _ = select.select([master], [], [], wait)
        if not ready:
            return True
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other side is closed
            return False
        buf += chunk
        return bool(chunk)

    try:
        for expect, send in steps:
            while expect.encode() not in buf:
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"timed out waiting for {expect!r}; the terminal showed: {buf.decode(errors='replace')!r}"
                    )
                if not read_some(0.1) and p.poll() is not None:
                    raise AssertionError(
                        f"{argv[0]} exited ({p.returncode}) before {expect!r}: {buf.decode(errors='replace')!r}"
                    )
            os.write(master, send.encode())
        # Read until the terminal closes (EIO once every holder of the slave is gone) or the
        # process has exited and nothing more is pending.
        while time.monotonic() < deadline:
            if not read_some(0.1):
                break
            if p.poll() is not None and not select.select([master], [], [], 0.05)[0]:
                break
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"still running after {timeout}s; the terminal showed: {buf.decode(errors='replace')!r}"
            ) from None
        return p.returncode, buf.decode(errors="replace")
    finally:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(5)
        os.close(master)


# -- leftovers ----------------------------------------------------------------------------------------


def mounts_naming(path: str | Path) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if str(path) in line.split()[4]]


def processes_naming(path: str | Path) -> list[tuple[int, str]]:
    """Live processes whose command line names `path` (conmon, shims, containerd, containers)."""
    needle = str(path).encode()
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{name}/stat", "rb") as f:
                state = f.read().rpartition(b")")[2].split()[0]
        except OSError:
            continue
        if needle in cmdline and state not in (b"Z", b"X"):
            out.append((int(name), cmdline.replace(b"\0", b" ").decode(errors="replace")[:200]))
    return out


def sweep(base: Path) -> list[str]:
    """Kill what still runs naming `base`, unmount what is mounted under it; say what was found."""
    problems = []
    deadline = time.monotonic() + 5
    while (procs := processes_naming(base)) and time.monotonic() < deadline:
        time.sleep(0.1)
    if procs:
        problems.append(f"processes left naming {base}: {procs}")
        for pid, _ in procs:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    mounts = mounts_naming(base)
    if mounts:
        problems.append(f"mounts left under {base}: {mounts}")
        for point in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", point], check=False, capture_output=True)
    return problems


def cgroup_dirs(name: str) -> set[Path]:
    """`/sys/fs/cgroup/<controller>/<name>` (v1) and `/sys/fs/cgroup/<name>` (v2) that exist."""
    found = set(Path("/sys/fs/cgroup").glob(f"*/{name}"))
    if Path(f"/sys/fs/cgroup/{name}").is_dir():
        found.add(Path(f"/sys/fs/cgroup/{name}"))
    return found


def remove_cgroup_dirs(dirs: set[Path]) -> None:
    """rmdir the given cgroup directories and the empty cgroups under them, deepest first (a cgroup
    with a process in it refuses: that is left alone). Clients' parents (podman's libpod_parent with
    conmon's cgroup, containerd's /<namespace>) outlive their containers, as with runc."""
    for top in dirs:
        subdirs = [d for d in top.rglob("*") if d.is_dir()] if top.is_dir() else []
        for d in sorted(subdirs, key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):
                d.rmdir()
        with contextlib.suppress(OSError):
            top.rmdir()


def pyrunc_state_ids(root: str = PYRUNC_DEFAULT_ROOT) -> set[str]:
    """The container directories under a pyrunc state root (dot-entries are pyrunc's own caches)."""
    try:
        return {n for n in os.listdir(root) if not n.startswith(".")}
    except FileNotFoundError:
        return set()


def private_dir(prefix: str) -> Path:
    base = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    os.chmod(base, 0o755)
    return base


# -- the busybox image --------------------------------------------------------------------------------


def tar_rootfs(rootfs: Path) -> bytes:
    """The rootfs as an uncompressed tar, owned by root (an image layer)."""

    def owner(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in sorted(rootfs.iterdir()):
            tar.add(entry, arcname=entry.name, filter=owner)
    return bio.getvalue()


def oci_archive(layer: bytes, ref: str, dest: Path) -> Path:
    """An OCI image layout tar holding one image (`layer`, a plain tar), named `ref` for
    `ctr images import` (the io.containerd.image.name annotation)."""
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    gz = gzip.compress(layer, mtime=0)
    blobs: dict[str, bytes] = {}

    def blob(data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return digest

    config = json.dumps(
        {
            "architecture": arch,
            "os": "linux",
            "config": {"Cmd": ["sh"], "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": blob(config),
                "size": len(config),
            },
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": blob(gz), "size": len(gz)}
            ],
        }
    ).encode()
    index = json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": blob(manifest),
                    "size": len(manifest),
                    "platform": {"architecture": arch, "os": "linux"},
                    "annotations": {"io.containerd.image.name": ref, "org.opencontainers.image.ref.name": ref},
                }
            ],
        }
    ).encode()
    files = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json": index}
    files.update({f"blobs/sha256/{d.split(':')[1]}": data for d, data in blobs.items()})
    with tarfile.open(dest, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return dest


# -- podman -------------------------------------------------------------------------------------------


class Podman:
    """`podman` with private storage, a private containers.conf, and `--runtime <pyrunc>`."""

    def __init__(self, base: Path, runtime: str) -> None:
        self.base = base
        self.runtime = runtime
        self.conf = base / "containers.conf"
        # runtime_supports_json: podman names the runtime by the file's basename ("pyrunc") and
        # passes --log-format=json --log only for names listed here (runtime-clients.md §2.1).
        self.conf.write_text(
            "[engine]\n"
            'runtime_supports_json = ["crun", "runc", "pyrunc"]\n'
            'events_logger = "none"\n'
            f'tmp_dir = "{base}/tmp"\n'
            "[engine.runtimes]\n"
            f'pyrunc = ["{runtime}"]\n'
            "[network]\n"
            f'network_config_dir = "{base}/networks"\n'
        )
        self.global_argv = [
            PODMAN or "podman",
            "--root",
            str(base / "storage"),
            "--runroot",
            str(base / "run"),
            # The tmp dir (exits, alive lock) too: it defaults to /run/libpod, and podman remembers
            # the first value in its database, so it is given from the first call on.
            "--tmpdir",
            str(base / "tmp"),
            "--cgroup-manager",
            "cgroupfs",
            "--runtime",
            runtime,
        ]
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
            "HOME": os.environ.get("HOME", "/root"),
            "CONTAINERS_CONF": str(self.conf),
        }

    def argv(self, *args: str) -> list[str]:
        return [*self.global_argv, *args]

    def __call__(self, *args: str, timeout: float = 60, input: str | None = None) -> Result:
        return run(self.argv(*args), env=self.env, timeout=timeout, input=input)

    def ok(self, *args: str, timeout: float = 60) -> str:
        r = self(*args, timeout=timeout)
        assert r.rc == 0, r
        return r.out

    def ids(self) -> list[str]:
        r = self("ps", "-a", "-q", "--no-trunc")
        return r.out.split() if r.rc == 0 else []


@dataclass
class PodHandle:
    """One test's view of podman: names it creates are removed at teardown."""

    podman: Podman
    names: list[str] = field(default_factory=list)

    def name(self, prefix: str = "t") -> str:
        n = f"lcpy-{prefix}-{uuid.uuid4().hex[:8]}"
        self.names.append(n)
        return n

    def __call__(self, *args: str, timeout: float = 60, input: str | None = None) -> Result:
        return self.podman(*args, timeout=timeout, input=input)

    def ok(self, *args: str, timeout: float = 60) -> str:
        return self.podman.ok(*args, timeout=timeout)

    def argv(self, *args: str) -> list[str]:
        return self.podman.argv(*args)

    @property
    def env(self) -> dict[str, str]:
        return self.podman.env

    def inspect(self, name: str, fmt: str) -> str:
        return self.ok("inspect", "--format", fmt, name).strip()

    def wait_state(self, name: str, status: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while (now := self.inspect(name, "{{.State.Status}}")) != status:
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} is {now}, not {status}, after {timeout}s")
            time.sleep(0.1)


# -- containerd ---------------------------------------------------------------------------------------


class Containerd:
    """A containerd of its own, and `ctr` talking to it."""

    def __init__(self, base: Path, runtime: str) -> None:
        self.base = base
        self.runtime = runtime
        self.sock = base / "containerd.sock"
        self.runc_root = base / "runc"
        self.config = base / "config.toml"
        self.log = base / "containerd.log"
        arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
        self.config.write_text(
            "version = 2\n"
            f'root = "{base}/root"\n'
            f'state = "{base}/state"\n'
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
            "[grpc]\n"
            f'  address = "{self.sock}"\n'
            "[ttrpc]\n"
            f'  address = "{self.sock}.ttrpc"\n'
            "[debug]\n"
            f'  address = "{base}/debug.sock"\n'
            '[plugins."io.containerd.runtime.v2.task"]\n'
            f'  platforms = ["linux/{arch}"]\n'
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            # close_fds (the default) matters: Go does not close inherited fds, and they would reach
            # the shim and the runtime (runtime-clients.md §1.1).
            self.proc = subprocess.Popen(
                [CONTAINERD or "containerd", "--config", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        deadline = time.monotonic() + 20
        while self("version", timeout=10).rc != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"containerd did not come up: {self.log.read_text()[-3000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    @property
    def runc_flags(self) -> list[str]:
        return ["--runc-binary", self.runtime, "--runc-root", str(self.runc_root)]

    def argv(self, *args: str) -> list[str]:
        return [CTR or "ctr", "-a", str(self.sock), *args]

    def __call__(self, *args: str, timeout: float = 60, input: str | None = None) -> Result:
        return run(self.argv(*args), timeout=timeout, input=input)

    def ok(self, *args: str, timeout: float = 60) -> str:
        r = self(*args, timeout=timeout)
        assert r.rc == 0, r
        return r.out

    def tasks(self) -> dict[str, str]:
        """task id -> status (RUNNING, STOPPED, PAUSED, ...)."""
        r = self("task", "ls")
        out = {}
        for line in r.out.splitlines()[1:]:
            fields = line.split()
            if len(fields) >= 3:
                out[fields[0]] = fields[2]
        return out

    def remove(self, cid: str) -> None:
        """Kill, delete the task, delete the container: whatever exists of them."""
        if cid in self.tasks():
            self("task", "kill", "--all", "-s", "SIGKILL", cid, timeout=30)
            deadline = time.monotonic() + 10
            while self.tasks().get(cid) not in (None, "STOPPED") and time.monotonic() < deadline:
                time.sleep(0.1)
            self("task", "delete", "--force", cid, timeout=30)
        if cid in self("containers", "ls", "-q").out.split():
            self("containers", "delete", cid, timeout=30)


def run_containerd_entries() -> set[str]:
    out = set()
    for sub in ("s", "fifo"):
        with contextlib.suppress(FileNotFoundError):
            out |= {f"/run/containerd/{sub}/{n}" for n in os.listdir(f"/run/containerd/{sub}")}
    return out


@dataclass
class CtrHandle:
    """One test's view of containerd: ids it names are killed and deleted at teardown."""

    ctrd: Containerd
    ids: list[str] = field(default_factory=list)

    def new_id(self, prefix: str = "t") -> str:
        cid = f"lcpy-{prefix}-{uuid.uuid4().hex[:8]}"
        self.ids.append(cid)
        return cid

    def __call__(self, *args: str, timeout: float = 60, input: str | None = None) -> Result:
        return self.ctrd(*args, timeout=timeout, input=input)

    def ok(self, *args: str, timeout: float = 60) -> str:
        return self.ctrd.ok(*args, timeout=timeout)

    def argv(self, *args: str) -> list[str]:
        return self.ctrd.argv(*args)

    def run(self, cid: str, *command: str, flags: Sequence[str] = (), timeout: float = 60) -> Result:
        """`ctr run [--runc-binary <pyrunc> --runc-root DIR] FLAGS IMAGE ID COMMAND...`."""
        return self.ctrd("run", *self.ctrd.runc_flags, *flags, IMAGE, cid, *command, timeout=timeout)

    def wait_task(self, cid: str, status: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while (now := self.ctrd.tasks().get(cid)) != status:
            if time.monotonic() > deadline:
                raise AssertionError(f"task {cid} is {now}, not {status}, after {timeout}s")
            time.sleep(0.05)


# -- pyrunc and runc side by side ---------------------------------------------------------------------


class Pair:
    """runc and pyrunc, each with its own --root under one private directory."""

    def __init__(self, base: Path) -> None:
        assert PYRUNC is not None and RUNC is not None
        self.base = base
        self.roots = {"runc": str(base / "runc-root"), "pyrunc": str(base / "pyrunc-root")}
        self.bins = {"runc": RUNC, "pyrunc": PYRUNC}
        self._n = 0

    def bundle(self, args: Sequence[str], edit: Callable[[dict[str, object]], None] | None = None) -> Path:
        from libcontainer_py.bundle import make_busybox_bundle
        from libcontainer_py.spec.defaults import default_dict

        self._n += 1
        config = default_dict()
        if edit is not None:
            edit(config)
        return make_busybox_bundle(self.base / f"bundle{self._n}", args=args, config=config)

    def new_id(self) -> str:
        return f"c-{uuid.uuid4().hex[:8]}"

    def argv(self, which: str, *args: str, root: bool = True) -> list[str]:
        return [self.bins[which], *(["--root", self.roots[which]] if root else []), *args]

    def one(self, which: str, *args: str, root: bool = True, timeout: float = 30, cwd: str | None = None) -> Result:
        return run(self.argv(which, *args, root=root), timeout=timeout, cwd=cwd)

    def both(self, *args: str, root: bool = True, timeout: float = 30) -> dict[str, Result]:
        return {w: self.one(w, *args, root=root, timeout=timeout) for w in ("runc", "pyrunc")}

    def cleanup(self) -> list[str]:
        problems = []
        for which, root in self.roots.items():
            if not os.path.isdir(root):
                continue
            for cid in os.listdir(root):
                r = self.one(which, "delete", "--force", cid)
                if r.rc != 0:
                    problems.append(f"{which} delete --force {cid}: {r}")
            if os.listdir(root):
                problems.append(f"{which} state left under {root}: {os.listdir(root)}")
        return problems + sweep(self.base)


def last_json_line(path: Path) -> dict[str, object]:
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    assert lines, f"{path} is empty"
    doc = json.loads(lines[-1])
    assert isinstance(doc, dict)
    return doc


HEX64 = re.compile(r"[0-9a-f]{64}")
