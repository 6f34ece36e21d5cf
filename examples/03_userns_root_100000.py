"""The talk, step 3: remap root. In a user namespace, the container's uid 0 is uid 100000 on the host.

    sudo .venv/bin/python examples/03_userns_root_100000.py [--keep DIR]

`pyrunc generate --uidmappings 100000:0:65536` (oci-runtime-tool's HOSTID:CONTAINERID:SIZE) adds
a user namespace and maps container uids 0..65535 to host uids 100000..165535; gids likewise.
Inside, `id` says root; the host's /proc/PID/status says 100000: a process that breaks out is
nobody in particular on the host. Run as root.
"""

from __future__ import annotations

import json
import sys

from _talk import Talk, expect, parse_args, show

import libcontainer_py as lc
from libcontainer_py.spec import SpecBuilder


def host_ids(pid: int) -> tuple[str, str]:
    """The Uid: and Gid: lines of /proc/PID/status, as the host sees the process."""
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f if ":" in line)
    return " ".join(fields["Uid"].split()), " ".join(fields["Gid"].split())


def main() -> int:
    opts = parse_args(__doc__)
    talk = Talk(opts.keep)
    try:
        bundle = lc.make_busybox_bundle(talk.dir / "busybox", args=["sleep", "30"])
        # 1. The CLI, as in the talk: add the mappings, run detached, look from both sides.
        talk.pyrunc(
            "generate", "--template", "config.json", "--bundle", ".",
            "--uidmappings", "100000:0:65536", "--gidmappings", "100000:0:65536", cwd=bundle,
        )  # fmt: skip
        linux = json.loads((bundle / "config.json").read_text())["linux"]
        print(f"$ jq .linux.uidMappings config.json\n{json.dumps(linux['uidMappings'])}")
        expect({"type": "user"} in linux["namespaces"], "generate --uidmappings added no user namespace")
        talk.pyrunc("run", "--detach", "userns", cwd=bundle, stdout=-3, stderr=-3)  # -3: DEVNULL
        pid = json.loads(talk.pyrunc("state", "userns", quiet=True).stdout)["pid"]
        print(f'  ... "pid": {pid}, ...')
        inside = talk.pyrunc("exec", "userns", "id").stdout
        uid_map = talk.pyrunc("exec", "userns", "cat", "/proc/self/uid_map").stdout
        uid, gid = host_ids(pid)
        print(f"$ grep -E '^(Uid|Gid)' /proc/{pid}/status   # on the host\nUid:\t{uid}\nGid:\t{gid}")
        expect(inside.startswith("uid=0(root) gid=0(root)"), f"not root inside: {inside!r}")
        expect(uid_map.split() == ["0", "100000", "65536"], f"uid_map: {uid_map!r}")
        expect(uid == "100000 100000 100000 100000", f"host uid of the container's init: {uid}")
        expect(gid == "100000 100000 100000 100000", f"host gid of the container's init: {gid}")
        talk.pyrunc("kill", "userns", "KILL")
        talk.pyrunc("delete", "--force", "userns")

        # 2. The library: the same mappings with SpecBuilder (on runc spec's defaults), output captured.
        spec = (
            SpecBuilder.default()
            .terminal(False)
            .args("sh", "-c", "id -u; id -g; cat /proc/self/uid_map")
            .uid_mapping(host_id=100000, container_id=0, size=65536)
            .gid_mapping(host_id=100000, container_id=0, size=65536)
            .build()
        )
        result = lc.run(bundle, spec=spec, root=talk.root, capture_output=True)
        show(">>> lc.run(bundle, spec=spec, capture_output=True).stdout", result.stdout)
        lines = (result.stdout or b"").decode().split("\n")
        expect(result.returncode == 0 and lines[:2] == ["0", "0"], f"library run: {result}")
        expect(lines[2].split() == ["0", "100000", "65536"], f"library run uid_map: {lines[2:]}")
        print("ok: root in the container is uid 100000 on the host")
        return 0
    finally:
        talk.close()


if __name__ == "__main__":
    sys.exit(main())
