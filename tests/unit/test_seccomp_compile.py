"""linux.seccomp -> libseccomp rules, without root: validation errors, the action/operator/arch tables,
runc's rule splitting, unknown syscall names, and the exported program (compiling and exporting need
no privilege; only loading does)."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import pytest

from libcontainer_py.errors import ConfigError
from libcontainer_py.seccomp import compile as cmod
from libcontainer_py.seccomp import validate_seccomp
from libcontainer_py.seccomp.compile import ACTIONS, ARCHES, OPERATORS, compile_filter, filter_pfc, uses_notify
from libcontainer_py.seccomp.load import FILTER_FLAGS, CompiledFilter
from libcontainer_py.spec import LinuxSeccomp, SeccompAction, SeccompArch, SeccompFlag, SeccompOperator

ALLOW: dict[str, Any] = {"defaultAction": "SCMP_ACT_ALLOW"}


def rule(action: str, *names: str, **extra: Any) -> dict[str, Any]:
    return {"names": list(names), "action": action, **extra}


# --- the tables cover the spec ------------------------------------------------------------------


def test_every_spec_action_operator_arch_and_flag_is_mapped() -> None:
    assert {a.value for a in SeccompAction} <= set(ACTIONS)
    assert {o.value for o in SeccompOperator} <= set(OPERATORS)
    assert {a.value for a in SeccompArch} <= set(ARCHES)
    assert {f.value for f in SeccompFlag} == set(FILTER_FLAGS)


def test_action_values_are_the_kernels() -> None:
    assert ACTIONS["SCMP_ACT_KILL"][0] == ACTIONS["SCMP_ACT_KILL_THREAD"][0] == 0
    assert ACTIONS["SCMP_ACT_KILL_PROCESS"][0] == 0x80000000
    assert ACTIONS["SCMP_ACT_ALLOW"][0] == 0x7FFF0000
    assert ACTIONS["SCMP_ACT_NOTIFY"][0] == 0x7FC00000
    assert [name for name, (_, takes) in ACTIONS.items() if takes] == ["SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"]
    assert ARCHES["SCMP_ARCH_X86_64"] == 0xC000003E  # AUDIT_ARCH_X86_64
    assert ARCHES["SCMP_ARCH_AARCH64"] == 0xC00000B7


# --- validation: one line naming the field -------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "field", "words"),
    [
        ({"defaultAction": "SCMP_ACT_NOPE"}, "linux.seccomp.defaultAction", "unknown seccomp action"),
        ({**ALLOW, "defaultErrnoRet": 5}, "linux.seccomp.defaultErrnoRet", "not supported with SCMP_ACT_ALLOW"),
        ({"defaultAction": "SCMP_ACT_NOTIFY"}, "linux.seccomp.defaultAction", "cannot be the default"),
        ({**ALLOW, "architectures": ["SCMP_ARCH_VAX"]}, "linux.seccomp.architectures[0]", "unknown architecture"),
        ({**ALLOW, "flags": ["SECCOMP_FILTER_FLAG_X"]}, "linux.seccomp.flags[0]", "unknown seccomp flag"),
        ({**ALLOW, "listenerMetadata": "m"}, "linux.seccomp.listenerMetadata", "without listenerPath"),
        ({**ALLOW, "syscalls": [rule("SCMP_ACT_JUMP", "read")]}, "linux.seccomp.syscalls[0].action", "unknown"),
        (
            {**ALLOW, "syscalls": [rule("SCMP_ACT_KILL", "read", errnoRet=1)]},
            "linux.seccomp.syscalls[0].errnoRet",
            "not supported with SCMP_ACT_KILL",
        ),
        (
            {**ALLOW, "syscalls": [rule("SCMP_ACT_ERRNO", "read", errnoRet=70000)]},
            "linux.seccomp.syscalls[0].errnoRet",
            "between 0 and 65535",
        ),
        ({**ALLOW, "syscalls": [rule("SCMP_ACT_KILL")]}, "linux.seccomp.syscalls[0].names", "at least one"),
        (
            {
                **ALLOW,
                "syscalls": [rule("SCMP_ACT_KILL", "read", args=[{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}])],
            },
            "linux.seccomp.syscalls[0].args[0].index",
            "0..5",
        ),
        (
            {
                **ALLOW,
                "syscalls": [rule("SCMP_ACT_KILL", "read", args=[{"index": 0, "value": 1, "op": "SCMP_CMP_XX"}])],
            },
            "linux.seccomp.syscalls[0].args[0].op",
            "unknown operator",
        ),
        (
            {
                **ALLOW,
                "syscalls": [rule("SCMP_ACT_KILL", "read", args=[{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}])],
            },
            "linux.seccomp.syscalls[0].args[0].value",
            "unsigned 64-bit",
        ),
        ({**ALLOW, "syscalls": [rule("SCMP_ACT_NOTIFY", "mkdir")]}, "linux.seccomp.listenerPath", "is required"),
        (
            {**ALLOW, "listenerPath": "/x", "syscalls": [rule("SCMP_ACT_NOTIFY", "write")]},
            "linux.seccomp.syscalls[0].names",
            "write syscall",
        ),
    ],
)
def test_bad_input_is_one_line_naming_the_field(profile: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_seccomp(profile)
    message = str(info.value)
    assert message.startswith(field + ": "), message
    assert words in message
    assert "\n" not in message
    with pytest.raises(ConfigError):  # compile validates first, touching nothing
        compile_filter(profile)


def test_validate_accepts_the_model_and_returns_warnings() -> None:
    model = LinuxSeccomp.model_validate(
        {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": errno.ENOSYS, "listenerPath": "/run/agent.sock"}
    )
    assert validate_seccomp(model) == ["linux.seccomp.listenerPath: ignored, no rule uses SCMP_ACT_NOTIFY"]
    assert validate_seccomp({**ALLOW, "syscalls": [rule("SCMP_ACT_TRACE", "read", errnoRet=3)]}) == []


def test_uses_notify() -> None:
    assert not uses_notify(ALLOW)
    assert uses_notify({**ALLOW, "syscalls": [rule("SCMP_ACT_NOTIFY", "mkdir")]})


# --- translation (a recording stand-in for pyseccomp) --------------------------------------------


class FakeFilter:
    def __init__(self, default: int) -> None:
        self.default = default
        self.arches: list[int] = []
        self.rules: list[tuple[int, int, tuple[tuple[int, int, int, int], ...]]] = []

    def set_attr(self, attr: int, value: int) -> None:
        pass

    def add_arch(self, arch: int) -> None:
        self.arches.append(arch)

    def add_rule(self, action: int, nr: int, *args: Any) -> None:
        self.rules.append((action, nr, tuple((a.i, a.op, a.a, a.b) for a in args)))


class FakeArg:
    def __init__(self, i: int, op: int, a: int, b: int = 0) -> None:
        self.i, self.op, self.a, self.b = i, op, a, b


class FakeSeccomp:
    SyscallFilter = FakeFilter
    Arg = FakeArg

    class Attr:
        CTL_OPTIMIZE = 8

    class Arch:
        NATIVE = 0

    NUMBERS = {"read": 0, "write": 1, "personality": 135, "clone": 56, "socket": 41}

    @classmethod
    def resolve_syscall(cls, arch: int, name: str) -> int:
        return cls.NUMBERS.get(name, -1)


def build(profile: dict[str, Any]) -> tuple[FakeFilter, list[str]]:
    warnings: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cmod, "_import_pyseccomp", lambda: FakeSeccomp)
        filt = cmod._build(profile, "linux.seccomp", warnings)
    assert isinstance(filt, FakeFilter)
    return filt, warnings


@pytest.mark.parametrize(
    ("action", "errno_ret", "value"),
    [
        ("SCMP_ACT_KILL", None, 0x00000000),
        ("SCMP_ACT_KILL_THREAD", None, 0x00000000),
        ("SCMP_ACT_KILL_PROCESS", None, 0x80000000),
        ("SCMP_ACT_TRAP", None, 0x00030000),
        ("SCMP_ACT_ERRNO", None, 0x00050000 | errno.EPERM),
        ("SCMP_ACT_ERRNO", errno.EACCES, 0x00050000 | errno.EACCES),
        ("SCMP_ACT_TRACE", None, 0x7FF00000 | errno.EPERM),
        ("SCMP_ACT_TRACE", 7, 0x7FF00007),
        ("SCMP_ACT_LOG", None, 0x7FFC0000),
        ("SCMP_ACT_NOTIFY", None, 0x7FC00000),
    ],
)
def test_every_action(action: str, errno_ret: int | None, value: int) -> None:
    extra = {} if errno_ret is None else {"errnoRet": errno_ret}
    profile = {**ALLOW, "listenerPath": "/a", "syscalls": [rule(action, "read", **extra)]}
    filt, _ = build(profile)
    assert filt.default == 0x7FFF0000
    assert filt.rules == [(value, 0, ())]


@pytest.mark.parametrize(("op", "number"), list(OPERATORS.items()))
def test_every_operator(op: str, number: int) -> None:
    arg = {"index": 2, "value": 0xFF, "valueTwo": 4, "op": op}
    filt, _ = build({**ALLOW, "syscalls": [rule("SCMP_ACT_ERRNO", "socket", args=[arg])]})
    assert filt.rules == [(0x50001, 41, ((2, number, 0xFF, 4),))]


def test_args_on_different_indexes_are_anded_in_one_rule() -> None:
    args = [{"index": 0, "value": 16, "op": "SCMP_CMP_EQ"}, {"index": 2, "value": 9, "op": "SCMP_CMP_EQ"}]
    filt, _ = build({**ALLOW, "syscalls": [rule("SCMP_ACT_ERRNO", "socket", args=args)]})
    assert filt.rules == [(0x50001, 41, ((0, 4, 16, 0), (2, 4, 9, 0)))]


def test_args_on_the_same_index_become_separate_rules_as_runc() -> None:
    args = [
        {"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
        {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"},
        {"index": 1, "value": 1, "op": "SCMP_CMP_NE"},
    ]
    filt, _ = build({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [rule("SCMP_ACT_ALLOW", "personality", args=args)]})
    # runc: once any index repeats, EVERY condition gets a rule of its own.
    assert filt.rules == [
        (0x7FFF0000, 135, ((0, 4, 0, 0),)),
        (0x7FFF0000, 135, ((0, 4, 8, 0),)),
        (0x7FFF0000, 135, ((1, 1, 1, 0),)),
    ]


def test_unknown_syscall_is_skipped_with_one_warning() -> None:
    filt, warnings = build({**ALLOW, "syscalls": [rule("SCMP_ACT_KILL", "read", "no_such_call", "also_not", "write")]})
    assert [r[1] for r in filt.rules] == [0, 1]
    assert warnings == [
        "linux.seccomp.syscalls: 2 syscall name(s) unknown to libseccomp ignored: no_such_call, also_not"
    ]


def test_rule_with_the_default_action_is_skipped() -> None:
    filt, _ = build({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [rule("SCMP_ACT_ERRNO", "read")]})
    assert filt.rules == []
    filt, _ = build(
        {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [rule("SCMP_ACT_ERRNO", "read", errnoRet=errno.ENOSYS)]}
    )
    assert filt.rules == [(0x50000 | errno.ENOSYS, 0, ())]  # a different errno is a different action


def test_architectures_become_audit_arch_tokens() -> None:
    filt, _ = build({**ALLOW, "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]})
    assert filt.arches == [0xC000003E, 0x40000003, 0x4000003E]


# --- real libseccomp ---------------------------------------------------------------------------


def test_compiled_program_and_pfc() -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [
            rule("SCMP_ACT_ALLOW", "read", "write"),
            rule("SCMP_ACT_KILL_PROCESS", "sethostname"),
            rule(
                "SCMP_ACT_ALLOW",
                "clone",
                args=[{"index": 0, "value": 0x7E020000, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
            ),
        ],
    }
    compiled = compile_filter(profile)
    assert isinstance(compiled, CompiledFilter)
    assert compiled.instructions > 5 and len(compiled.program) == 8 * compiled.instructions
    assert compiled.flags == 0 and not compiled.notify
    pfc = filter_pfc(profile)
    assert "action KILL_PROCESS" in pfc and "action ERRNO(1)" in pfc and '"clone"' in pfc
    assert CompiledFilter.from_dict(compiled.to_dict()) == compiled


def test_notify_and_flags_become_seccomp2_flags() -> None:
    profile = {
        **ALLOW,
        "listenerPath": "/run/agent.sock",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "syscalls": [rule("SCMP_ACT_NOTIFY", "mkdir")],
    }
    compiled = compile_filter(profile)
    # TSYNC | LOG | NEW_LISTENER | TSYNC_ESRCH (needed with TSYNC) | WAIT_KILLABLE_RECV
    assert compiled.flags == 1 | 2 | 8 | 16 | 32
    assert compiled.notify and compiled.listener_path == "/run/agent.sock"


def test_wait_killable_without_notify_is_dropped_with_a_warning() -> None:
    seen: list[str] = []
    compiled = compile_filter({**ALLOW, "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}, seen.append)
    assert compiled.flags == 0
    assert seen == [
        "linux.seccomp.flags[0]: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV ignored, no rule uses SCMP_ACT_NOTIFY"
    ]


def test_unsupported_architecture_names_the_field() -> None:
    # libseccomp 2.5 knows no LoongArch/M68K/SuperH; 2.6 does. Either way: no crash, a named error.
    try:
        compile_filter({**ALLOW, "architectures": ["SCMP_ARCH_M68K"]})
    except ConfigError as exc:
        assert str(exc).startswith("linux.seccomp.architectures[0]: architecture SCMP_ARCH_M68K is not supported")


def test_disk_cache_roundtrip(tmp_path: Path) -> None:
    profile = {**ALLOW, "syscalls": [rule("SCMP_ACT_ERRNO", "read", "nosuchcall")]}
    first: list[str] = []
    a = compile_filter(profile, first.append, cache_dir=tmp_path)
    cmod._compiled.clear()
    second: list[str] = []
    b = compile_filter(profile, second.append, cache_dir=tmp_path)
    assert a == b and first == second and len(first) == 1
    assert len(list(tmp_path.glob("*.json"))) == 1
    for f in tmp_path.glob("*.json"):
        f.write_text("garbage")
    cmod._compiled.clear()
    assert compile_filter(profile, lambda m: None, cache_dir=tmp_path) == a  # damaged: recompiled
