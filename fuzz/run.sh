#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/CMakeLists.txt) in their own build directory and runs each
# for SECONDS seconds from its corpus. Exits non-zero on any finding and names its input file.
#   fuzz/run.sh SECONDS [TARGET[:FORKS]...]          (SECONDS 0: build only)
# targets: gguf tokenizer (torch-free), safetensors config checkpoint recipe idx image gguf_import (link
# libtorch and quench_core); default: all that are built. TARGET:N runs N libFuzzer processes
# sharing one corpus (-fork=N).
# Environment: QUENCH_FUZZ_BUILD (build-fuzz), QUENCH_FUZZ_JOBS (nproc, for the build),
#   QUENCH_FUZZ_TORCH=OFF to skip the targets that link libtorch,
#   QUENCH_FUZZ_PARALLEL=1 to run the targets at the same time instead of one after another,
#   QUENCH_FUZZ_CXX (clang++) and QUENCH_FUZZ_CMAKE_ARGS (extra configure arguments; see fuzz/device.sh),
#   QUENCH_FUZZ_TIMEOUT: seconds one input may take (30; 10 once stopped runs sharing 2 cores with a build),
#   QUENCH_FUZZ_RSS_MB: libFuzzer's memory limit per process (1024).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
build=${QUENCH_FUZZ_BUILD:-build-fuzz}
torch=${QUENCH_FUZZ_TORCH:-ON}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(gguf tokenizer)
  [ "$torch" = ON ] && targets+=(safetensors config checkpoint recipe idx image gguf_import)
fi
names=("${targets[@]%%:*}")

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
# Debug keeps assertions on; the targets add -O1 and the sanitizers themselves.
# shellcheck disable=SC2086  # QUENCH_FUZZ_CMAKE_ARGS is a list of arguments
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_CXX_COMPILER="${QUENCH_FUZZ_CXX:-clang++}" -DCMAKE_BUILD_TYPE=Debug \
  -DQUENCH_FUZZ=ON -DQUENCH_GUI=OFF -DQUENCH_FUZZ_TORCH="$torch" ${QUENCH_FUZZ_CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j "${QUENCH_FUZZ_JOBS:-$(nproc)}" --target "${names[@]/#/fuzz_}"
[ "$seconds" = 0 ] && exit 0  # build only

# Fixtures too big to commit as seeds are copied in at run time (files under 1 MiB: libFuzzer's
# default limit on input size).
seed_fixtures() {
  local t=$1 work=$2
  case $t in
    gguf) ;;  # no .gguf fixtures in the repository: fuzz/make_seeds.py writes the committed ones
    gguf_import) find fuzz/corpus/gguf -type f | copy_in "$work" ;;  # its own seeds are whole models
    tokenizer) find tests/fixtures resources/demo \( -name tokenizer.json -o -path '*/bad/tokenizer/*.json' \) -size -1024k | copy_in "$work" ;;
    safetensors) find tests/fixtures -name '*.safetensors' -size -1024k | copy_in "$work" ;;
    idx) find tests/fixtures/images -name '*idx*' | copy_in "$work" ;;
    image) find tests/fixtures/images \( -name '*.png' -o -name '*.jpg' \) -size -64k | head -40 | copy_in "$work" ;;
    recipe) ;;  # committed: fuzz/corpus/recipe (make_seeds.py: the documentation's JSON examples)
    config) ;;  # committed: fuzz/corpus/config (make_seeds.py)
    checkpoint) python3 - "$work" <<'PY'
import os, sys
sys.path.insert(0, "fuzz")
from make_seeds import pack_dir
# The tiny float fixtures whole; the compressed-tensors seeds are committed (make_seeds.py --cli).
for n in ["llama-tiny", "gpt2-tiny", "mamba2-tiny", "vit-tiny", "resnet-tiny"]:
    open(os.path.join(sys.argv[1], "fixture-" + n), "wb").write(pack_dir("tests/fixtures/hf-tiny/" + n, ["config.json", "model.safetensors"]))
# The bad-model corpus whole (a sharded checkpoint and its index among them).
bad = "tests/fixtures/bad/models"
for n in sorted(os.listdir(bad)):
    if os.path.isdir(os.path.join(bad, n)):
        open(os.path.join(sys.argv[1], "bad-" + n), "wb").write(pack_dir(os.path.join(bad, n)))
PY
      ;;
  esac
}
copy_in() { while IFS= read -r f; do cp -f "$f" "$1/fixture-$(echo "$f" | tr / _)"; done; }

mkdir -p "$build/findings" "$build/logs" "$build/results"
run_target() {
  local t=${1%%:*} forks=${1#*:}
  [ "$forks" = "$1" ] && forks=1
  local work="$build/corpus/$t"  # libFuzzer adds what it finds here; fuzz/corpus/$t is only read
  mkdir -p "$work"
  seed_fixtures "$t" "$work"
  local seeds=() dict=() fork=()
  [ -d "fuzz/corpus/$t" ] && seeds=("fuzz/corpus/$t")
  local d=${t%_import}  # gguf_import uses gguf.dict
  [ -f "fuzz/$d.dict" ] && dict=(-dict="fuzz/$d.dict")
  [ "$forks" -gt 1 ] && fork=(-fork="$forks")
  local log="$build/logs/$t.log" rc=0
  # Fork mode can outlive -max_total_time by minutes while its children finish: SIGINT 30 s
  # after the limit stops it cleanly (timeout's status 124 is that stop, not a finding).
  timeout -s INT -k 20 $((seconds + 30)) "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -rss_limit_mb="${QUENCH_FUZZ_RSS_MB:-1024}" -timeout="${QUENCH_FUZZ_TIMEOUT:-30}" -print_final_stats=1 "${fork[@]}" \
    -artifact_prefix="$build/findings/$t-" "${dict[@]}" "$work" "${seeds[@]}" >"$log" 2>&1 || rc=$?
  # One process prints its final stats; fork mode's last "#N" line counts every process's executions.
  local execs
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9][0-9]*\).*/\1/p' "$log" | tail -1)
  local result
  if [ "$rc" -eq 124 ] && ! grep -q "Test unit written to" "$log"; then
    rc=0 result="no findings (stopped 30 s after the time limit)"
  elif [ "$rc" -eq 0 ]; then
    result="no findings"
  else
    local crash
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    result="FINDING (exit $rc): ${crash:-no input file written, see $log}"
    grep -m1 -E 'ERROR: |runtime error:|terminate called|uncaught' "$log" || true
  fi
  local line
  line="$(date -u +%FT%TZ) fuzz_$t ${seconds}s x${forks} ${execs:-?} execs, corpus $(ls "$work" | wc -l) files: $result"
  echo "$line" | tee -a "$build/runs.log" >"$build/results/$t"
  echo "$line"
  [ "$rc" -eq 0 ]
}

status=0
if [ "${QUENCH_FUZZ_PARALLEL:-0}" = 1 ]; then
  pids=()
  for t in "${targets[@]}"; do run_target "$t" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || status=1; done
else
  for t in "${targets[@]}"; do run_target "$t" || status=1; done
fi
exit $status
