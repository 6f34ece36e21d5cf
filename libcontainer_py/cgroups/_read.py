"""Reading a container's cgroups: the file helpers, the v1 and v2 stats, and the frozen check.

Everything here imports only `os` (and, to read stats, the Stats records of cgroups/stats.py):
`pyrunc events --stats` reads a container's stats through this module alone, without the drivers
(v1.py, v2.py: the manager ABC, the layout enum, mountinfo, cgroupspy), which V1Manager.stats and
V2Manager.stats delegate to. cgroupspy stays the v1 driver's writer; its three cpuacct reads are
done here the way its IntegerFile, IntegerListFile and DictFile parse them (a file it cannot read
or parse gives the default), so the numbers are the same.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not `typing` (~3 ms)
if TYPE_CHECKING:
    from libcontainer_py.cgroups.stats import BlkioEntry, MemoryEntry, Stats

# The Stats records (cgroups/stats.py, ~0.4 ms of class building) are imported by the stats readers
# only: create, run and exec import this module for the file helpers and read no stats.

# --- file helpers ------------------------------------------------------------------------------------


def read_file(path: str) -> str:
    """The stripped content of a cgroup file (OSError propagates). os.read, not open(): a text
    file object costs ~4x as much for these few bytes."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while block := os.read(fd, 65536):
            chunks.append(block)
    finally:
        os.close(fd)
    return b"".join(chunks).decode("ascii", errors="replace").strip()


def read_optional(path: str) -> str | None:
    """The content of a cgroup file, or None when it does not exist or cannot be read."""
    try:
        return read_file(path)
    except OSError:
        return None


def read_int(path: str, default: int = 0) -> int:
    """An integer file; ``max`` and a missing file give ``default``."""
    text = read_optional(path)
    if text is None or text in ("", "max"):
        return default
    try:
        return int(text.split()[0])
    except ValueError:
        return default


def read_keyed(path: str) -> dict[str, int]:
    """A flat-keyed file (``key value`` per line: memory.stat, cpu.stat, memory.events)."""
    out: dict[str, int] = {}
    text = read_optional(path)
    if not text:
        return out
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return out


# --- huge pages --------------------------------------------------------------------------------------


def kernel_page_size_name(size_bytes: int) -> str:
    """The name the hugetlb controller gives a page size (mm/hugetlb_cgroup.c mem_fmt)."""
    if size_bytes >= 1024**3:
        return f"{size_bytes // 1024**3}GB"
    if size_bytes >= 1024**2:
        return f"{size_bytes // 1024**2}MB"
    return f"{size_bytes // 1024}KB"


def host_hugepage_sizes(sysfs: str = "/sys/kernel/mm/hugepages") -> list[str]:
    """The host's huge page sizes as the hugetlb controller names them (["2MB", "1GB"])."""
    sizes: list[int] = []
    try:
        names = os.listdir(sysfs)
    except OSError:
        return []
    for n in names:  # "hugepages-2048kB" (by hand: stats read this, and `re` costs ~5 ms to import)
        kib = n.removeprefix("hugepages-").removesuffix("kB")
        if n.startswith("hugepages-") and n.endswith("kB") and kib.isascii() and kib.isdigit():
            sizes.append(int(kib) * 1024)
    return [kernel_page_size_name(s) for s in sorted(sizes)]


# --- stats -------------------------------------------------------------------------------------------


def stats(paths: dict[str, str]) -> Stats:
    """The stats of the cgroup that state.json's ``cgroup_paths`` names (what load_manager(paths)
    .stats() gives): ``{"": dir}`` is v2, ``{controller: dir}`` v1, ``{}`` no cgroup (zeros)."""
    if not paths:
        from libcontainer_py.cgroups.stats import Stats

        return Stats()
    if "" in paths:
        return stats_v2(paths[""])
    return stats_v1(paths)


