"""cgroup v2 device control: a BPF_PROG_TYPE_CGROUP_DEVICE program, assembled here in Python from the
OCI ``devices[]`` rules, loaded and attached with bpf(2).

The program (same shape as runc's libcontainer/cgroups/devices/devicefilter.go)::

    r2 = ctx->access_type & 0xffff      ; device type: 1 block, 2 char
    r3 = ctx->access_type >> 16         ; requested access: 1 mknod, 2 read, 4 write
    r4 = ctx->major ; r5 = ctx->minor
    for each rule, LAST FIRST (in OCI the last matching rule wins):
        if rule.type != a and r2 != type:      goto next
        allow rule: if r3 & rule.access != r3: goto next   (every requested bit is allowed)
        deny rule:  if r3 & rule.access == 0:  goto next   (any requested bit is denied)
        if rule.major is set and r4 != major:  goto next
        if rule.minor is set and r5 != minor:  goto next
        r0 = rule.allow ; exit
    next: ...
    r0 = 0 ; exit                        ; no rule matched: deny

The kernel ANDs every program attached to a cgroup and its ancestors, so replacing a program attaches
the new one (BPF_F_ALLOW_MULTI) before detaching the old ones: no window without device control.

bpf(2) is reached through the shim, like every other system call (``_sys.bpf_prog_load``,
``bpf_prog_query``, ``bpf_prog_get_fd_by_id``, ``bpf_prog_attach``/``detach``: the C fills a
``union bpf_attr`` from linux/bpf.h), rather than ctypes as it was: no per-machine syscall table, and
no ctypes import (~1.6 ms) for a v2 host's every create.
"""

from __future__ import annotations

import errno as errno_mod
import os
import struct

from libcontainer_py import _sys
from libcontainer_py._record import Record
from libcontainer_py.cgroups.paths import CgroupError
from libcontainer_py.errors import SyscallError

# Type-only: importing the spec models (pydantic) costs ~75 ms, which `pyrunc events --stats`,
# `pause` and `delete` need not pay (they never build a LinuxResources). Not `typing` either
# (~2.5 ms), nor `platform` for the machine's name (~6.5 ms with `re`): os.uname() has it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from libcontainer_py.spec.resources import LinuxDeviceCgroup

# bpf(2) commands (the two _attach tells apart), program and attach types (include/uapi/linux/bpf.h)
BPF_PROG_ATTACH = 8
BPF_PROG_DETACH = 9
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 2

BPF_DEVCG_ACC_MKNOD = 1
BPF_DEVCG_ACC_READ = 2
BPF_DEVCG_ACC_WRITE = 4
BPF_DEVCG_DEV_BLOCK = 1
BPF_DEVCG_DEV_CHAR = 2

_ACCESS_BITS = {"m": BPF_DEVCG_ACC_MKNOD, "r": BPF_DEVCG_ACC_READ, "w": BPF_DEVCG_ACC_WRITE}
_TYPES = {"b": BPF_DEVCG_DEV_BLOCK, "c": BPF_DEVCG_DEV_CHAR}

# opcodes
_LDX_W = 0x61  # BPF_LDX | BPF_MEM | BPF_W
_AND32_K = 0x54  # BPF_ALU | BPF_AND | BPF_K
_RSH32_K = 0x74  # BPF_ALU | BPF_RSH | BPF_K
_MOV32_X = 0xBC  # BPF_ALU | BPF_MOV | BPF_X
_MOV64_K = 0xB7  # BPF_ALU64 | BPF_MOV | BPF_K
_JNE_K = 0x55  # BPF_JMP | BPF_JNE | BPF_K
_JNE_X = 0x5D  # BPF_JMP | BPF_JNE | BPF_X
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_EXIT = 0x95  # BPF_JMP | BPF_EXIT

class Insn(Record, frozen=True):
    """One eBPF instruction (struct bpf_insn)."""

    op: int
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0

    def encode(self) -> bytes:
        return struct.pack("<BBhi", self.op, (self.src << 4) | self.dst, self.off, self.imm)


