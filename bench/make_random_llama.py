#!/usr/bin/env python3
"""Writes a Llama checkpoint with real shapes and random bf16 weights (N(0, 0.02), norms 1) for
size and speed measurements: config.json, model-0000k-of-0000n.safetensors shards with an index,
and the tokenizer files of a small model (so tools that need a tokenizer run; ids stay below its
vocabulary). Never committed: generated on the GPU machine or in /tmp.

  make_random_llama.py OUT_DIR [--layers 32] [--hidden 4096] [--ffn 14336] [--heads 32] [--kv-heads 8]
                       [--vocab 128256] [--tied] [--tokenizer-from DIR]        (defaults: Llama-3-8B)
  Llama-3.2-1B: --layers 16 --hidden 2048 --ffn 8192 --heads 32 --kv-heads 8 --tied

With torch (the GPU machine) the weights are drawn there; without it (this CPU machine has Debian's
python3-numpy only) numpy draws them and the safetensors files are written here.

--sparse writes the headers only, the data as holes (zeros that take no disk): a real-size
checkpoint in a second for what reads headers (inspect, opening in the window) on any machine."""
import argparse, json, os, shutil, struct
try:
    import torch
    from safetensors.torch import save_file
except ImportError:
    torch = None
    try:
        import numpy as np
    except ImportError:  # enough for --sparse
        np = None

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--layers", type=int, default=32)
p.add_argument("--hidden", type=int, default=4096)
p.add_argument("--ffn", type=int, default=14336)
p.add_argument("--heads", type=int, default=32)
p.add_argument("--kv-heads", type=int, default=8)
p.add_argument("--vocab", type=int, default=128256)
p.add_argument("--tied", action="store_true", help="tie the head to the embedding (no lm_head.weight)")
p.add_argument("--tokenizer-from", default="")
p.add_argument("--sparse", action="store_true", help="headers only, the data as file holes (all zeros)")
a = p.parse_args()
os.makedirs(a.out, exist_ok=True)


def write_header(f, tensors, metadata):
    """The safetensors header of bf16 `tensors` (anything with .shape and .nbytes); returns the file's full size."""
    header, off = {"__metadata__": metadata}, 0
    for k, t in tensors.items():
        header[k] = {"dtype": "BF16", "shape": list(t.shape), "data_offsets": [off, off + t.nbytes]}
        off += t.nbytes
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    f.write(struct.pack("<Q", len(h)) + h)
    return 8 + len(h) + off


if a.sparse:
    class Hole:  # a tensor's shape and size, no values
        def __init__(self, *shape):
            self.shape, self.nbytes = shape, 2
            for d in shape:
                self.nbytes *= d

    rnd = ones = Hole

    def nbytes(t):
        return t.nbytes

    def save_file(tensors, path, metadata):
        with open(path, "wb") as f:
            f.truncate(write_header(f, tensors, metadata))
elif torch is None and np is None:
    p.error("random weights need torch or numpy (Debian: python3-numpy); --sparse needs neither")
elif torch is not None:
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    g = torch.Generator(device=dev).manual_seed(0)

    def rnd(*shape):
        return (torch.randn(*shape, generator=g, device=dev, dtype=torch.float32) * 0.02).to(torch.bfloat16).cpu()

    def ones(n):
        return torch.ones(n, dtype=torch.bfloat16)

    def nbytes(t):
        return t.numel() * t.element_size()
else:
    rng = np.random.default_rng(0)

    def rnd(*shape):  # bf16 = the top half of the float32 bits, rounded to nearest even
        x = (rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)).view(np.uint32)
        return ((x + 0x7FFF + ((x >> 16) & 1)) >> 16).astype(np.uint16)

    def ones(n):
        return np.full(n, 0x3F80, dtype=np.uint16)

    def nbytes(t):
        return t.nbytes

    def save_file(tensors, path, metadata):
        with open(path, "wb") as f:
            write_header(f, tensors, metadata)
            for t in tensors.values():
                f.write(np.ascontiguousarray(t).tobytes())

hd = a.hidden // a.heads

shards, cur, size, index = [], {}, 0, {}
def put(name, t):
    global cur, size
    cur[name] = t
    size += nbytes(t)
    if size > 4_000_000_000:
        flush()
def flush():
    global cur, size
    if cur:
        shards.append(cur)
        cur, size = {}, 0

put("model.embed_tokens.weight", rnd(a.vocab, a.hidden))
for i in range(a.layers):
    pre = f"model.layers.{i}."
    put(pre + "input_layernorm.weight", ones(a.hidden))
    put(pre + "post_attention_layernorm.weight", ones(a.hidden))
    put(pre + "self_attn.q_proj.weight", rnd(a.heads * hd, a.hidden))
    put(pre + "self_attn.k_proj.weight", rnd(a.kv_heads * hd, a.hidden))
    put(pre + "self_attn.v_proj.weight", rnd(a.kv_heads * hd, a.hidden))
    put(pre + "self_attn.o_proj.weight", rnd(a.hidden, a.heads * hd))
    put(pre + "mlp.gate_proj.weight", rnd(a.ffn, a.hidden))
    put(pre + "mlp.up_proj.weight", rnd(a.ffn, a.hidden))
    put(pre + "mlp.down_proj.weight", rnd(a.hidden, a.ffn))
put("model.norm.weight", ones(a.hidden))
if not a.tied:
    put("lm_head.weight", rnd(a.vocab, a.hidden))
flush()
n = len(shards)
for k, sh in enumerate(shards):
    fn = f"model-{k + 1:05d}-of-{n:05d}.safetensors"
    save_file(sh, os.path.join(a.out, fn), metadata={"format": "pt"})
    for name in sh:
        index[name] = fn
total = sum(nbytes(t) for sh in shards for t in sh.values())
json.dump({"metadata": {"total_size": total}, "weight_map": index}, open(os.path.join(a.out, "model.safetensors.index.json"), "w"), indent=1)
cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": a.hidden, "intermediate_size": a.ffn,
       "num_hidden_layers": a.layers, "num_attention_heads": a.heads, "num_key_value_heads": a.kv_heads, "head_dim": hd,
       "vocab_size": a.vocab, "max_position_embeddings": 8192, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
       "hidden_act": "silu", "tie_word_embeddings": a.tied, "torch_dtype": "bfloat16", "bos_token_id": 0, "eos_token_id": 0}
json.dump(cfg, open(os.path.join(a.out, "config.json"), "w"), indent=1)
if a.tokenizer_from:
    for f in ("tokenizer.json", "tokenizer_config.json"):
        if os.path.exists(os.path.join(a.tokenizer_from, f)):
            shutil.copy(os.path.join(a.tokenizer_from, f), a.out)
print(f"{a.out}: {sum(nbytes(t) // 2 for sh in shards for t in sh.values()) / 1e9:.2f} B parameters, {total / 1e9:.2f} GB in {n} shards")
