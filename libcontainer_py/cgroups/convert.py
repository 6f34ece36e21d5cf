"""Pure conversions between OCI ``linux.resources`` values and cgroup file values (no I/O)."""

from __future__ import annotations

# Here before they were needed by the stats reader (_read.py, which must not import this module).
from libcontainer_py.cgroups._read import host_hugepage_sizes as host_hugepage_sizes
from libcontainer_py.cgroups._read import kernel_page_size_name as kernel_page_size_name
from libcontainer_py.cgroups.paths import CgroupError

# Type-only: importing the spec models (pydantic) costs ~75 ms, which `pyrunc events --stats`,
# `pause` and `delete` need not pay (they never build a LinuxResources).
TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from libcontainer_py.spec.resources import LinuxDeviceCgroup

#: cpu.shares bounds of the kernel (MIN_SHARES / MAX_SHARES); the kernel clamps silently, we refuse.
MIN_SHARES = 2
MAX_SHARES = 262144
#: CFS period bounds (kernel/sched/core.c: 1 ms .. 1 s) and the quota minimum (1 ms).
MIN_CFS_PERIOD = 1000
MAX_CFS_PERIOD = 1000000
MIN_CFS_QUOTA = 1000


def shares_to_weight(shares: int) -> int:
    """cpu.shares [2, 262144] -> cpu.weight [1, 10000] with crun's formula (runc >= 1.3 uses it too):
    a quadratic in log2(shares) through the three points (2, 1), (1024, 100), (262144, 10000), so the
    default share 1024 maps to the default weight 100 (the old linear formula gave 39)."""
    if shares == 0:
        return 0
    if shares <= MIN_SHARES:
        return 1
    if shares >= MAX_SHARES:
        return 10000
    import math  # here: only a cpu.shares on a v2 host needs it

    lg = math.log2(shares)
    exponent = (lg * lg + 125 * lg) / 612.0 - 7.0 / 34.0
    return math.ceil(10**exponent)


def blkio_weight_to_io_weight(weight: int) -> int:
    """blkio.weight [10, 1000] -> io.weight [1, 10000], linearly (runc's ConvertBlkIOToIOWeightValue)."""
    if weight == 0:
        return 0
    return 1 + (weight - 10) * 9999 // 990


def swap_to_v2(swap: int | None, limit: int | None) -> int | None:
    """OCI ``memory.swap`` is memory+swap (v1 memsw); v2 ``memory.swap.max`` is swap alone.

    Returns None (leave the file alone), -1 (max) or the swap-only byte count; raises ValueError with
    the reason (runc's ConvertMemorySwapToCgroupV2Value)."""
    swap = swap or 0
    mem = limit or 0
    if mem == -1 and swap == 0:
        return -1  # unlimited memory and swap not given: both unlimited, as on v1
    if swap == 0:
        return None
    if swap == -1:
        return -1
    if mem in (0, -1):
        raise ValueError("a swap limit needs a memory limit (OCI swap is memory+swap)")
    if swap < mem:
        raise ValueError(f"memory+swap {swap} is below the memory limit {mem}")
    return swap - mem


def v2_limit(value: int) -> str:
    """-1 -> ``max``; a count as is."""
    return "max" if value == -1 else str(value)


def check_limit(value: int, field: str, *, allow_zero: bool = True) -> None:
    """A limit must be -1 (unlimited) or >= 0."""
    if value < -1 or (value == 0 and not allow_zero):
        raise CgroupError(f"{value} is invalid: use -1 for unlimited or a positive number", field=field)


# --- range checks both drivers make (the kernel would clamp or refuse without naming the field) -------


def check_shares(shares: int, field: str) -> None:
    """cpu.shares inside the kernel's range (v2 converts it to cpu.weight after the check)."""
    if not MIN_SHARES <= shares <= MAX_SHARES:
        raise CgroupError(f"{shares} is outside the kernel's range {MIN_SHARES}..{MAX_SHARES}", field=field)


def check_cfs(quota: int | None, period: int | None, burst: int | None, f: str) -> None:
    """The kernel's CFS bounds, checked up front so the error names the field and the range."""
    if period and not MIN_CFS_PERIOD <= period <= MAX_CFS_PERIOD:
        raise CgroupError(
            f"{period} is outside the kernel's range {MIN_CFS_PERIOD}..{MAX_CFS_PERIOD} (microseconds)",
            field=f"{f}.period",
        )
    if quota is not None and quota != 0 and quota != -1 and quota < MIN_CFS_QUOTA:
        raise CgroupError(f"{quota} is invalid: -1 (unlimited) or at least {MIN_CFS_QUOTA} microseconds",
                          field=f"{f}.quota")
    if burst and quota is not None and quota > 0 and burst > quota:
        raise CgroupError(f"{burst} is larger than quota {quota}", field=f"{f}.burst")


