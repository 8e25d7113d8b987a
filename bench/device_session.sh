#!/usr/bin/env bash
# One GPU-machine session: build + GPU tests + core tests + kernel benchmark (bench/run_device.sh),
# then end-to-end timings of the demo models on CUDA and on that machine's CPU. Logs land in $OUT.
# Run through the device tool with carry [".carry"] (headers the GPU machine lacks).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/quench-out}
mkdir -p "$OUT"
export OMP_WAIT_POLICY=PASSIVE
bash bench/run_device.sh --core "$@" 2>&1 | tee "$OUT/session.txt"
B=${QUENCH_DEVICE_BUILD:-/tmp/b}
CLI="$B/app/cli/quench-cli"
[ -x "$CLI" ] || exit 1
export XDG_DATA_HOME=/tmp/quench-xdg
{
  echo "== half-precision forward: CUDA vs this machine's CPU (max relative logits error vs transformers fp32)"
  for m in mamba-tiny mamba2-tiny llama-tiny; do
    for dev in cpu cuda; do
      f=tests/fixtures/hf-tiny/$m
      "$CLI" forward "$f" --inputs "$f/reference.safetensors" --out /tmp/o.safetensors --dtype bfloat16 --device $dev &&
        python3 -c "
from safetensors.torch import load_file as L; import sys
o=L('/tmp/o.safetensors')['logits']; r=L('$f/reference.safetensors')['logits']
print('$m bf16 $dev', float((o-r).abs().max()/r.abs().max()))"
    done
  done
  echo "== calibrate sotu-llama, 128 x 256 tokens, every point"
  for dev in cuda cpu; do
    "$CLI" calibrate resources/demo/sotu-llama --text resources/demo/sotu-calib.txt --samples 128 --seq 256 --device $dev --json --no-record \
      | python3 -c "import json,sys; j=json.load(sys.stdin); print('$dev', 'seconds', round(j['seconds'],2), 'points', len(j['points']), 'peak_rss_mib', round(j['peak_rss_mib']))"
  done
  echo "== eval, 400 windows"
  for m in sotu-llama sotu-mamba2; do
    "$CLI" eval resources/demo/$m --text resources/demo/sotu-2000-2023.txt --max-windows 400 --device cuda --json --no-record
  done
  echo "== compress + evaluate (32 x 256 calibration, 64 windows): CUDA vs this machine's CPU"
  for job in "sotu-llama W8A8" "sotu-mamba2 quamba"; do
    set -- $job
    for dev in cuda cpu; do
      "$CLI" compress resources/demo/$1 --recipe $2 --calib resources/demo/sotu-calib.txt --samples 32 --seq 256 \
        --eval resources/demo/sotu-2000-2023.txt --max-windows 64 --device $dev --db /tmp/quench-session.db --json \
        | python3 -c "import json,sys; m=json.load(sys.stdin)['metrics']; print('$1 $2 $dev', 'perplexity', round(m['perplexity'],4), 'compress_s', round(m['compress_seconds'],2), 'eval_s', round(m['eval_seconds'],2))"
    done
  done
} 2>&1 | tee "$OUT/e2e.txt"
