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
CLI="$BUILD_DIR/app/cli/quench-cli"
OUT=docs/screenshots
for exe in "$QUENCH" "$CLI"; do
  if [ ! -x "$exe" ]; then
    echo "screenshots: $exe is missing; build it first (bash packaging/build.sh, or ninja -C $BUILD_DIR quench quench-cli)" >&2
    exit 1
  fi
done
mkdir -p "$OUT"
work=$(mktemp -d)
# The models are opened from a copy in a neutral place, so the window's status bar and the
# experiments' model paths show /tmp/quench-demo/… rather than wherever this checkout lives.
DEMO=/tmp/quench-demo
rm -rf "$DEMO"
mkdir -p "$DEMO"
cp -r resources/demo/. "$DEMO/"
cp -r tests/fixtures/hf-tiny/llama-tiny "$DEMO/llama-tiny"
trap 'rm -rf "$work" "$DEMO"' EXIT

if command -v xvfb-run >/dev/null 2>&1; then
  run() { xvfb-run -a -s "-screen 0 1600x1000x24" "$QUENCH" --settings "$work/settings.ini" "$@"; }
  echo "screenshots: under Xvfb"
else
  run() { QT_QPA_PLATFORM=offscreen "$QUENCH" --settings "$work/settings.ini" "$@"; }
  echo "screenshots: offscreen (install xvfb for an X server)"
fi

# SHOT_SIZE=WxH for a larger window, where the layer table needs the width (long ResNet names,
# the SQNR column, the activation columns).
shot() {
  local name=$1
  shift
  echo "screenshots: $OUT/$name.png"
  run "$@" --size "${SHOT_SIZE:-1440x900}" --screenshot "$OUT/$name.png"
}

# The demo language model: layers sorted by weight magnitude, the largest in detail.
shot workbench-sotu-llama "$DEMO/sotu-llama" --sort "|W| max"
# The tied embedding / LM head on a logarithmic count axis: the tails a linear axis hides.
shot weights-log-scale "$DEMO/sotu-llama" --select lm_head --log-y
# Mamba-2: in_proj, conv1d and out_proj of every block, filtered to one block.
shot workbench-sotu-mamba2 "$DEMO/sotu-mamba2" --filter "backbone.layers.3.*" --select backbone.layers.3.mixer.in_proj
# A CNN: convolution weights per input and output channel.
SHOT_SIZE=1680x945 shot workbench-mnist-resnet "$DEMO/mnist-resnet" --sort Kurtosis --select resnet.encoder.stages.2.layers.0.layer.1.convolution
# Outlier channels: llama-tiny (the parity fixture) has input channels 0 and 1 scaled ×8 in every
# projection; the table's heat colours, the red channels and the Issues dock all point at them.
shot outliers-llama-tiny "$DEMO/llama-tiny" --sort Outliers --select model.layers.0.mlp.up_proj --issues
# A small screen (1024×700): the statistics scroll sideways under the layer names, which stay.
SHOT_SIZE=1024x700 shot small-window "$DEMO/sotu-llama" --sort Kurtosis --select model.layers.3.mlp.down_proj
# The Generate tab after continuing its default prompt (64 greedy tokens on the CPU).
shot generate-tab "$DEMO/sotu-llama" --run generate --tab generate
# View → Model Tree: the modules as a tree, coloured by the layers' kurtosis; a block shows its worst layer.
shot model-tree "$DEMO/llama-tiny" --tab model --select model.layers.1.mlp.up_proj
# Filtering by statistic: the MLP layers whose weights are heavy-tailed and have outlier channels.
shot filter-statistics "$DEMO/llama-tiny" --filter "mlp, kurtosis > 4, outliers >= 1" --sort Kurtosis
# Runs. The window's store is $work/quench.db (beside its settings file); its run dialog starts
# from the calibration set in the preferences and the last evaluation text.
printf '[preferences]\ncalibrationSet=%s\n[runs]\nevaluationSet=%s\n' "$DEMO/sotu-calib.txt" "$DEMO/sotu-2000-2023.txt" >"$work/settings.ini"
# W4 in groups of 128 for the MLP layers, per channel for down_proj (688 inputs: 128 does not divide them).
printf '%s\n' '{ "name": "mlp-w4-g128",' \
  '  "overrides": [ { "match": "model.layers.*.mlp.*", "weights": { "bits": 4, "strategy": "group", "group_size": 128, "method": "rtn" } },' \
  '                 { "match": "model.layers.*.mlp.down_proj", "weights": { "strategy": "channel" } } ] }' >"$work/mlp-w4.json"
# File → Export with Q4_0 (llama.cpp's 4-bit blocks): the dialog and its check line (the path is a
# suggestion beside the model; nothing is written).
shot export-dialog "$DEMO/sotu-llama" --recipe Q4_0 --export-dialog gguf
# Other runs of the model for the size-against-perplexity plot, recorded by quench-cli with the
# window's run defaults (64 windows of 256 tokens to calibrate, 16 windows of 256 to evaluate).
for scheme in W8A16 W4A16-G16 W3A16-G16; do
  echo "screenshots: recording a $scheme run"
  "$CLI" compress "$DEMO/sotu-llama" --recipe "$scheme" --calib "$DEMO/sotu-calib.txt" --samples 64 --seq 256 \
    --eval "$DEMO/sotu-2000-2023.txt" --ctx 256 --max-windows 16 --speed --db "$work/quench.db" --name "$scheme" >/dev/null
