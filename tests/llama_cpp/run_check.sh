#!/usr/bin/env bash
# End-to-end check of the llama.cpp scoring harness against an independent numpy reference:
# installs node-llama-cpp (packaging/setup-llama-cpp.sh), writes toy Llama GGUFs
# (make_toy_gguf.py), scores random windows with score.mjs and compares with numpy.
# Needs node >= 20, npm, and python3 with numpy (Debian: python3-numpy; /usr/bin/python3).
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY="${PYTHON:-/usr/bin/python3}"
"$PY" -c 'import numpy' 2>/dev/null || { echo "run_check: $PY has no numpy (apt-get install python3-numpy)" >&2; exit 1; }
export QUENCH_LLAMA_CPP_DIR="$(bash "$ROOT/packaging/setup-llama-cpp.sh" | tail -n1)" || exit 1
T="$(mktemp -d)"; trap 'rm -rf "$T"' EXIT
pass=0; fail=0
check() {  # name, tolerance, kv type, write args...
  local name=$1 tol=$2 kv=$3; shift 3
  "$PY" "$HERE/make_toy_gguf.py" write "$T/$name.gguf" --windows "$T/$name.win.json" "$@" >/dev/null &&
  "$PY" "$HERE/make_toy_gguf.py" ref "$T/$name.gguf" "$T/$name.win.json" "$T/$name.ref.json" >/dev/null &&
  QUENCH_LLAMA_KV_TYPE=$kv node "$HERE/score.mjs" "$T/$name.gguf" "$T/$name.win.json" "$T/$name.out.json" &&
  echo -n "$name (kv $kv): " &&
  "$PY" "$HERE/make_toy_gguf.py" compare "$T/$name.ref.json" "$T/$name.out.json" --tol "$tol"
  if [ $? -eq 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "run_check: $name FAILED"; fi
}
check gpt2       1e-5 F32
check gpt2-f16kv 1e-3 F16
check tied       1e-5 F32 --tied
check add-bos    1e-5 F32 --add-bos
check dummy-v50  1e-5 F32 --tokenizer dummy --vocab 50
check no-vocab   1e-5 F32 --tokenizer none
"$PY" "$HERE/make_toy_gguf.py" write "$T/p.gguf" --windows "$T/p.win.json" >/dev/null
if node "$HERE/probe_semantics.mjs" "$T/p.gguf" "$T/p.win.json"; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
