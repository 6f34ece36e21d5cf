"""The talk, step 5: capabilities. `hostname foo` needs CAP_SYS_ADMIN, which runc's default config lacks.

    sudo .venv/bin/python examples/05_cap_sys_admin_hostname.py [--keep DIR]

`runc spec` keeps only CAP_AUDIT_WRITE, CAP_KILL and CAP_NET_BIND_SERVICE, so root in the container
cannot call sethostname(2). `pyrunc generate --cap-add SYS_ADMIN` adds the capability to the bounding,
effective, permitted and ambient sets, and the container then sets its own hostname: in its own
UTS namespace, so the host's name does not change. Run as root.
"""

from __future__ import annotations

import socket
import sys

from _talk import Talk, expect, parse_args, show

import libcontainer_py as lc
from libcontainer_py.spec import SpecBuilder

CAP_SYS_ADMIN = 21  # bit number in /proc/PID/status CapEff


def main() -> int:
    opts = parse_args(__doc__)
    talk = Talk(opts.keep)
    host_name = socket.gethostname()
    try:
        bundle = lc.make_busybox_bundle(talk.dir / "busybox", args=["hostname", "foo"])
        # 1. Without CAP_SYS_ADMIN: refused.
        p = talk.pyrunc("run", "nocap", cwd=bundle, check=False)
        expect(p.returncode == 1, f"hostname without CAP_SYS_ADMIN should fail, exited {p.returncode}")
        expect("sethostname: Operation not permitted" in p.stderr, f"expected EPERM: {p.stderr!r}")
        # 2. Add the capability and the command; the hostname changes inside only.
        talk.pyrunc(
            "generate", "--template", "config.json", "--bundle", ".", "--cap-add", "SYS_ADMIN",
            "--args", "sh", "--args=-c", "--args", "hostname foo && hostname && grep CapEff /proc/self/status",
            cwd=bundle,
        )  # fmt: skip
        out = talk.pyrunc("run", "withcap", cwd=bundle).stdout
        lines = out.splitlines()
        expect(lines[0] == "foo", f"the hostname was not set: {out!r}")
        expect(int(lines[1].split()[1], 16) >> CAP_SYS_ADMIN & 1, f"CAP_SYS_ADMIN not effective: {lines[1]}")
        expect(socket.gethostname() == host_name, "the host's hostname changed")
        print(f"$ hostname   # on the host: unchanged, the container has its own UTS namespace\n{host_name}")
        # 3. The library: SpecBuilder.add_capabilities.
        spec = SpecBuilder.default().terminal(False).add_capabilities("SYS_ADMIN").build()
        result = lc.run(
            bundle, spec=spec, root=talk.root, args=["sh", "-c", "hostname bar; hostname"], capture_output=True
        )
        show('>>> lc.run(bundle, spec=spec, args=["sh", "-c", "hostname bar; hostname"], capture_output=True).stdout',
             result.stdout)  # fmt: skip
        expect(result.returncode == 0 and result.stdout == b"bar\n", f"library run: {result}")
        print("ok: hostname is refused without CAP_SYS_ADMIN and works with it, in the container only")
        return 0
    finally:
        talk.close()


if __name__ == "__main__":
    sys.exit(main())
