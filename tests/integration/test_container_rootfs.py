"""The root filesystem through real containers: binds, tmpfs, readonly root, masked and readonly
paths, seen in /proc/self/mountinfo and by trying to write."""

from __future__ import annotations

from typing import Any


def mount_options(mountinfo: str, point: str) -> tuple[set[str], str, set[str]]:
    """(per-mount options, fstype, super options) of the last mount on `point`."""
    found = None
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        fields = left.split()
        if fields[4] == point:
            fstype, _source, sopts = right.split()[:3]
            found = (set(fields[5].split(",")), fstype, set(sopts.split(",")))
    assert found is not None, f"{point} not mounted:\n{mountinfo}"
    return found


def test_bind_ro_and_tmpfs(rt: Any) -> None:
    data = rt.mkdir("data")
    (data / "hello").write_text("from the host\n")

    def edit(config: dict[str, Any]) -> None:
        config["mounts"] += [
            {"destination": "/data", "type": "bind", "source": str(data), "options": ["rbind", "ro", "nosuid"]},
            {
                "destination": "/scratch",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["size=1m", "mode=700", "noexec"],
            },
        ]

    script = (
        "cat /data/hello; touch /data/x 2>/dev/null && echo data-writable; "
        "touch /scratch/x && echo scratch-writable; cat /proc/self/mountinfo"
    )
    out = rt.out(rt.bundle(["sh", "-c", script], edit=edit))
    head, _, mountinfo = out.partition("scratch-writable\n")
    assert head == "from the host\n"
    opts, _, _ = mount_options(mountinfo, "/data")
    assert {"ro", "nosuid"} <= opts
    opts, fstype, sopts = mount_options(mountinfo, "/scratch")
    assert fstype == "tmpfs" and "noexec" in opts and "size=1024k" in sopts and "mode=700" in sopts
    assert not (data / "x").exists()


def test_bind_source_relative_to_the_bundle(rt: Any) -> None:
    def edit(config: dict[str, Any]) -> None:
        config["mounts"].append({"destination": "/rel", "type": "bind", "source": "shared", "options": ["rbind"]})

    bundle = rt.bundle(["cat", "/rel/file"], edit=edit)
    (bundle / "shared").mkdir()
    (bundle / "shared" / "file").write_text("relative\n")
    assert rt.out(bundle) == "relative\n"


def test_readonly_root(rt: Any) -> None:
    script = "touch /x 2>/dev/null && echo root-writable; touch /tmp/x 2>/dev/null && echo tmp-writable; true"
    assert rt.out(rt.bundle(["sh", "-c", script])) == ""  # runc's default: root.readonly true

    def writable(config: dict[str, Any]) -> None:
        config["root"]["readonly"] = False

    bundle = rt.bundle(["sh", "-c", "touch /x && echo root-writable"], edit=writable)
    assert rt.out(bundle) == "root-writable\n"
    assert (bundle / "rootfs" / "x").exists()


def test_masked_and_readonly_paths(rt: Any) -> None:
    def edit(config: dict[str, Any]) -> None:
        # (/proc/kcore is the classic, but this kernel has none: /proc/timer_list is a file here.)
        config["linux"]["maskedPaths"] = ["/proc/timer_list", "/proc/acpi", "/etc/secret", "/proc/kcore"]
        config["linux"]["readonlyPaths"] = ["/proc/sys", "/var/www"]
        config["root"]["readonly"] = False

    script = (
        "echo timer_list=$(wc -c < /proc/timer_list); echo acpi=$(ls /proc/acpi | wc -l); "
        "echo secret=$(ls /etc/secret | wc -l); "
        "echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo proc-sys-writable; "
        "touch /var/www/new 2>/dev/null && echo www-writable; touch /var/new && echo var-writable; "
        "cat /proc/self/mountinfo"
    )
    bundle = rt.bundle(["sh", "-c", script], edit=edit)
    secret = bundle / "rootfs" / "etc" / "secret"
    secret.mkdir()
    (secret / "key").write_text("s3cret")
    out = rt.out(bundle)
    lines = out.splitlines()
    assert lines[:4] == ["timer_list=0", "acpi=0", "secret=0", "var-writable"], out
    assert "proc-sys-writable" not in out and "www-writable" not in out
    mountinfo = "\n".join(lines[4:])
    assert "ro" in mount_options(mountinfo, "/proc/sys")[0]
    assert "ro" in mount_options(mountinfo, "/var/www")[0]
    points = dict(rt.mount_points(mountinfo))
    assert points["/proc/timer_list"] in ("tmpfs", "devtmpfs")  # /dev/null bound over it
    assert "/proc/kcore" not in points  # a masked path that does not exist is skipped


def test_default_mounts_as_runc_spec(rt: Any) -> None:
    points = rt.mount_points(rt.out(rt.bundle(["cat", "/proc/self/mountinfo"])))
    want = {("/", "ext4"), ("/proc", "proc"), ("/dev", "tmpfs"), ("/dev/pts", "devpts"), ("/dev/shm", "tmpfs"),
            ("/dev/mqueue", "mqueue"), ("/sys", "sysfs")}  # fmt: skip
    have = set(points)
    root_fstype = next(t for p, t in points if p == "/")
    want = {(p, root_fstype if p == "/" else t) for p, t in want}
    assert want <= have, points


def test_dev(rt: Any) -> None:
    script = "ls /dev; for l in fd stdin stdout stderr ptmx; do readlink /dev/$l; done; echo x > /dev/null"
    out = rt.out(rt.bundle(["sh", "-c", script]))
    names = set(out.split())
    assert {"null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue"} <= names
    assert {"/proc/self/fd", "/proc/self/fd/0", "/proc/self/fd/1", "/proc/self/fd/2", "pts/ptmx"} <= names