done
# The recipe editor: the MLP layers selected through the filter, the recipe's rules, the Setting column, the size estimate.
shot recipe-editor "$DEMO/sotu-llama" --recipe "$work/mlp-w4.json" --filter "model.layers.*.mlp.*" --select-all --tab recipe
# The recipe editor's Model-wide box: FLAP removing 20% of the MLP channels and SmoothQuant before W8A8.
printf '%s\n' '{ "name": "flap-20-w8a8", "default": { "scheme": "W8A8" }, "smoothquant": { "alpha": 0.5 },' \
  '  "structured": { "method": "flap", "ratio": 0.2, "target": "mlp", "adaptive": true, "bias_compensation": true } }' >"$work/flap.json"
SHOT_SIZE=1680x1000 shot recipe-editor-model-wide "$DEMO/sotu-llama" --recipe "$work/flap.json" --tab recipe
# Quamba2's preset on Mamba-2: GPTQ W4 g128 with static A8 per layer; the reordering shown as on through the preset.
echo '{"name": "quamba2-w4a8", "preset": "quamba2-w4a8"}' >"$work/quamba2.json"
SHOT_SIZE=1680x1000 shot recipe-quamba2 "$DEMO/sotu-mamba2" --recipe "$work/quamba2.json" --tab recipe --filter "backbone.layers.0.*"
# After a compress run (run 4): per-layer SQNR in the table, one layer before and after.
SHOT_SIZE=1680x945 shot compress-run "$DEMO/sotu-llama" --recipe "$work/mlp-w4.json" --run compress --sort "SQNR dB:asc" \
  --select model.layers.1.mlp.up_proj --tab before-after
# A baseline evaluation (run 5) compared with the recipe's run: metrics with deltas.
shot compare-metrics "$DEMO/sotu-llama" --run evaluate --compare-runs 5,4 --compare-tab metrics
# Per-layer SQNR of two recipes, and size against perplexity for every run of the model.
shot compare-layers "$DEMO/sotu-llama" --compare-runs 4,3 --compare-tab layers
shot compare-pareto "$DEMO/sotu-llama" --compare-runs 5,4 --compare-tab pareto
# The three schemes recorded above with --speed: decoding tokens/s at batch 16 across, perplexity up.
shot compare-speed "$DEMO/sotu-llama" --compare-runs 1,2,3 --compare-tab pareto --compare-axes decode_tokens_per_second_b16,perplexity
# One run's details (Experiments → Details): every layer's result, sortable, and what the run was.
shot run-details "$DEMO/sotu-llama" --compare-runs 4 --compare-tab layer-table
shot run-details-runs "$DEMO/sotu-llama" --compare-runs 4 --compare-tab runs
# A calibration (run 6, the preferences' calibration set): the layer table's activation columns
# sorted by outlier input channels, the top layer's input distribution on a log count axis and its
# channels' absmax with the outlier channels in red.
SHOT_SIZE=1680x945 shot activations-sotu-llama "$DEMO/sotu-llama" --run calibrate --sort "X outliers" --tab activations --log-y
# The same layer's Smoothing page after another calibration (run 7): |X| max and |W| max per input
# channel, and the spread SmoothQuant at α = 0.5 would leave.
SHOT_SIZE=1680x945 shot smoothing-sotu-llama "$DEMO/sotu-llama" --run calibrate --sort "X outliers" --tab smoothing
# Mamba-2's selective scan (run 8): a mixer layer's page lists the mixer's x, Δ, B, C and y; Δ shown.
SHOT_SIZE=1680x945 shot activations-sotu-mamba2 "$DEMO/sotu-mamba2" --run calibrate --filter "backbone.layers.3.*" \
  --select backbone.layers.3.mixer.out_proj --tab activations --point dt --log-y
# A sensitivity run with the dialog's defaults (W4A16-G128, perplexity; run 9): the Δ column sorted worst first.
SHOT_SIZE=1680x945 shot sensitivity-sotu-llama "$DEMO/sotu-llama" --run sensitivity --issues
# Every run in the store.
shot experiments "$DEMO/sotu-llama" --tab experiments
# Run → Sensitivity Heatmap of a sensitivity run with the dialog's two candidates (W4A16-G128, W3A16-G128).
SHOT_SIZE=1100x800 shot sensitivity-heatmap "$DEMO/sotu-llama" --run sensitivity --heatmap
# Run → Sweep…: the editor's recipe, two schemes, a 2×2 grid and a 3-chunk sensitivity analysis
# run here one after another, collected into the store as they finish (after the shot above, so
# that one shows the runs before the sweep).
cat >"$work/sweep.json" <<JSON
{"name": "sotu-sweep", "calib": "$DEMO/sotu-calib.txt", "samples": 8, "seq": 128,
 "eval": "$DEMO/sotu-2000-2023.txt", "ctx": 128, "max_windows": 8, "recipes": ["W8A16", "W4A16-G16"],
 "grid": {"bits": [3, 4], "group_size": [16, 0], "method": ["rtn"]},
 "sensitivity": {"setting": "W4A16-G16", "chunks": 3, "budget": 4.5}}
JSON
shot sweep-dialog "$DEMO/sotu-llama" --sweep "$work/sweep.json"
# Last, so that the runs above keep their numbers. ViT's attention probabilities (the point RepQ-ViT's log√2 quantizer reads) on an attention layer's page,
# after a calibration on the MNIST calibration digits (its own settings file: an image calibration set).
printf '[preferences]\ncalibrationSet=%s\n' "$DEMO/mnist/calib-images-idx3-ubyte.gz" >"$work/vit.ini"
SHOT_SIZE=1680x945 shot activations-mnist-vit-probs "$DEMO/mnist-vit" --settings "$work/vit.ini" --run calibrate --filter "vit.encoder.layer.3.*" \
  --select vit.encoder.layer.3.attention.attention.value --tab activations --point probs --log-y
echo "screenshots: done; look at each one"