def _rule_block(rule: LinuxDeviceCgroup, field: str) -> list[Insn]:
    """The instructions of one rule; jump offsets of -1 mean "to the next block" and are fixed up."""
    NEXT = -1
    body: list[Insn] = []
    dev_type = rule.type or "a"
    if dev_type not in ("a", "b", "c"):
        raise CgroupError(f"type {dev_type!r} is invalid: use a, b or c", field=f"{field}.type")
    access = rule.access if rule.access else "rwm"
    if any(ch not in _ACCESS_BITS for ch in access):
        raise CgroupError(f"access {access!r} is invalid: a combination of r, w and m", field=f"{field}.access")
    bits = 0
    for ch in access:
        bits |= _ACCESS_BITS[ch]
    if dev_type != "a":
        body.append(Insn(_JNE_K, dst=2, off=NEXT, imm=_TYPES[dev_type]))
    if bits != 7:
        body += [Insn(_MOV32_X, dst=1, src=3), Insn(_AND32_K, dst=1, imm=bits)]
        if rule.allow:  # allow only when every requested bit is allowed
            body.append(Insn(_JNE_X, dst=1, src=3, off=NEXT))
        else:  # deny when any requested bit is denied
            body.append(Insn(_JEQ_K, dst=1, off=NEXT, imm=0))
    for reg, v, name in ((4, rule.major, "major"), (5, rule.minor, "minor")):
        if v is None or v == -1:
            continue
        if not 0 <= v < 2**31:
            raise CgroupError(f"{v} is out of range", field=f"{field}.{name}")
        body.append(Insn(_JNE_K, dst=reg, off=NEXT, imm=v))
    body += [Insn(_MOV64_K, dst=0, imm=1 if rule.allow else 0), Insn(_EXIT)]
    # fix up: a jump at index i to the end of the block skips len(body) - i - 1 instructions
    return [Insn(x.op, x.dst, x.src, len(body) - i - 1, x.imm) if x.off == NEXT else x for i, x in enumerate(body)]


def compile_device_program(rules: Sequence[LinuxDeviceCgroup], field: str = "linux.resources.devices") -> list[Insn]:
    """The program for ``rules`` (OCI order; the last matching rule wins; default deny)."""
    insns = [
        Insn(_LDX_W, dst=2, src=1, off=0),
        Insn(_AND32_K, dst=2, imm=0xFFFF),
        Insn(_LDX_W, dst=3, src=1, off=0),
        Insn(_RSH32_K, dst=3, imm=16),
        Insn(_LDX_W, dst=4, src=1, off=4),
        Insn(_LDX_W, dst=5, src=1, off=8),
    ]
    for i in range(len(rules) - 1, -1, -1):
        block = _rule_block(rules[i], f"{field}[{i}]")
        insns += block
        # A catch-all rule ends the program: nothing before it (in OCI order) can matter.
        r = rules[i]
        if (r.type or "a") == "a" and (not r.access or set(r.access) == set("rwm")) \
                and r.major in (None, -1) and r.minor in (None, -1):
            return insns
    insns += [Insn(_MOV64_K, dst=0, imm=0), Insn(_EXIT)]
    return insns


def run_program(insns: Sequence[Insn], dev_type: str, major: int, minor: int, access: str) -> bool:
    """Interpret the subset of eBPF that compile_device_program emits (for tests without root)."""
    regs = [0] * 11
    access_type = (sum(_ACCESS_BITS[c] for c in access) << 16) | _TYPES[dev_type]
    ctx = struct.pack("<III", access_type, major, minor)
    pc = 0
    while True:
        x = insns[pc]
        pc += 1
        if x.op == _LDX_W:
            regs[x.dst] = struct.unpack_from("<I", ctx, x.off)[0]
        elif x.op == _AND32_K:
            regs[x.dst] = (regs[x.dst] & x.imm) & 0xFFFFFFFF
        elif x.op == _RSH32_K:
            regs[x.dst] = (regs[x.dst] & 0xFFFFFFFF) >> x.imm
        elif x.op == _MOV32_X:
            regs[x.dst] = regs[x.src] & 0xFFFFFFFF
        elif x.op == _MOV64_K:
            regs[x.dst] = x.imm
        elif x.op == _JNE_K:
            if regs[x.dst] != x.imm:
                pc += x.off
        elif x.op == _JEQ_K:
            if regs[x.dst] == x.imm:
                pc += x.off
        elif x.op == _JNE_X:
            if regs[x.dst] != regs[x.src]:
                pc += x.off
        elif x.op == _EXIT:
            return regs[0] == 1
        else:  # pragma: no cover
            raise ValueError(f"opcode {x.op:#x} not supported")


