#!/usr/bin/env bash
# Set up (scripts/setup.sh), then run the checks and every test tier. Run as root for the
# integration tier (real containers); without root those tests are skipped with a reason.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# podman, conmon and containerd: the client tier (tests/clients) drives them with pyrunc.
./scripts/install-clients.sh
export OCI_SPEC_DIR=${OCI_SPEC_DIR:-$(cd .. && pwd)/shared/oci-runtime-spec}
echo "== ruff"; .venv/bin/ruff check libcontainer_py tests examples benchmarks
echo "== mypy"; .venv/bin/mypy
echo "== pytest"; exec .venv/bin/python -m pytest "$@"
