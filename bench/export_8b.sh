#!/usr/bin/env bash
# Export at real size, on the GPU machine (device tool, carry [".carry"]): builds quench-cli, makes
# an 8B-shaped random Llama (bench/make_random_llama.py), compresses it with RTN on CUDA and writes
# W4A16-G128 as compressed-tensors and Q4_0 as GGUF, timing each export and measuring its size
# against the 16-bit input and the size estimate. Results in $OUT/export_8b.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
source bench/device_build.sh
M=/tmp/llama-8b
[ -f $M/config.json ] || python3 bench/make_random_llama.py $M --tokenizer-from resources/demo/sotu-llama
du -sh $M
{
  echo "== $(date -u +%F) $(nvidia-smi --query-gpu=name --format=csv,noheader)"
  for job in "W4A16 compressed-tensors /tmp/out-ct" "Q4_0 gguf /tmp/out.gguf"; do
    set -- $job
    rm -rf "$3"
    /usr/bin/time -v "$CLI" compress $M --recipe $1 --calib resources/demo/sotu-calib.txt --samples 1 --seq 32 --measure-samples 0 \
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
PY
    ls -la "$3" | head -8
  done
} 2>&1 | tee "$OUT/export_8b.txt"