# --- bpf(2), through the shim (_sys.bpf_prog_*) -----------------------------------------------------


def _failed(what: str, exc: SyscallError) -> CgroupError:
    err = CgroupError(f"{what}: {os.strerror(exc.errno or 0)}", field="linux.resources.devices")
    err.__cause__ = exc
    return err


def load_program(insns: Sequence[Insn]) -> int:
    """BPF_PROG_LOAD; returns the program fd (the caller closes it).

    Loaded without the verifier's log, and only a refused program is loaded again with it, for
    the reason: the kernel refuses with ENOSPC a program whose log does not fit the buffer it was
    given, and the log of the default device rules (runc's list, 69 instructions) is over 4 KiB,
    so that every container with them failed to create on a cgroup v2 host. libbpf does the same.
    """
    code = b"".join(i.encode() for i in insns)
    try:
        return _sys.bpf_prog_load(BPF_PROG_TYPE_CGROUP_DEVICE, code, "Apache", "pyrunc_devices")
    except SyscallError:
        pass
    log = bytearray(1 << 20)  # (the verifier writes a few lines an instruction)
    try:
        return _sys.bpf_prog_load(BPF_PROG_TYPE_CGROUP_DEVICE, code, "Apache", "pyrunc_devices", log)
    except SyscallError as exc:
        # The verifier's reason is its last line but the statistics it ends with ("processed N insns").
        lines = log.split(b"\0", 1)[0].decode(errors="replace").strip().splitlines()
        reasons = [line for line in lines if line.strip() and not line.startswith("processed ")]
        what = "loading the device BPF program"
        if reasons:
            what = f"{what}: {os.strerror(exc.errno or 0)} (verifier: {reasons[-1].strip()})"
            raise CgroupError(what, field="linux.resources.devices") from exc
        raise _failed(what, exc) from exc


def query_programs(cgroup_fd: int) -> list[int]:
    """Ids of the device programs attached to a cgroup."""
    try:
        return _sys.bpf_prog_query(cgroup_fd, BPF_CGROUP_DEVICE, 64)
    except SyscallError as exc:
        raise _failed("querying the device BPF programs", exc) from exc


def _prog_fd_by_id(prog_id: int) -> int:
    try:
        return _sys.bpf_prog_get_fd_by_id(prog_id)
    except SyscallError as exc:
        raise _failed(f"opening BPF program {prog_id}", exc) from exc


def _attach(cgroup_fd: int, prog_fd: int, cmd: int) -> None:
    try:
        if cmd == BPF_PROG_ATTACH:
            _sys.bpf_prog_attach(cgroup_fd, prog_fd, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)
        else:
            _sys.bpf_prog_detach(cgroup_fd, prog_fd, BPF_CGROUP_DEVICE)
    except SyscallError as exc:
        what = "attaching the device BPF program" if cmd == BPF_PROG_ATTACH else "detaching a device program"
        raise _failed(what, exc) from exc


def set_device_program(cgroup_dir: str, rules: Sequence[LinuxDeviceCgroup]) -> None:
    """Compile ``rules``, attach the program to ``cgroup_dir`` and detach the ones it replaces."""
    insns = compile_device_program(rules)
    dfd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        old = query_programs(dfd)
        pfd = load_program(insns)
        try:
            _attach(dfd, pfd, BPF_PROG_ATTACH)
        finally:
            os.close(pfd)
        for prog_id in old:
            try:
                ofd = _prog_fd_by_id(prog_id)
            except CgroupError as e:
                if isinstance(e.__cause__, OSError) and e.__cause__.errno == errno_mod.ENOENT:
                    continue
                raise
            try:
                _attach(dfd, ofd, BPF_PROG_DETACH)
            finally:
                os.close(ofd)
    finally:
        os.close(dfd)