def check_idle(idle: int, field: str) -> None:
    """cpu.idle is a flag: 0 (normal) or 1 (SCHED_IDLE)."""
    if idle not in (0, 1):
        raise CgroupError(f"{idle} is invalid: 0 (normal) or 1 (SCHED_IDLE)", field=field)


def check_blkio_weight(weight: int, field: str) -> None:
    """blockIO.weight on blkio's scale, 10..1000 (v2 converts it to io.weight's after the check)."""
    if not 10 <= weight <= 1000:
        raise CgroupError(f"{weight} is outside 10..1000", field=field)


# --- cpusets ------------------------------------------------------------------------------------------

_CPUSET = r"^\s*\d+(-\d+)?(\s*,\s*\d+(-\d+)?)*\s*$"


def parse_cpuset(text: str) -> set[int]:
    """``"0-3,7"`` -> {0, 1, 2, 3, 7}; raises ValueError on a malformed list or a reversed range."""
    import re  # here: only a config with cpusets needs it (~5 ms to import)

    text = text.strip()
    if not text:
        return set()
    if not re.match(_CPUSET, text):
        raise ValueError(f"{text!r} is not a list like 0-3,7")
    out: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        a = int(lo)
        b = int(hi) if hi else a
        if b < a:
            raise ValueError(f"range {part.strip()!r} is reversed")
        out.update(range(a, b + 1))
    return out


def format_cpuset(cpus: set[int]) -> str:
    """{0, 1, 2, 3, 7} -> ``"0-3,7"``."""
    parts: list[str] = []
    run: list[int] = []
    for c in sorted(cpus):
        if run and c == run[-1] + 1:
            run.append(c)
            continue
        if run:
            parts.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [c]
    if run:
        parts.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ",".join(parts)


def check_cpuset(value: str, host: str, field: str, what: str, host_file: str) -> set[int]:
    """Parse ``value`` and require it inside ``host`` (the parent's cpuset); the error names the file."""
    try:
        wanted = parse_cpuset(value)
    except ValueError as e:
        raise CgroupError(f"{value!r} is malformed: {e}", field=field) from None
    if not wanted:
        raise CgroupError(f"{value!r} is empty: a cgroup needs at least one {what}", field=field)
    try:
        have = parse_cpuset(host)
    except ValueError:
        return wanted
    outside = wanted - have
    if outside:
        raise CgroupError(
            f"{value!r} is outside this host's {what}s {host or '(none)'} ({host_file}); "
            f"{format_cpuset(outside)} not available",
            field=field,
        )
    return wanted


# --- huge pages ---------------------------------------------------------------------------------------

_PAGE_SIZE = r"^([1-9][0-9]*)([KMG])B$"


def page_size_bytes(page_size: str) -> int:
    """``"2MB"`` -> 2097152 (base 1024, as the spec says)."""
    import re  # here: only a config with hugepage limits needs it (~5 ms to import)

    m = re.match(_PAGE_SIZE, page_size)
    if not m:
        raise ValueError(f"{page_size!r} is not a size like 2MB")
    return int(m.group(1)) * {"K": 1024, "M": 1024**2, "G": 1024**3}[m.group(2)]


# --- devices ------------------------------------------------------------------------------------------


def device_rule_v1(rule: LinuxDeviceCgroup, field: str) -> str:
    """One ``devices[]`` entry as a v1 devices.allow/deny line: ``c 1:3 rwm``, ``a *:* rwm``."""
    dev_type = rule.type or "a"
    if dev_type not in ("a", "b", "c"):
        raise CgroupError(f"type {dev_type!r} is invalid: use a, b or c", field=f"{field}.type")
    access = rule.access if rule.access is not None and rule.access != "" else "rwm"
    if not access or any(ch not in "rwm" for ch in access) or len(set(access)) != len(access):
        raise CgroupError(f"access {access!r} is invalid: a combination of r, w and m", field=f"{field}.access")
    major = "*" if rule.major is None or rule.major == -1 else str(rule.major)
    minor = "*" if rule.minor is None or rule.minor == -1 else str(rule.minor)
    for name, v in (("major", rule.major), ("minor", rule.minor)):
        if v is not None and v < -1:
            raise CgroupError(f"{v} is invalid: use -1 (or leave it out) for all", field=f"{field}.{name}")
    return f"{dev_type} {major}:{minor} {access}"
