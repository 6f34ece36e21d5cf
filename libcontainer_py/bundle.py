"""Make a small OCI bundle (config.json + rootfs) around Debian's static busybox.

No image registry is reachable from where this project is built and tested, so the demo, the tests,
the examples and the notebook all run containers on a bundle made here: one statically linked
busybox binary, a symlink per applet, and the few files a shell expects (/etc/passwd, /etc/group).

    >>> from libcontainer_py import make_busybox_bundle
    >>> bundle = make_busybox_bundle("/tmp/bb", args=["date"])   # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from libcontainer_py.errors import BundleError

BUSYBOX_ENV = "LIBCONTAINER_PY_BUSYBOX"
# Debian's busybox-static installs here; the dynamically linked `busybox` package uses the same
# path, which is why the binary is checked for static linking rather than trusted by name.
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")

_PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
_GROUP = "root:x:0:\nnogroup:x:65534:\n"


def _is_static_elf(path: str) -> bool:
    """True when `path` is an ELF file without a PT_INTERP program header (statically linked).
    A dynamically linked busybox would fail inside the container with a confusing ENOENT."""
    try:
        with open(path, "rb") as f:
            ident = f.read(64)
            if len(ident) < 64 or ident[:4] != b"\x7fELF":
                return False
            is64 = ident[4] == 2
            endian = "<" if ident[5] == 1 else ">"
            if is64:
                (phoff,) = struct.unpack_from(endian + "Q", ident, 0x20)
                phentsize, phnum = struct.unpack_from(endian + "HH", ident, 0x36)
            else:
                (phoff,) = struct.unpack_from(endian + "I", ident, 0x1C)
                phentsize, phnum = struct.unpack_from(endian + "HH", ident, 0x2A)
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return False
    for i in range(phnum):
        (p_type,) = struct.unpack_from(endian + "I", table, i * phentsize)
        if p_type == 3:  # PT_INTERP
            return False
    return True


def find_busybox(explicit: str | os.PathLike[str] | None = None) -> str:
    """The path of a statically linked busybox: `explicit`, $LIBCONTAINER_PY_BUSYBOX, or the
    Debian busybox-static location. Raises BundleError saying how to get one."""
    candidates = [os.fspath(explicit)] if explicit else []
    if not candidates and os.environ.get(BUSYBOX_ENV):
        candidates = [os.environ[BUSYBOX_ENV]]
    if not candidates:
        candidates = list(BUSYBOX_CANDIDATES)
    for candidate in candidates:
        if os.path.isfile(candidate) and _is_static_elf(candidate):
            return candidate
    raise BundleError(
        f"no statically linked busybox found (looked at {', '.join(candidates)}): "
        "install Debian's busybox-static (apt-get install busybox-static) "
        f"or set {BUSYBOX_ENV} to a static busybox binary"
    )


def _applets(busybox: str) -> list[str]:
    out = subprocess.run([busybox, "--list-full"], capture_output=True, text=True, check=True).stdout
    return [line.strip().lstrip("/") for line in out.splitlines() if line.strip()]


def make_busybox_rootfs(rootfs: str | os.PathLike[str], busybox: str | None = None) -> Path:
    """Fill `rootfs` (created if missing) with busybox, one symlink per applet and a minimal /etc."""
    bb = find_busybox(busybox)
    root = Path(rootfs)
    root.mkdir(parents=True, exist_ok=True)
    for d in (
        "bin",
        "sbin",
        "usr/bin",
        "usr/sbin",
        "etc",
        "proc",
        "sys",
        "dev",
        "root",
        "tmp",
        "run",
        "var/www",
        "home",
    ):
        (root / d).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "tmp", 0o1777)
    # A copy, never a hard link: a container writing to its /bin/busybox must not reach the host's.
    shutil.copy2(bb, root / "bin" / "busybox")
    for applet in _applets(bb):
        link = root / applet
        if applet == "bin/busybox" or link.exists() or link.is_symlink():
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to("/bin/busybox")
    (root / "etc" / "passwd").write_text(_PASSWD)
    (root / "etc" / "group").write_text(_GROUP)
    (root / "etc" / "hostname").write_text("busybox\n")
    (root / "var" / "www" / "index.html").write_text("hello from libcontainer-py\n")
    return root


def make_busybox_bundle(
    bundle: str | os.PathLike[str],
    args: Sequence[str] = ("sh",),
    *,
    terminal: bool = False,
    rootless: bool = False,
    config: dict[str, Any] | None = None,
    busybox: str | None = None,
) -> Path:
    """Create an OCI bundle at `bundle`: `rootfs/` from busybox and a `config.json`.

    The config is `runc spec`'s default (or `config`, a config.json as a dict, when given) with
    `process.args` set to `args` and `process.terminal` to `terminal`. Returns the bundle path.
    Refuses to overwrite an existing config.json, as `runc spec` does.
    """
    path = Path(bundle).absolute()
    cfg_path = path / "config.json"
    if cfg_path.exists():
        raise BundleError(f"{cfg_path} exists: remove it first or choose another bundle directory")
    make_busybox_rootfs(path / "rootfs", busybox)
    if config is None:
        from libcontainer_py.spec.defaults import default_dict

        config = default_dict(rootless=rootless)
    config = json.loads(json.dumps(config))  # a private copy
    process = config.setdefault("process", {})
    process["args"] = list(args)
    process["terminal"] = terminal
    config.setdefault("root", {"path": "rootfs"})
    tmp = cfg_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(config, indent=2) + "\n")
    os.replace(tmp, cfg_path)
    return path
