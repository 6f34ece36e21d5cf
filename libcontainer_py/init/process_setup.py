"""Process attributes the init applies to itself before execve (config.md "process").

Each function names the config field in its error, and where a host limit is the cause, says the
value asked and the limit (runc says only "error setting rlimit type 7").
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # (no stub) not signal: its enums cost ~1 ms
import _stat as stat  # not `stat` (a module of os's import): the same functions, from C
import posix

from libcontainer_py import _sys, capabilities, procfs  # at import: after pivot_root nothing can be imported
from libcontainer_py._paths import exists, isdir, join
from libcontainer_py.errors import ConfigError
from libcontainer_py.init.fds import close_fds_from, close_inherited_fds
from libcontainer_py.init.pidfork import CATCHABLE
from libcontainer_py.init.stage import Stage

__all__ = ["Stage", "close_fds_from", "close_inherited_fds"]  # (where they were: exec uses them from here)

TYPE_CHECKING = False  # not `typing`: its import costs ~3 ms of every pyrunc call
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PR_SET_NO_NEW_PRIVS = 38

PERSONALITY_DOMAINS = {"LINUX": 0x0000, "LINUX32": 0x0008}


def apply_rlimits(rlimits: Sequence[Any] | None, pid: int = 0, *, nproc: bool | None = None) -> None:
    """Set process.rlimits on ``pid`` (0: this process). Where: always from a process in the
    host's user namespace, never from inside the container's (runc: "we lose permissions to raise
    the limits once we enter a user-namespace"): raising a hard limit needs CAP_SYS_RESOURCE in
    the host's user namespace, which no process in a user namespace has. So create's parent sets
    them on the init (pid) when it reports "ready" (_create.py, as runc at procReady), and exec's
    children set them on themselves before they join any namespace (setns.py, vspawn.py).
    nproc: None sets every one; False all but RLIMIT_NPROC, True only that one (exec's two stages:
    setns.py exec_stage1)."""
    for i, rl in enumerate(rlimits or ()):
        if nproc is not None and (rl.type == "RLIMIT_NPROC") != nproc:
            continue
        number = rlimit_checked(rl, i)
        try:
            _sys.prlimit(number, (rl.soft, rl.hard), pid)
        except OSError as exc:
            raise rlimit_error(rl, i, exc.errno or 0) from None


def rlimit_checked(rl: Any, i: int) -> int:
    """The rlimit number of process.rlimits[i], its values checked (ConfigError otherwise)."""
    field = f"process.rlimits[{i}]"
    number = _sys.rlimit_number(rl.type)
    if number is None:
        raise ConfigError(f"unknown rlimit type {rl.type!r}", path=f"{field}.type")
    for value in (rl.soft, rl.hard):
        if type(value) is not int or not 0 <= value <= _sys.RLIM_INFINITY:  # (validation lets none through)
            raise ConfigError(
                f"cannot set {rl.type} to soft {rl.soft}, hard {rl.hard}: each must be a whole number from 0 to "
                f"{_sys.RLIM_INFINITY} (unlimited)",
                path=field,
            )
    return number


def rlimit_error(rl: Any, i: int, err: int) -> ConfigError:
    """Why setting process.rlimits[i] failed with ``err``: the value asked and the host's limit."""
    _cur_soft, cur_hard = _sys.prlimit(_sys.rlimit_number(rl.type) or 0)
    limit = "unlimited" if cur_hard == _sys.RLIM_INFINITY else str(cur_hard)
    nr_open = _nr_open() if rl.type == "RLIMIT_NOFILE" else None
    if rl.soft > rl.hard:
        why = "soft is above hard"
    elif nr_open is not None and max(rl.soft, rl.hard) > nr_open:
        # Even root (CAP_SYS_RESOURCE) cannot go past fs.nr_open: naming the current hard
        # limit and the capability here would send the user the wrong way.
        why = f"the kernel's limit fs.nr_open is {nr_open}"
    else:
        why = f"the host's hard limit is {limit} and raising it needs CAP_SYS_RESOURCE"
    msg = f"cannot set {rl.type} to soft {rl.soft}, hard {rl.hard}: {why} ({posix.strerror(err)})"
    return ConfigError(msg, path=f"process.rlimits[{i}]")


def _nr_open() -> int | None:
    try:
        return int(procfs.read_text("/proc/sys/fs/nr_open"))
    except (OSError, ValueError):
        return None


def write_oom_score_adj(value: int | None) -> None:
    """process.oomScoreAdj, written by the runtime's first child before it enters any namespace
    (child.py stage1 and single_init, setns.py, vspawn.py), as runc's nsexec does: as the host's
    root, through the host's /proc. Inside a user namespace the write failed (a non-dumpable
    process's /proc files belong to the host's root: EACCES, even for a value above the current);
    and a value below the current one needs CAP_SYS_RESOURCE in the host's user namespace. The
    init and the process inherit it (fork copies it, execve keeps it)."""
    if value is None:
        return
    # CVE-2025-52881: through a verified procfs (libcontainer_py/procfs.py), never a symlink or an overmount.
    try:
        procfs.write_proc_file("self/oom_score_adj", str(value))
    except OSError as exc:
        raise oom_score_adj_error(value, exc.errno or 0, exc.strerror) from None


def write_oom_score_adj_first(value: int | None, stage: Stage) -> None:
    """write_oom_score_adj as the first child's step, reported as stage "process" if it fails."""
    if value is not None:
        name, stage.name = stage.name, "process"
        write_oom_score_adj(value)
        stage.name = name


def apply_rlimits_first(rlimits: Sequence[Any] | None, stage: Stage, *, nproc: bool | None = None) -> None:
    """apply_rlimits as exec's child's step before it joins the container's user namespace,
    reported as stage "process" if it fails (where finalize_process set them before)."""
    if rlimits:
        name, stage.name = stage.name, "process"
        apply_rlimits(rlimits, nproc=nproc)
        stage.name = name


def oom_score_adj_error(value: int, err: int, why: str | None = None) -> ConfigError:
    return ConfigError(f"cannot set oom_score_adj to {value}: {why or posix.strerror(err)}", path="process.oomScoreAdj")


def set_personality(personality: Any) -> None:
    if personality is None or personality.domain is None:
        return
    domain = PERSONALITY_DOMAINS.get(str(getattr(personality.domain, "value", personality.domain)))
    if domain is None:
        raise ConfigError(f"unsupported personality domain {personality.domain!r}", path="linux.personality.domain")
    _sys.personality(domain)


def set_no_new_privs() -> None:
    _sys.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def setgroups_denied() -> bool:
    try:
        return procfs.read_text("/proc/self/setgroups").strip() == "deny"
    except OSError:
        return False


def switch_user(user: Any) -> None:
    """setgroups, setresgid, setresuid (in this order: after setuid we could no longer setgid)."""
    uid, gid, groups = user_ids(user)
    if not setgroups_denied():
        try:
            posix.setgroups(groups)
        except OSError as exc:
            raise user_error("groups", groups, exc.errno or 0) from None
    try:
        posix.setresgid(gid, gid, gid)
    except OSError as exc:
        raise user_error("gid", gid, exc.errno or 0) from None
    try:
        posix.setresuid(uid, uid, uid)
    except OSError as exc:
        raise user_error("uid", uid, exc.errno or 0) from None
    posix.umask(umask_of(user))


def user_ids(user: Any) -> tuple[int, int, list[int]]:
    """(uid, gid, additional gids) of process.user (None: root)."""
    uid = user.uid if user and user.uid is not None else 0
    gid = user.gid if user and user.gid is not None else 0
    return uid, gid, list(user.additional_gids or []) if user else []


def umask_of(user: Any) -> int:
    return user.umask if user and user.umask is not None else 0o022


def user_error(what: str, value: Any, err: int) -> ConfigError:
    """Why switching to process.user's ``what`` ("groups", "gid", "uid") failed with ``err``."""
    why = posix.strerror(err)
    if what == "groups":
        return ConfigError(f"cannot set additional groups {value}: {why}", path="process.user.additionalGids")
    mappings = "linux.gidMappings" if what == "gid" else "linux.uidMappings"
    msg = f"cannot switch to {what} {value}: {why} (is it mapped in {mappings}?)"
    return ConfigError(msg, path=f"process.user.{what}")


def env_dict(env: Sequence[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in env or ():
        key, _, value = item.partition("=")
        out[key] = value
    return out


def home_of(uid: int, passwd: str = "/etc/passwd") -> str:
    """The home directory of `uid` in the container's /etc/passwd, "/" when it has none: runc sets
    HOME from it when process.env has no HOME (shells and programs rely on it). Parsed here rather
    than with the pwd module, which would consult the host's NSS configuration and libraries."""
    try:
        # Not blocking: the image may make it a FIFO, which no one writes to.
        fd = posix.open(passwd, posix.O_RDONLY | posix.O_NONBLOCK | posix.O_NOCTTY | posix.O_CLOEXEC)
    except OSError:
        return "/"
    return _home_in_file(fd, uid)


def _home_in_file(fd: int, uid: int) -> str:
    """home_in of the opened /etc/passwd ``fd`` (closed here), "/" when it cannot be read."""
    try:
        text = passwd_text(fd)
    except OSError:
        return "/"
    finally:
        posix.close(fd)
    return home_in(text, uid)


def home_under(root: str, uid: int) -> str:
    """:func:`home_of` for a root filesystem seen from outside it (a rootfs path, or a running
    container's /proc/PID/root): its /etc/passwd opened with openat2(RESOLVE_IN_ROOT), so that a
    symlink of the image resolves inside it, never to the host's."""
    from libcontainer_py._sys import consts

    try:
        root_fd = posix.open(root, posix.O_PATH | posix.O_DIRECTORY | posix.O_CLOEXEC)
    except OSError:
        return "/"
    try:
        flags = posix.O_RDONLY | posix.O_NONBLOCK | posix.O_NOCTTY | posix.O_CLOEXEC
        fd = _sys.openat2(root_fd, "etc/passwd", flags, 0, consts.RESOLVE_IN_ROOT)
    except OSError:
        return "/"
    finally:
        posix.close(root_fd)
    return _home_in_file(fd, uid)


def passwd_text(fd: int) -> str:
    """The text of an opened /etc/passwd; "" unless it is a regular file."""
    if not stat.S_ISREG(posix.fstat(fd).st_mode):
        return ""
    chunks = []
    while block := posix.read(fd, 65536):
        chunks.append(block)
    return b"".join(chunks).decode("utf-8", "replace")


def home_in(passwd: str, uid: int) -> str:
    """The home directory of ``uid`` in the text of an /etc/passwd, "/" when it has none."""
    for line in passwd.split("\n"):
        fields = line.split(":")
        if len(fields) >= 6 and fields[2] == str(uid) and fields[5]:
            return fields[5]
    return "/"


def look_path(arg0: str, env: dict[str, str]) -> str:
    """Find the program as execvp would, with the container's PATH (not the runtime's)."""
    if "/" in arg0:
        if not exists(arg0):
            raise program_error(arg0, "no such file or directory")
        if isdir(arg0) or not posix.access(arg0, posix.X_OK):
            raise program_error(arg0, "permission denied")
        return arg0
    found = _which(arg0, env.get("PATH", DEFAULT_PATH))
    if found is None:
        raise program_error(arg0, "executable file not found in $PATH")
    return found


def program_error(arg0: str, why: str) -> ConfigError:
    return ConfigError(f'exec: "{arg0}": {why}', path="process.args[0]")


def path_candidates(name: str, path: str) -> list[str]:
    """Where _which looks for ``name``, in order: each directory of ``path`` once (an empty entry is
    the cwd)."""
    return [join(d, name) for d in dict.fromkeys(d or "." for d in path.split(":"))]


def _which(name: str, path: str) -> str | None:
    """shutil.which(name, path=path) on Linux (an empty PATH entry is the cwd), without importing
    shutil (and the compression modules it pulls in: ~2 ms of every pyrunc create)."""
    for candidate in path_candidates(name, path):
        try:
            mode = posix.stat(candidate).st_mode
        except (OSError, ValueError):
            continue
        if not stat.S_ISDIR(mode) and posix.access(candidate, posix.X_OK):
            return candidate
    return None


def check_cwd(cwd: str) -> None:
    """After chdir(process.cwd): the directory must be inside the container's root. A cwd reached
    through a leaked fd (/proc/self/fd/N) is outside it, and getcwd(3) then fails with ENOENT
    ("(unreachable)" from the kernel): runc's second defence against CVE-2024-21626."""
    try:
        where = posix.getcwd()
    except OSError:
        where = ""
    if not where.startswith("/"):
        raise cwd_error(cwd, "it is outside the container's root filesystem")


def cwd_error(cwd: str, why: str) -> ConfigError:
    return ConfigError(f"cannot change to {cwd}: {why}", path="process.cwd")


PR_SET_KEEPCAPS = 8


def finalize_process(
    proc: Any, stage: Stage, *, personality: Any = None, seccomp_load: Callable[[], None] | None = None
) -> tuple[str, list[str], dict[str, str]]:
    """The last steps before execve, shared by the container's init and by exec (runc's
    finalizeNamespace): personality, no_new_privs, the bounding set, the
    user (with keepcaps across the uid switch), the capability sets, cwd, and the program looked
    up in the container's PATH. Returns (path, argv, env) for execve.

    seccomp_load installs the filter as late as possible, so that our own setup is not filtered:
    with no_new_privs, at the very end (loading then needs no privilege); without, before the
    capabilities are dropped, because loading a filter needs CAP_SYS_ADMIN then (as runc).

    The rlimits were set before, from outside the container's user namespace (apply_rlimits)."""
    stage.name = "process"
    set_personality(personality)
    if proc.no_new_privileges:
        set_no_new_privs()
    elif seccomp_load is not None:
        stage.name = "seccomp"
        seccomp_load()
    stage.name = "capabilities"
    caps = capabilities.CapSets.from_spec(proc.capabilities, lambda _msg: None)  # warned at create
    capabilities.drop_bounding(caps)
    _sys.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0)
    stage.name = "user"
    switch_user(proc.user)
    _sys.prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0)
    stage.name = "capabilities"
    capabilities.apply(caps)
    stage.name = "cwd"
    try:
        posix.chdir(proc.cwd)
    except OSError as exc:
        raise cwd_error(proc.cwd, exc.strerror or posix.strerror(exc.errno or 0)) from None
    check_cwd(proc.cwd)
    if proc.no_new_privileges and seccomp_load is not None:
        stage.name = "seccomp"
        seccomp_load()
    stage.name = "exec"
    env = program_env(proc, home_of)  # HOME as runc: from the container's /etc/passwd
    args = list(proc.args or [])
    if not args:
        raise ConfigError("must not be empty", path="process.args")
    return look_path(args[0], env), args, env


def program_env(proc: Any, home: Callable[[int], str]) -> dict[str, str]:
    """process.env as a dict, with HOME from ``home(uid)`` where it has none (as runc)."""
    env = env_dict(proc.env)
    if "HOME" not in env:
        env["HOME"] = home(user_ids(proc.user)[0])
    return env


def default_signals() -> None:
    """Right before execve: no signal ignored and none blocked, as runc's and crun's programs
    start, whatever their caller ignored or blocked (runc is a Go program, whose runtime handles
    nearly every signal; crun sets them back and clears the mask).

    An ignored signal and the mask stay across execve (a handler does not). Without this the
    programs inherited the interpreter's own ignores, SIGPIPE and SIGXFSZ (`yes | head -1` printed
    "write error" instead of ending quietly), and their caller's: a shell without job control
    starts its background commands with SIGINT and SIGQUIT ignored, nohup adds SIGHUP, and a
    caller that blocked SIGTERM gave containers that a stop's SIGTERM did not reach."""
    for signum in CATCHABLE:
        handler = _signal.getsignal(signum)
        # None: a disposition set outside Python (a C library's), which may be SIG_IGN
        if handler == _signal.SIG_IGN or handler is None:
            _signal.signal(signum, _signal.SIG_DFL)
    _signal.pthread_sigmask(_signal.SIG_SETMASK, ())
