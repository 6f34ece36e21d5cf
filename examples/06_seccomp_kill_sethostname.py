"""The talk, step 6: seccomp. Keep CAP_SYS_ADMIN, but kill any process that calls sethostname(2).

    sudo .venv/bin/python examples/06_seccomp_kill_sethostname.py [--keep DIR]

Capabilities are coarse (CAP_SYS_ADMIN allows mount, setns, sethostname and much more); a seccomp
filter decides per system call. `pyrunc generate --seccomp-kill sethostname` adds
`{"names": ["sethostname"], "action": "SCMP_ACT_KILL"}` to linux.seccomp (every other call allowed).
The kernel then kills the caller with SIGSYS, and the shell reports 128 + 31 = 159. Run as root.
"""

from __future__ import annotations

import json
import sys

from _talk import Talk, expect, parse_args

import libcontainer_py as lc
from libcontainer_py.spec import SpecBuilder

SIGSYS_STATUS = 128 + 31  # 159: "Bad system call"


def main() -> int:
    opts = parse_args(__doc__)
    talk = Talk(opts.keep)
    try:
        bundle = lc.make_busybox_bundle(talk.dir / "busybox", args=["hostname", "foo"])
        # 1. Step 5's config (CAP_SYS_ADMIN), plus the seccomp rule.
        talk.pyrunc(
            "generate", "--template", "config.json", "--bundle", ".",
            "--cap-add", "SYS_ADMIN", "--seccomp-kill", "sethostname", cwd=bundle,
        )  # fmt: skip
        seccomp = json.loads((bundle / "config.json").read_text())["linux"]["seccomp"]
        print(f"$ jq -c .linux.seccomp config.json\n{json.dumps(seccomp)}")
        # 2. hostname is pid 1 of the container: killed by SIGSYS, and `pyrunc run` exits 159.
        p = talk.pyrunc("run", "seccomp", cwd=bundle, check=False)
        expect(p.returncode == SIGSYS_STATUS, f"pyrunc run should exit 159 (SIGSYS), not {p.returncode}")
        # 3. Under a shell, the shell survives and sees its child killed; other calls still work.
        talk.pyrunc(
            "generate", "--template", "config.json", "--bundle", ".",
            "--args", "sh", "--args=-c", "--args", "hostname foo; echo status=$?; hostname", cwd=bundle,
        )  # fmt: skip
        p = talk.pyrunc("run", "seccomp-sh", cwd=bundle)
        expect("Bad system call" in p.stderr, f"the shell did not report SIGSYS: {p.stderr!r}")
        name = json.loads((bundle / "config.json").read_text())["hostname"]  # runc spec's: "runc"
        expect(p.stdout.splitlines() == ["status=159", name], f"unexpected output: {p.stdout!r}")
        # 4. The library: SpecBuilder.seccomp_kill, on runc's defaults plus CAP_SYS_ADMIN.
        spec = SpecBuilder.default().terminal(False).add_capabilities("SYS_ADMIN").seccomp_kill("sethostname").build()
        result = lc.run(bundle, ["hostname", "foo"], spec=spec, root=talk.root, capture_output=True)
        print(f'>>> lc.run(bundle, ["hostname", "foo"], spec=spec).returncode\n{result.returncode}')
        expect(result.returncode == SIGSYS_STATUS, f"library run: {result}")
        print("ok: with the seccomp rule, sethostname kills the caller (SIGSYS, status 159) despite CAP_SYS_ADMIN")
        return 0
    finally:
        talk.close()


if __name__ == "__main__":
    sys.exit(main())
