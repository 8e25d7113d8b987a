#!/usr/bin/env python3
"""A Llama-3.2-1B-shaped checkpoint (1.24 B parameters, 2.5 GB of random bf16 weights, tied head)
is calibrated, evaluated, and compressed with RTN W8A16 and saved (then reopened by the export
check) by the real quench-cli with --max-memory 1, streamed one block at a time, each run within
1.5 GB of peak resident memory (the child's ru_maxrss, from wait4). Loaded
whole in float32 the same model takes 5 GB of weights alone (issue 20).

    tests/cli/streaming_rss_test.py --cli build/app/cli/quench-cli --demo resources/demo
        [--make bench/make_random_llama.py] [--keep DIR]

The checkpoint is written by bench/make_random_llama.py (numpy) into a temporary folder and
removed afterwards. Standard library and numpy only; exits 1 on a failure, naming it.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

LIMIT_MIB = 1536

p = argparse.ArgumentParser()
p.add_argument("--cli", required=True)
p.add_argument("--demo", required=True)
p.add_argument("--make", default=os.path.join(os.path.dirname(__file__), "..", "..", "bench", "make_random_llama.py"))
p.add_argument("--keep", default="", help="reuse (or create and keep) the checkpoint in this folder")
a = p.parse_args()


class MeasuredPopen(subprocess.Popen):
    """Popen that reaps its child with wait4, keeping that child's own peak RSS."""
    maxrss_mib = None

    def _try_wait(self, wait_flags):
        pid, sts, ru = os.wait4(self.pid, wait_flags)
        if pid == self.pid:
            self.maxrss_mib = ru.ru_maxrss / 1024.0
        return (pid, sts)


def run(args):
    """Runs quench-cli; returns (exit code, stdout, stderr, peak RSS in MiB, seconds)."""
    t0 = time.time()
    child = MeasuredPopen([a.cli] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = child.communicate()
    return child.returncode, out, err, child.maxrss_mib, time.time() - t0


tmp = a.keep or tempfile.mkdtemp(prefix="quench-stream-")
model = os.path.join(tmp, "llama-1b")
failures = []
try:
    if not os.path.exists(os.path.join(model, "config.json")):
        t0 = time.time()
        subprocess.run([sys.executable, a.make, model, "--layers", "16", "--hidden", "2048", "--ffn", "8192", "--heads", "32",
                        "--kv-heads", "8", "--tied", "--tokenizer-from", os.path.join(a.demo, "sotu-llama")], check=True)
        print(f"wrote {model} in {time.time() - t0:.0f} s", flush=True)
    text = os.path.join(a.demo, "sotu-calib.txt")
    jobs = {
        "calibrate": ["calibrate", model, "--text", text, "--samples", "2", "--seq", "32", "--batch", "1", "--max-memory", "1",
                      "--no-record"],  # no --json: its histograms of every point would be the largest thing in memory
        "eval": ["eval", model, "--text", text, "--ctx", "32", "--max-windows", "2", "--batch", "1", "--max-memory", "1",
                 "--no-record", "--json"],
        "compress": ["compress", model, "--recipe", "W8A16", "--calib", text, "--samples", "2", "--seq", "32", "--measure-samples", "2",
                     "--max-memory", "1", "--no-record", "--save-model", os.path.join(tmp, "saved"), "--json"],
    }
    for name, args in jobs.items():
        code, out, err, rss, secs = run(args)
        print(f"{name}: exit {code}, peak RSS {rss:.0f} MiB, {secs:.1f} s", flush=True)
        if code != 0:
            failures.append(f"{name}: exit {code}: {err.strip()[-2000:]}")
            continue
        if "streamed from the checkpoint one block at a time" not in err:
            failures.append(f"{name}: no streaming plan on stderr: {err.strip()[-500:]}")
        if rss > LIMIT_MIB:
            failures.append(f"{name}: peak RSS {rss:.0f} MiB is above {LIMIT_MIB} MiB")
        result = json.loads(out.strip().splitlines()[-1]) if name != "calibrate" else {}
        if name == "eval" and not (result.get("value", 0) > 1):
            failures.append(f"eval: perplexity {result.get('value')} is not a finite number above 1")
        if name == "compress":
            saved = os.path.join(tmp, "saved", "model.safetensors")
            size = os.path.getsize(saved) if os.path.exists(saved) else 0
            agreement = result.get("metrics", {}).get("export_top1_agreement", 0)
            print(f"compress: saved {size / 1e9:.2f} GB, reopened top-1 agreement {agreement:.3f}", flush=True)
            if size < 2.4e9:  # bf16 like the source: 2.47 GB
                failures.append(f"compress: {saved} holds {size} bytes, not the whole model")
            if agreement < 0.9:
                failures.append(f"compress: the saved model agrees with the compressed one on {agreement:.3f} of top-1 tokens")
            rows = [l for l in result.get("layers", []) if l.get("output_rel_mse") is not None]
            if len(rows) != 16 * 7:
                failures.append(f"compress: {len(rows)} layers with a measured output error, expected 112")
finally:
    shutil.rmtree(os.path.join(tmp, "saved"), ignore_errors=True)
    if not a.keep:
        shutil.rmtree(tmp, ignore_errors=True)

for f in failures:
    print("FAIL " + f)
print("ok" if not failures else f"{len(failures)} failed")
sys.exit(1 if failures else 0)
