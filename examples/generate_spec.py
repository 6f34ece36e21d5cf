"""Generate a config.json for a busybox container that prints the date, with SpecBuilder.

    python examples/generate_spec.py BUNDLE_DIR   # writes BUNDLE_DIR/config.json
    python examples/generate_spec.py              # prints the JSON

Then put a busybox root filesystem in BUNDLE_DIR/rootfs and run it:

    mkdir -p BUNDLE_DIR/rootfs && cd BUNDLE_DIR
    podman export "$(podman create busybox)" | tar -C rootfs -x   # or docker
    pyrunc run demo                                                # or runc run demo
"""

from __future__ import annotations

import json
import os
import sys

from libcontainer_py.errors import ConfigError
from libcontainer_py.spec import Spec
from libcontainer_py.spec.builder import SpecBuilder


def build_spec() -> Spec:
    return (
        SpecBuilder.default()  # what `runc spec` writes
        .args("/bin/date", "-u")
        .terminal(False)  # no tty: the output goes to our stdout, so the example works in scripts
        .env("TZ=UTC")
        .hostname("busybox-date")
        .drop_capabilities("NET_BIND_SERVICE")  # a date needs no port
        .rlimit("NOFILE", 256, 256)
        .pids_limit(16)
        .memory_limit(16 * 1024 * 1024)
        .tmpfs("/tmp")
        .annotation("org.example.purpose", "libcontainer-py example")
        .build()  # validates: raises ConfigError naming the field if something is wrong
    )


def main(argv: list[str]) -> int:
    try:
        spec = build_spec()
    except ConfigError as exc:
        print(f"generate_spec: {exc}", file=sys.stderr)
        return 1

    if len(argv) < 2:
        print(spec.to_json())
        return 0

    bundle = argv[1]
    os.makedirs(bundle, exist_ok=True)
    path = os.path.join(bundle, "config.json")
    spec.save(path)

    # Check what was written: it loads back to the same document, with what we asked for.
    loaded = Spec.load(bundle)
    assert loaded.to_dict() == spec.to_dict()
    with open(path, encoding="utf-8") as f:
        raw = json.load(f)
    assert raw["process"]["args"] == ["/bin/date", "-u"]
    assert raw["process"]["terminal"] is False
    assert "TZ=UTC" in raw["process"]["env"]
    assert "CAP_NET_BIND_SERVICE" not in raw["process"]["capabilities"]["bounding"]
    assert raw["linux"]["resources"]["pids"] == {"limit": 16}
    assert raw["mounts"][-1]["destination"] == "/tmp"
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
