#!/usr/bin/env bash
# README command (1): install dependencies, build, and open the bundled demo model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/setup-debian.sh
bash packaging/build.sh "$@"
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
exec build/app/cli/quench-cli inspect resources/demo/sotu-llama
