#!/usr/bin/env bash
# README command (1): install dependencies, build, and open the bundled demo model in the
# workbench window. Without a display it says how to get one (or what to run instead) and
# shows the same model on the command line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/setup-debian.sh
bash packaging/build.sh "$@"
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
BUILD_DIR=${QUENCH_BUILD_DIR:-build}
MODEL=resources/demo/sotu-llama
if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
  exec "$BUILD_DIR/app/gui/quench" "$MODEL"
fi
cat >&2 <<MSG
run-demo: no display (neither DISPLAY nor WAYLAND_DISPLAY is set), so the window cannot open.
  - On a desktop, run this from a graphical session.
  - Over ssh, use X forwarding (ssh -X), or a virtual display:
      xvfb-run -a $BUILD_DIR/app/gui/quench $MODEL --screenshot quench.png
    saves a picture of the window with the model open (packaging/screenshots.sh does this for docs/).
  - The command line shows the same model without a window:
      $BUILD_DIR/app/cli/quench-cli inspect $MODEL
Showing it with the command line now:
MSG
exec "$BUILD_DIR/app/cli/quench-cli" inspect "$MODEL"
