#!/usr/bin/env python3
"""Writes a Mamba-2 checkpoint with real shapes and random weights for size and speed measurements
(transformers' Mamba2ForCausalLM names; bf16 shards with an index; tied head), plus a small model's
tokenizer files. Needs torch (the GPU machine). Never committed.

  make_random_mamba2.py OUT_DIR [--layers 64] [--hidden 2560] [--head-dim 64] [--state 128]
                        [--groups 1] [--vocab 50288] [--tokenizer-from DIR]   (defaults: Mamba-2 2.7B)

The scan parameters are drawn as Mamba-2 initializes them (A in [1, 16], Δ in [0.001, 0.1] through
dt_bias = softplus⁻¹(Δ), D = 1), so that the recurrence is stable and the activations realistic in
scale; the linear weights are N(0, 0.02)."""
import argparse, json, math, os, shutil

import torch
from safetensors.torch import save_file

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--layers", type=int, default=64)
p.add_argument("--hidden", type=int, default=2560)
p.add_argument("--head-dim", type=int, default=64)
p.add_argument("--state", type=int, default=128)
p.add_argument("--groups", type=int, default=1)
p.add_argument("--vocab", type=int, default=50288)
p.add_argument("--tokenizer-from", default="")
a = p.parse_args()
os.makedirs(a.out, exist_ok=True)
dev = "cuda" if torch.cuda.is_available() else "cpu"
g = torch.Generator(device=dev).manual_seed(0)
d_inner = 2 * a.hidden
heads = d_inner // a.head_dim
conv_dim = d_inner + 2 * a.groups * a.state
bf = torch.bfloat16


def rnd(*shape, std=0.02):
    return (torch.randn(*shape, generator=g, device=dev) * std).to(bf).cpu()


def uni(n, lo, hi):
    return (torch.rand(n, generator=g, device=dev) * (hi - lo) + lo).cpu()


shards, cur, size, index = [], {}, 0, {}


def put(name, t):
    global cur, size
    cur[name] = t.contiguous()
    size += t.numel() * t.element_size()
    if size > 4_000_000_000:
        shards.append(cur)
        cur, size = {}, 0


put("backbone.embeddings.weight", rnd(a.vocab, a.hidden))
for i in range(a.layers):
    m = f"backbone.layers.{i}."
    put(m + "norm.weight", torch.ones(a.hidden, dtype=bf))
    put(m + "mixer.in_proj.weight", rnd(2 * d_inner + 2 * a.groups * a.state + heads, a.hidden))
    put(m + "mixer.conv1d.weight", rnd(conv_dim, 1, 4, std=0.2))
    put(m + "mixer.conv1d.bias", torch.zeros(conv_dim, dtype=bf))
    dt = torch.exp(uni(heads, math.log(0.001), math.log(0.1)))
    put(m + "mixer.dt_bias", (dt + torch.log(-torch.expm1(-dt))).to(bf))
    put(m + "mixer.A_log", torch.log(uni(heads, 1, 16)).to(bf))
    put(m + "mixer.D", torch.ones(heads, dtype=bf))
    put(m + "mixer.norm.weight", torch.ones(d_inner, dtype=bf))
    put(m + "mixer.out_proj.weight", rnd(a.hidden, d_inner))
put("backbone.norm_f.weight", torch.ones(a.hidden, dtype=bf))
if cur:
    shards.append(cur)
n = len(shards)
total = 0
for k, sh in enumerate(shards):
    fn = f"model-{k + 1:05d}-of-{n:05d}.safetensors"
    save_file(sh, os.path.join(a.out, fn), metadata={"format": "pt"})
    for name, t in sh.items():
        index[name] = fn
        total += t.numel() * t.element_size()
json.dump({"metadata": {"total_size": total}, "weight_map": index}, open(os.path.join(a.out, "model.safetensors.index.json"), "w"), indent=1)
cfg = {"architectures": ["Mamba2ForCausalLM"], "model_type": "mamba2", "hidden_size": a.hidden, "num_hidden_layers": a.layers,
       "expand": 2, "head_dim": a.head_dim, "num_heads": heads, "n_groups": a.groups, "state_size": a.state, "conv_kernel": 4,
       "chunk_size": 256, "vocab_size": a.vocab, "layer_norm_epsilon": 1e-5, "hidden_act": "silu", "use_bias": False,
       "use_conv_bias": True, "residual_in_fp32": True, "tie_word_embeddings": True, "time_step_limit": [0.0, {"__float__": "Infinity"}],
       "torch_dtype": "bfloat16", "bos_token_id": 0, "eos_token_id": 0, "pad_token_id": 0}
json.dump(cfg, open(os.path.join(a.out, "config.json"), "w"), indent=1)
if a.tokenizer_from:
    for f in ("tokenizer.json", "tokenizer_config.json"):
        if os.path.exists(os.path.join(a.tokenizer_from, f)):
            shutil.copy(os.path.join(a.tokenizer_from, f), a.out)
print(f"{a.out}: {total / 2e9:.2f} B parameters, {total / 1e9:.2f} GB in {n} shards")
