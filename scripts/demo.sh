#!/usr/bin/env bash
# The talk's first demo: generate a config, make a busybox bundle, run a container that prints
# the date. Sets everything up first (scripts/setup.sh). Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/python examples/01_date.py "$@"
