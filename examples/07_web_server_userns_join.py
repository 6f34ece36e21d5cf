"""The talk, step 7: a web server in a user namespace, and a second container that joins it.

    sudo .venv/bin/python examples/07_web_server_userns_join.py [--keep DIR]

Container "web" runs busybox httpd on port 8080, in a user namespace that maps its root to host uid
200000 and in a new network namespace (which has only lo, brought up by the runtime as runc does).
Container "client" has no network of its own: it joins web's network and user namespaces by path,
/proc/PID/ns/net and /proc/PID/ns/user, and fetches the page over 127.0.0.1. (It must join the user
namespace too: a network namespace belongs to the user namespace it was made in.) Run as root.
"""

from __future__ import annotations

import json
import os
import sys
import time

from _talk import Talk, expect, parse_args, show

import libcontainer_py as lc
from libcontainer_py.spec import SpecBuilder

PAGE = "<h1>hello from a container mapped to uid 200000</h1>\n"
URL = "http://127.0.0.1:8080/"


def listening(pid: int, port: int) -> bool:
    """Whether a TCP socket listens on `port` in the network namespace of `pid`."""
    rows = []
    for table in ("tcp", "tcp6"):  # httpd -p PORT listens on [::], which takes IPv4 too
        with open(f"/proc/{pid}/net/{table}") as f:
            rows += [line.split() for line in f.readlines()[1:]]
    return any(row[1].endswith(f":{port:04X}") and row[3] == "0A" for row in rows)


def main() -> int:
    opts = parse_args(__doc__)
    talk = Talk(opts.keep)
    try:
        # 1. The server: httpd in the foreground, root mapped to 200000.
        web = lc.make_busybox_bundle(talk.dir / "web", args=["httpd", "-f", "-p", "8080", "-h", "/var/www"])
        (web / "rootfs" / "var" / "www" / "index.html").write_text(PAGE)
        talk.pyrunc(
            "generate", "--template", "config.json", "--bundle", ".",
            "--uidmappings", "200000:0:65536", "--gidmappings", "200000:0:65536", cwd=web,
        )  # fmt: skip
        talk.pyrunc("run", "--detach", "web", cwd=web, stdout=-3, stderr=-3)  # -3: DEVNULL
        pid = json.loads(talk.pyrunc("state", "web", quiet=True).stdout)["pid"]
        print(f'  ... "pid": {pid}, ...')
        with open(f"/proc/{pid}/status") as f:
            uid = next(line.split()[1] for line in f if line.startswith("Uid:"))
        print(f"$ grep Uid /proc/{pid}/status | cut -f2   # on the host\n{uid}")
        expect(uid == "200000", f"the server's root is host uid {uid}, not 200000")
        deadline = time.monotonic() + 5
        while not listening(pid, 8080):
            expect(time.monotonic() < deadline, "httpd is not listening on port 8080 after 5 s")
            time.sleep(0.02)

        # 2. The client, with the CLI: join web's network and user namespaces by path.
        client = lc.make_busybox_bundle(talk.dir / "client", args=["wget", "-q", "-O", "-", URL])
        talk.pyrunc(
            "generate", "--template", "config.json", "--bundle", ".",
            "--linux-namespace-path", f"network:/proc/{pid}/ns/net",
            "--linux-namespace-path", f"user:/proc/{pid}/ns/user", cwd=client,
        )  # fmt: skip
        p = talk.pyrunc("run", "client", cwd=client, check=False)
        expect(p.returncode == 0, f"the client could not fetch {URL}: {p.stderr.strip()}")
        expect(p.stdout == PAGE, f"the client got {p.stdout!r}, the server serves {PAGE!r}")

        # 3. The same with the library: Spec.join_namespaces_of(container, "network", "user").
        server = lc.Container.load("web", root=talk.root)
        spec = SpecBuilder.default().terminal(False).build().join_namespaces_of(server, "network", "user")
        script = f"id -u; readlink /proc/self/ns/net; wget -q -O - {URL}"
        result = lc.run(client, ["sh", "-c", script], spec=spec, root=talk.root, capture_output=True)
        show(">>> lc.run(client, ['sh', '-c', script], spec=spec, capture_output=True).stdout", result.stdout)
        lines = (result.stdout or b"").decode().split("\n", 2)
        expect(result.returncode == 0, f"library client: {result}")
        expect(lines[0] == "0", f"the client is not root in web's user namespace: {lines[0]!r}")
        expect(lines[1] == os.readlink(f"/proc/{pid}/ns/net"), "the client is not in web's network namespace")
        expect(lines[2] == PAGE, f"the library client got {lines[2]!r}")

        talk.pyrunc("kill", "web", "KILL")
        talk.pyrunc("delete", "--force", "web")
        print("ok: the client, in the server's network and user namespaces, fetched its page over 127.0.0.1")
        return 0
    finally:
        talk.close()


if __name__ == "__main__":
    sys.exit(main())
