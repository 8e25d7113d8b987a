#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/CMakeLists.txt) in their own build directory and runs each
# for SECONDS seconds from its corpus. Exits non-zero on any finding and names its input file.
#   fuzz/run.sh SECONDS [TARGET...]        targets: gguf tokenizer safetensors (default: all built)
# Environment: QUENCH_FUZZ_BUILD (build-fuzz), QUENCH_FUZZ_JOBS (nproc),
#   QUENCH_FUZZ_TORCH=OFF to skip the safetensors target, which links libtorch.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
build=${QUENCH_FUZZ_BUILD:-build-fuzz}
torch=${QUENCH_FUZZ_TORCH:-ON}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(gguf tokenizer)
  [ "$torch" = ON ] && targets+=(safetensors)
fi

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
# Debug keeps assertions on; the targets add -O1 and the sanitizers themselves.
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug \
  -DQUENCH_FUZZ=ON -DQUENCH_GUI=OFF -DQUENCH_FUZZ_TORCH="$torch" >/dev/null
cmake --build "$build" -j "${QUENCH_FUZZ_JOBS:-$(nproc)}" --target "${targets[@]/#/fuzz_}"

# Fixtures too big to commit as seeds are copied in at run time (files under 1 MiB: libFuzzer's
# default limit on input size).
seed_fixtures() {
  case $1 in
    gguf) ;;  # no .gguf fixtures in the repository: fuzz/make_seeds.py writes the committed ones
    tokenizer) find tests/fixtures resources/demo \( -name tokenizer.json -o -path '*/bad/tokenizer/*.json' \) -size -1024k ;;
    safetensors) find tests/fixtures -name '*.safetensors' -size -1024k ;;
  esac
}

mkdir -p "$build/findings" "$build/logs"
status=0
for t in "${targets[@]}"; do
  work="$build/corpus/$t"  # libFuzzer adds what it finds here; fuzz/corpus/$t is only read
  mkdir -p "$work"
  while IFS= read -r f; do cp -f "$f" "$work/fixture-$(echo "$f" | tr / _)"; done < <(seed_fixtures "$t")
  seeds=()
  [ -d "fuzz/corpus/$t" ] && seeds=("fuzz/corpus/$t")
  dict=()
  [ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
  log="$build/logs/$t.log"
  rc=0
  "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$build/findings/$t-" "${dict[@]}" "$work" "${seeds[@]}" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ "$rc" -eq 0 ]; then
    result="no findings"
  else
    status=1
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    result="FINDING (exit $rc): ${crash:-no input file written, see $log}"
    grep -m1 -E 'ERROR: |runtime error:|terminate called|uncaught' "$log" || true
  fi
  line="$(date -u +%FT%TZ) fuzz_$t ${seconds}s ${execs:-?} execs: $result"
  echo "$line" | tee -a "$build/runs.log"
done
exit $status
