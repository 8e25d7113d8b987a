#!/usr/bin/env bash
# Export at real size, on the GPU machine (device tool, carry [".carry"]): builds quench-cli, makes
# an 8B-shaped random Llama (bench/make_random_llama.py), compresses it with RTN on CUDA and writes
# W4A16-G128 as compressed-tensors and Q4_0 as GGUF, timing each export and measuring its size
# against the 16-bit input and the size estimate, and the export check (the written model reopened
# and compared with the compressed one). Then the compressed-tensors export is opened as a model
# (inspect, eval on CUDA). Arguments: the jobs to run, "ct", "gguf" and/or "static" (W8A8 with
# static per-tensor input scales and an FP8 KV cache, as compressed-tensors), "nvfp4" (NVFP4A16 to
# both formats), and "diff" (after a
# compressed-tensors job: quench-cli diff against the float model, timed); default "ct gguf"; each
# fits one 10-minute device command. Results appended to $OUT/export_8b.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
source bench/device_build.sh
M=/tmp/llama-8b
ARGS=" ${*:-ct gguf} "
[ -f $M/config.json ] || python3 bench/make_random_llama.py $M --tokenizer-from resources/demo/sotu-llama
du -sh $M
{
  echo "== $(date -u +%F) $(nvidia-smi --query-gpu=name --format=csv,noheader)"
  jobs=()
  for want in ${@:-ct gguf}; do
    [ "$want" = ct ] && jobs+=("W4A16 compressed-tensors /tmp/out-ct")
    [ "$want" = gguf ] && jobs+=("Q4_0 gguf /tmp/out.gguf")
    [ "$want" = static ] && jobs+=("/tmp/w8a8-static-fp8kv.json compressed-tensors /tmp/out-ct")
    [ "$want" = nvfp4 ] && jobs+=("NVFP4A16 compressed-tensors /tmp/out-ct" "NVFP4A16 gguf /tmp/out.gguf")
  done
  cat > /tmp/w8a8-static-fp8kv.json <<'JSON'
{"default": {"weights": {"bits": 8, "strategy": "channel"}, "activations": {"bits": 8, "strategy": "tensor", "dynamic": false}},
 "kv_cache": {"method": "fp8"}}
JSON
  # Static scales need calibration windows: 4 of 128 tokens for every job (RTN ignores them).
  for job in "${jobs[@]}"; do
    set -- $job
    rm -rf /tmp/out-ct /tmp/out.gguf  # the GGUF check converts to F32 in /tmp: keep the disk for it
    rm -rf "$3"
    /usr/bin/time -v "$CLI" compress $M --recipe $1 --calib resources/demo/sotu-calib.txt --samples 4 --seq 128 --measure-samples 0 \
      --device cuda --no-record --save-model "$3" --format $2 --json 2>/tmp/time.txt >/tmp/run.json
    rc=$?
    python3 - "$1" "$2" "$rc" <<'PY'
import json, sys, re
scheme, fmt, rc = sys.argv[1:]
t = open('/tmp/time.txt').read()
rss = re.search(r'Maximum resident set size \(kbytes\): (\d+)', t)
wall = re.search(r'Elapsed \(wall clock\) time.*: (\S+)', t)
try:
    j = json.load(open('/tmp/run.json'))
except Exception:
    print(scheme, fmt, 'failed rc', rc, t[-2000:]); sys.exit()
m, s = j['metrics'], j['size']
print(f"{scheme} -> {fmt}: export {m['export_seconds']:.1f} s, {m['export_bytes']/1e9:.3f} GB on disk "
      f"(estimate {s['bytes']/1e9:.3f} GB, {100*(m['export_bytes']/s['bytes']-1):+.2f} %; 16-bit {s['original_bytes']/1e9:.3f} GB); "
      f"compress {m['compress_seconds']:.1f} s; bits/weight {s['bits_per_weight']:.3f}; wall {wall.group(1) if wall else '?'}; "
      f"peak RSS {int(rss.group(1))/1e6 if rss else 0:.1f} GB")
if 'export_tensors_checked' in m:
    print(f"  export check: {int(m['export_tensors_checked'])} tensors read back in {m['export_check_seconds']:.1f} s, "
          f"{int(m['export_tensors_inexact'])} different, max |d| {m['export_weight_max_abs_error']:.3g}")
if 'export_top1_agreement' in m:
    print(f"  export check: reopened in {m['export_check_seconds']:.1f} s, top-1 agreement {100*m['export_top1_agreement']:.2f} %, "
          f"max |dlogit|/max |logit| {m['export_logits_rel_error']:.3g}, KL {m['export_kl']:.3g}")
PY
    ls -la "$3" | head -8
    if [ "$2" = compressed-tensors ] && [ -f "$3/config.json" ]; then
      /usr/bin/time -f "  inspect of the compressed-tensors export: %e s, peak RSS %M kB" "$CLI" inspect "$3" | grep -E "stored as|parameters"
      /usr/bin/time -f "  eval of the compressed-tensors export (cuda bf16, 8 x 256): %e s, peak RSS %M kB" "$CLI" eval "$3" --device cuda \
        --dtype bfloat16 --text resources/demo/sotu-2000-2023.txt --ctx 256 --max-windows 8 --no-record | tail -2
    fi
    if [ "$2" = gguf ] && [ -f "$3" ]; then
      # The first open converts the GGUF into an F32 checkpoint in the cache, tensor by tensor.
      rm -rf "${XDG_CACHE_HOME:-$HOME/.cache}/quench/gguf"
      /usr/bin/time -f "  inspect of the GGUF (first open: streamed conversion into the cache): %e s, peak RSS %M kB" "$CLI" inspect "$3" | grep -E "parameters" | head -1
      /usr/bin/time -f "  eval of the GGUF (cached conversion), cuda bf16, 4 x 256: %e s, peak RSS %M kB" "$CLI" eval "$3" --device cuda \
        --dtype bfloat16 --text resources/demo/sotu-2000-2023.txt --ctx 256 --max-windows 4 --no-record | tail -1
      rm -rf "${XDG_CACHE_HOME:-$HOME/.cache}/quench/gguf"
    fi
    if [[ "$ARGS" == *" diff "* ]] && [ "$2" = compressed-tensors ] && [ -f "$3/config.json" ]; then
      /usr/bin/time -f "  diff against the float model: %e s, peak RSS %M kB" "$CLI" diff $M "$3" --top 3 --json 2>/tmp/diff-time.txt >/tmp/diff.json
      cat /tmp/diff-time.txt | tail -3
      python3 - <<'PY'
import json, statistics
try:
    j = json.load(open('/tmp/diff.json'))
except Exception as e:
    print('  diff failed:', e); raise SystemExit
q = [l for l in j['layers'] if not l['exact']]
s = sorted(l['sqnr_db'] for l in q)
print(f"  diff: {len(j['layers'])} layers, {len(q)} changed; weight SQNR min {s[0]:.2f} / median {statistics.median(s):.2f} / max {s[-1]:.2f} dB; "
      f"types {sorted({l['type'] for l in q})}")
PY
    fi
  done
} 2>&1 | tee -a "$OUT/export_8b.txt"
