#!/usr/bin/env bash
# Decoding speed at real size on the GPU machine (device tool, carry [".carry/sysroot"]): an
# 8B-shaped random Llama (bench/make_random_llama.py) in bfloat16 on CUDA, Quench's own runtime,
# prefill of DECODE_PROMPT tokens (default 512) then 32 greedy steps at batch 1 and 16:
#   bf16         the float model (eval --speed)
#   W4A16 fake   RTN W4A16-G128, fake-quantized weights (what compress measured before --packed)
#   W4A16 packed the same, with its 4-bit layers run from packed integers (compress --packed)
#   KIVI-2       the float model with a KIVI-2 cache (G 32, R 128): decode_cache_mib against bf16's
# Prints tokens/s, the ratio to bf16 and the decoding cache's size. Results appended to
# $OUT/decode_8b.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
source bench/device_build.sh
M=/tmp/llama-8b
P=${DECODE_PROMPT:-512}
[ -f $M/config.json ] || python3 bench/make_random_llama.py $M --tokenizer-from resources/demo/sotu-llama >/dev/null
cat > /tmp/kivi2.json <<'JSON'
{"kv_cache": {"method": "kivi", "bits": 2, "group_size": 32, "residual": 128}}
JSON
common="--device cuda --dtype bfloat16 --no-record --json"
cal="--calib resources/demo/sotu-calib.txt --samples 1 --seq $P --measure-samples 0 --speed"
line() {  # label, json file, bf16 tokens/s
  python3 - "$@" <<'PY'
import json, sys
label, path, base = sys.argv[1], sys.argv[2], float(sys.argv[3] or 0)
try:
    j = json.loads(open(path).read().strip().splitlines()[-1]); m = j.get("metrics", j)  # eval --json puts them at the top
except Exception as e:
    print(f"{label}: failed ({e})"); sys.exit()
d1, d16 = m.get("decode_tokens_per_second", 0), m.get("decode_tokens_per_second_b16", 0)
ratio = f" ({d1 / base:.2f}x bf16)" if base else ""
print(f"{label}: prefill {m.get('prefill_tokens_per_second', 0):.0f} tok/s, decode b1 {d1:.1f} tok/s{ratio}, b16 {d16:.1f} tok/s, "
      f"cache {m.get('decode_cache_mib', 0):.1f} MiB, peak GPU {m.get('peak_gpu_memory_mib', 0) / 1024:.1f} GiB"
      + (f", {int(m['packed_layers'])} layers packed" if 'packed_layers' in m else ""))
PY
}
{
  echo "== $(date -u +%F) $(nvidia-smi --query-gpu=name --format=csv,noheader): decoding an 8B-shaped Llama, bf16, prompt $P"
  "$CLI" eval $M --text resources/demo/sotu-calib.txt --ctx $P --max-windows 1 --speed $common > /tmp/bf16.json 2>/tmp/err.txt || tail -3 /tmp/err.txt
  base=$(python3 -c "import json;print(json.loads(open('/tmp/bf16.json').read().strip().splitlines()[-1])['decode_tokens_per_second'])" 2>/dev/null)
  line "bf16" /tmp/bf16.json ""
  "$CLI" compress $M --recipe W4A16 $cal $common > /tmp/fake.json 2>/tmp/err.txt || tail -3 /tmp/err.txt
  line "W4A16-G128 fake-quantized" /tmp/fake.json "$base"
  "$CLI" compress $M --recipe W4A16 $cal --packed $common > /tmp/packed.json 2>/tmp/err.txt || tail -3 /tmp/err.txt
  line "W4A16-G128 packed" /tmp/packed.json "$base"
  "$CLI" compress $M --recipe /tmp/kivi2.json $cal $common > /tmp/kivi.json 2>/tmp/err.txt || tail -3 /tmp/err.txt
  line "KIVI-2 cache" /tmp/kivi.json "$base"
} 2>&1 | tee -a "$OUT/decode_8b.txt"
