#!/usr/bin/env bash
# Regenerates docs/screenshots/*.png by driving the real application: `quench MODEL --screenshot`
# opens the model, waits for its jobs (opening, weight statistics), applies the view options and
# saves the window. Runs under Xvfb when xvfb-run is installed (packaging/setup-debian.sh installs
# it), otherwise on Qt's offscreen platform. Uses a settings file of its own, never the user's.
# Look at every image after running this: empty plots, clipped labels and overlapping text are bugs.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${QUENCH_BUILD_DIR:-build}
QUENCH="$BUILD_DIR/app/gui/quench"
OUT=docs/screenshots
if [ ! -x "$QUENCH" ]; then
  echo "screenshots: $QUENCH is missing; build it first (bash packaging/build.sh, or ninja -C $BUILD_DIR quench)" >&2
  exit 1
fi
mkdir -p "$OUT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if command -v xvfb-run >/dev/null 2>&1; then
  run() { xvfb-run -a -s "-screen 0 1600x1000x24" "$QUENCH" --settings "$work/settings.ini" "$@"; }
  echo "screenshots: under Xvfb"
else
  run() { QT_QPA_PLATFORM=offscreen "$QUENCH" --settings "$work/settings.ini" "$@"; }
  echo "screenshots: offscreen (install xvfb for an X server)"
fi

shot() {
  local name=$1
  shift
  echo "screenshots: $OUT/$name.png"
  run "$@" --size 1440x900 --screenshot "$OUT/$name.png"
}

# The demo language model: layers sorted by weight magnitude, the largest in detail.
shot workbench-sotu-llama resources/demo/sotu-llama --sort "|W| max"
# The tied embedding / LM head on a logarithmic count axis: the tails a linear axis hides.
shot weights-log-scale resources/demo/sotu-llama --select lm_head --log-y
# Mamba-2: in_proj, conv1d and out_proj of every block, filtered to one block.
shot workbench-sotu-mamba2 resources/demo/sotu-mamba2 --filter "backbone.layers.3.*" --select backbone.layers.3.mixer.in_proj
# A CNN: convolution weights per input and output channel.
shot workbench-mnist-resnet resources/demo/mnist-resnet --sort Kurtosis --select resnet.encoder.stages.2.layers.0.layer.1.convolution
# Outlier channels: llama-tiny (the parity fixture) has input channels 0 and 1 scaled ×8 in every
# projection; the table's heat colours, the red channels and the Issues dock all point at them.
shot outliers-llama-tiny tests/fixtures/hf-tiny/llama-tiny --sort Outliers --select model.layers.0.mlp.up_proj --issues
echo "screenshots: done; look at each one"