def stats_v1(dirs: dict[str, str]) -> Stats:
    from libcontainer_py.cgroups.stats import HugetlbStats, Stats

    s = Stats()
    acct = dirs.get("cpuacct")
    if acct is not None and os.path.isdir(acct):
        usage = s.cpu.usage
        text = read_optional(os.path.join(acct, "cpuacct.usage"))
        try:
            total = int(text) if text is not None else 0
        except ValueError:
            total = 0
        usage.total = 0 if total == -1 else total  # cgroupspy's IntegerFile reads -1 as None
        text = read_optional(os.path.join(acct, "cpuacct.usage_percpu"))
        try:
            usage.percpu = [int(v) for v in text.split()] if text is not None else []
        except ValueError:
            usage.percpu = []
        # runc reports per-CPU user and system time too (cpuacct.usage_all: "cpu user system" rows)
        for line in (read_optional(os.path.join(acct, "cpuacct.usage_all")) or "").splitlines()[1:]:
            parts = line.split()
            if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                usage.percpu_user.append(int(parts[1]))
                usage.percpu_kernel.append(int(parts[2]))
        ticks = _acct_stat(read_optional(os.path.join(acct, "cpuacct.stat")))
        hz = os.sysconf("SC_CLK_TCK")
        usage.user = ticks.get("user", 0) * 1_000_000_000 // hz
        usage.kernel = ticks.get("system", 0) * 1_000_000_000 // hz
    if "cpu" in dirs:
        st = read_keyed(os.path.join(dirs["cpu"], "cpu.stat"))
        s.cpu.throttling.periods = st.get("nr_periods", 0)
        s.cpu.throttling.throttled_periods = st.get("nr_throttled", 0)
        s.cpu.throttling.throttled_time = st.get("throttled_time", 0)
    d = dirs.get("memory")
    if d is not None and os.path.isdir(d):
        raw = read_keyed(os.path.join(d, "memory.stat"))
        s.memory.raw = raw
        s.memory.cache = raw.get("total_cache", raw.get("cache", 0))
        for entry, prefix in ((s.memory.usage, "memory"), (s.memory.swap, "memory.memsw"),
                              (s.memory.kernel, "memory.kmem"), (s.memory.kernel_tcp, "memory.kmem.tcp")):
            _memory_entry(entry, d, prefix)
        s.oom_kill = read_keyed(os.path.join(d, "memory.oom_control")).get("oom_kill", 0)
    if "pids" in dirs:
        d = dirs["pids"]
        s.pids.current = read_int(os.path.join(d, "pids.current"))
        s.pids.limit = read_int(os.path.join(d, "pids.max"))
    if "blkio" in dirs:
        d = dirs["blkio"]
        s.blkio.io_service_bytes_recursive = _blkio_entries(
            os.path.join(d, "blkio.throttle.io_service_bytes_recursive"))
        s.blkio.io_serviced_recursive = _blkio_entries(os.path.join(d, "blkio.throttle.io_serviced_recursive"))
    if "hugetlb" in dirs:
        d = dirs["hugetlb"]
        for size in host_hugepage_sizes():
            s.hugetlb[size] = HugetlbStats(
                usage=read_int(os.path.join(d, f"hugetlb.{size}.usage_in_bytes")),
                max=read_int(os.path.join(d, f"hugetlb.{size}.max_usage_in_bytes")),
                failcnt=read_int(os.path.join(d, f"hugetlb.{size}.failcnt")),
            )
    return s


def _acct_stat(text: str | None) -> dict[str, int]:
    """cpuacct.stat ("user N" and "system N" lines), all or nothing, as cgroupspy's DictFile."""
    if text is None:
        return {}
    out: dict[str, int] = {}
    for line in text.split("\n"):
        parts = line.split()
        if len(parts) != 2:
            return {}
        try:
            out[parts[0]] = int(parts[1])
        except ValueError:
            return {}
    return out


def _memory_entry(entry: MemoryEntry, d: str, prefix: str) -> None:
    entry.usage = read_int(os.path.join(d, f"{prefix}.usage_in_bytes"))
    entry.max = read_int(os.path.join(d, f"{prefix}.max_usage_in_bytes"))
    entry.failcnt = read_int(os.path.join(d, f"{prefix}.failcnt"))
    entry.limit = read_int(os.path.join(d, f"{prefix}.limit_in_bytes"))


