#!/usr/bin/env bash
# Install the real clients that the tests/clients tier drives pyrunc with, as root. Safe to run twice.
#   - podman + conmon (Debian's podman 4.3 / conmon 2.1): `podman --runtime .../pyrunc run ...`
#   - containerd (Debian's 1.6, with ctr and containerd-shim-runc-v2): `ctr run --runc-binary .../pyrunc ...`
#   - tmux, util-linux (script): the terminal tests drive `-it` / `-t` through a pty.
# With no systemd as PID 1 the containerd package is installed but not started; the tests start
# their own containerd with private root/state/socket dirs (tests/clients/conftest.py).
set -euo pipefail

APT_PACKAGES=(podman conmon containerd tmux util-linux)
missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
echo "install-clients: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d: do not let the packages' maintainer scripts start services (containerd) on a CI host.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT
apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; }
