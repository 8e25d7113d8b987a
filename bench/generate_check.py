#!/usr/bin/env python3
"""Greedy generation in Quench against transformers' generate() on the same checkpoint and prompt
(the GPU machine has transformers): the new token ids must be identical. Prints one line per run.

  generate_check.py QUENCH_CLI MODEL_DIR [--prompt TEXT] [--new 64] [--device cpu|cuda] [--dtype float32|bfloat16]"""
import argparse, json, subprocess, sys, time
import torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM

p = argparse.ArgumentParser()
p.add_argument("cli")
p.add_argument("model")
p.add_argument("--prompt", default="The state of the union is")
p.add_argument("--new", type=int, default=64)
p.add_argument("--device", default="cpu")
p.add_argument("--dtype", default="float32")
a = p.parse_args()

ids = Tokenizer.from_file(f"{a.model}/tokenizer.json").encode(a.prompt, add_special_tokens=True).ids
dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[a.dtype]
model = AutoModelForCausalLM.from_pretrained(a.model, dtype=dtype).to(a.device).eval()
x = torch.tensor([ids], device=a.device)
t0 = time.time()
with torch.no_grad():
    out = model.generate(x, max_new_tokens=a.new, min_new_tokens=a.new, do_sample=False, eos_token_id=None, pad_token_id=0)
hf_secs = time.time() - t0
hf = out[0, len(ids):].tolist()
q = json.loads(subprocess.run([a.cli, "generate", a.model, "--prompt", a.prompt, "--max-new-tokens", str(a.new), "--ignore-eos",
                               "--device", a.device, "--dtype", a.dtype, "--json"], check=True, capture_output=True, text=True).stdout)
same = next((i for i, (u, v) in enumerate(zip(q["tokens"], hf)) if u != v), None)
print(f"{a.model} {a.device} {a.dtype}: {len(hf)} tokens, "
      + ("identical" if same is None and len(q["tokens"]) == len(hf) else f"first difference at token {same}")
      + f"; Quench decode {q['decode_tokens_per_second']:.1f} tokens/s, transformers generate {a.new / hf_secs:.1f} tokens/s (incl. prefill)")
sys.exit(0 if same is None else 1)