def _blkio_entries(path: str) -> list[BlkioEntry]:
    """``8:0 Read 4096`` lines (the ``Total`` line is dropped, as runc does)."""
    from libcontainer_py.cgroups.stats import BlkioEntry

    out: list[BlkioEntry] = []
    for line in (read_optional(path) or "").splitlines():
        parts = line.split()
        if len(parts) != 3 or ":" not in parts[0]:
            continue
        major, _, minor = parts[0].partition(":")
        try:
            out.append(BlkioEntry(int(major), int(minor), parts[1], int(parts[2])))
        except ValueError:
            continue
    return out


def v2_controllers(directory: str) -> set[str]:
    """Controllers usable in a v2 cgroup (its cgroup.controllers; before it exists, the parent's
    subtree_control, which is what it will get)."""
    text = read_optional(os.path.join(directory, "cgroup.controllers"))
    if text is None:
        text = read_optional(os.path.join(os.path.dirname(directory), "cgroup.subtree_control"))
    return set((text or "").split())


def stats_v2(directory: str) -> Stats:
    from libcontainer_py.cgroups.stats import UNLIMITED, BlkioEntry, HugetlbStats, Stats

    directory = directory.rstrip("/")

    def file(name: str) -> str:
        return os.path.join(directory, name)

    s = Stats()
    cpu = read_keyed(file("cpu.stat"))
    s.cpu.usage.total = cpu.get("usage_usec", 0) * 1000
    s.cpu.usage.user = cpu.get("user_usec", 0) * 1000
    s.cpu.usage.kernel = cpu.get("system_usec", 0) * 1000
    s.cpu.throttling.periods = cpu.get("nr_periods", 0)
    s.cpu.throttling.throttled_periods = cpu.get("nr_throttled", 0)
    s.cpu.throttling.throttled_time = cpu.get("throttled_usec", 0) * 1000
    if os.path.exists(file("memory.current")):
        raw = read_keyed(file("memory.stat"))
        s.memory.raw = raw
        s.memory.cache = raw.get("file", 0)
        events = read_keyed(file("memory.events"))
        u = s.memory.usage
        u.usage = read_int(file("memory.current"))
        u.limit = read_int(file("memory.max"), default=UNLIMITED)
        u.max = read_int(file("memory.peak"))
        u.failcnt = events.get("max", 0)
        sw = s.memory.swap
        # v1 reports memory+swap: add memory to swap-only v2 values, as runc does.
        sw.usage = read_int(file("memory.swap.current")) + u.usage
        swap_max = read_int(file("memory.swap.max"), default=UNLIMITED)
        sw.limit = UNLIMITED if swap_max == UNLIMITED or u.limit == UNLIMITED else swap_max + u.limit
        sw.failcnt = read_keyed(file("memory.swap.events")).get("max", 0)
        s.oom_kill = events.get("oom_kill", 0)
    s.pids.current = read_int(file("pids.current"))
    s.pids.limit = read_int(file("pids.max"))
    for line in (read_optional(file("io.stat")) or "").splitlines():
        parts = line.split()
        if not parts or ":" not in parts[0]:
            continue
        major, _, minor = parts[0].partition(":")
        kv = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        for key, op, target in (("rbytes", "Read", s.blkio.io_service_bytes_recursive),
                                ("wbytes", "Write", s.blkio.io_service_bytes_recursive),
                                ("rios", "Read", s.blkio.io_serviced_recursive),
                                ("wios", "Write", s.blkio.io_serviced_recursive)):
            if key in kv:
                target.append(BlkioEntry(int(major), int(minor), op, int(kv[key])))
    if "hugetlb" in v2_controllers(directory):
        for size in host_hugepage_sizes():
            if os.path.exists(file(f"hugetlb.{size}.current")):
                s.hugetlb[size] = HugetlbStats(
                    usage=read_int(file(f"hugetlb.{size}.current")),
                    failcnt=read_keyed(file(f"hugetlb.{size}.events")).get("max", 0),
                )
    return s
