#!/usr/bin/python3
"""Tiny random Llama GGUF writer, GGUF reader and numpy reference forward pass.

Independent of llama.cpp and of Quench: used to check that the llama.cpp
scoring harness (score.mjs) returns the model's raw softmax probabilities.

Needs numpy (Debian: apt-get install python3-numpy; run with /usr/bin/python3).

  make_toy_gguf.py write OUT.gguf [--vocab 300] [--tokenizer gpt2|none]
                   [--add-bos] [--tied] [--seed 0] [--windows W.json --n-windows 3 --len 24]
  make_toy_gguf.py ref   MODEL.gguf WINDOWS.json REF.json   # numpy nll/top1, same JSON as score.mjs
  make_toy_gguf.py compare REF.json OUT.json [--tol 1e-3]    # exit 1 if they disagree

`ref` works on any llama-architecture GGUF whose tensors are all F32
(the reader does not dequantize).
"""
import argparse
import json
import struct
import sys

import numpy as np

# ---------------------------------------------------------------- GGUF format
GGUF_MAGIC = b"GGUF"
T_U8, T_I8, T_U16, T_I16, T_U32, T_I32, T_F32, T_BOOL, T_STR, T_ARR, T_U64, T_I64, T_F64 = range(13)
_SCALAR = {T_U8: "<B", T_I8: "<b", T_U16: "<H", T_I16: "<h", T_U32: "<I", T_I32: "<i",
           T_F32: "<f", T_BOOL: "<?", T_U64: "<Q", T_I64: "<q", T_F64: "<d"}
GGML_F32 = 0


def _s(b):
    b = b.encode("utf-8") if isinstance(b, str) else b
    return struct.pack("<Q", len(b)) + b


def _val(t, v):
    if t == T_STR:
        return _s(v)
    if t == T_ARR:
        et, items = v
        out = struct.pack("<IQ", et, len(items))
        return out + b"".join(_val(et, x) for x in items)
    return struct.pack(_SCALAR[t], v)


def write_gguf(path, kvs, tensors, alignment=32):
    """kvs: list of (key, type, value); tensors: list of (name, np.ndarray float32).

    A numpy array of shape (d_{n-1}, ..., d_0) (row-major, last axis contiguous)
    is stored with ggml ne = [d_0, ..., d_{n-1}]: a torch [out, in] weight has ne = [in, out].
    """
    head = GGUF_MAGIC + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for k, t, v in kvs:
        head += _s(k) + struct.pack("<I", t) + _val(t, v)
    offs, off = [], 0
    for name, a in tensors:
        off = (off + alignment - 1) // alignment * alignment
        offs.append(off)
        off += a.astype(np.float32).nbytes
    for (name, a), o in zip(tensors, offs):
        ne = list(reversed(a.shape))
        head += _s(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne)
        head += struct.pack("<IQ", GGML_F32, o)
    with open(path, "wb") as f:
        f.write(head)
        f.write(b"\0" * ((-len(head)) % alignment))
        pos = 0
        for (name, a), o in zip(tensors, offs):
            f.write(b"\0" * (o - pos))
            b = np.ascontiguousarray(a, dtype="<f4").tobytes()
            f.write(b)
            pos = o + len(b)


def read_gguf(path):
    """Returns (kv dict, tensor dict name -> np.ndarray float32 in numpy order). F32 tensors only."""
    data = open(path, "rb").read()
    p = 0

    def take(fmt):
        nonlocal p
        v = struct.unpack_from(fmt, data, p)
        p += struct.calcsize(fmt)
        return v[0] if len(v) == 1 else v

    def rstr():
        nonlocal p
        n = take("<Q")
        s = data[p:p + n].decode("utf-8", "replace")
        p += n
        return s

    def rval(t):
        if t == T_STR:
            return rstr()
        if t == T_ARR:
            et, n = take("<I"), take("<Q")
            return [rval(et) for _ in range(n)]
        return take(_SCALAR[t])

    assert data[:4] == GGUF_MAGIC, "not a GGUF file"
    p = 4
    version, n_t, n_kv = take("<I"), take("<Q"), take("<Q")
    assert version in (2, 3)
    kv = {}
    for _ in range(n_kv):
        k = rstr()
        kv[k] = rval(take("<I"))
    infos = []
    for _ in range(n_t):
        name = rstr()
        nd = take("<I")
        ne = [take("<Q") for _ in range(nd)]
        typ, off = take("<I"), take("<Q")
        infos.append((name, ne, typ, off))
    align = kv.get("general.alignment", 32)
    base = (p + align - 1) // align * align
    tensors = {}
    for name, ne, typ, off in infos:
        if typ != GGML_F32:
            raise SystemExit(f"tensor {name}: ggml type {typ} is not F32; the reference reads F32 only")
        n = int(np.prod(ne))
        a = np.frombuffer(data, dtype="<f4", count=n, offset=base + off)
        tensors[name] = a.reshape(list(reversed(ne))).astype(np.float32)
    return kv, tensors


# ---------------------------------------------------------------- toy model
def bytes_to_unicode():
    """GPT-2 byte-level alphabet: byte -> printable unicode char."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def make_toy(args):
    rng = np.random.default_rng(args.seed)
    V, D, L, H, HKV, F, CTX = args.vocab, args.hidden, args.layers, args.heads, args.kv_heads, args.ff, args.ctx
    hd = D // H

    def w(out, inp, scale=1.0):  # torch layout [out, in]
        return (rng.standard_normal((out, inp)) * scale / np.sqrt(inp)).astype(np.float32)

    def norm_w(n):
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    tensors = [("token_embd.weight", rng.standard_normal((V, D)).astype(np.float32))]
    for i in range(L):
        tensors += [
            (f"blk.{i}.attn_norm.weight", norm_w(D)),
            (f"blk.{i}.attn_q.weight", w(H * hd, D)),
            (f"blk.{i}.attn_k.weight", w(HKV * hd, D)),
            (f"blk.{i}.attn_v.weight", w(HKV * hd, D)),
            (f"blk.{i}.attn_output.weight", w(D, H * hd)),
            (f"blk.{i}.ffn_norm.weight", norm_w(D)),
            (f"blk.{i}.ffn_gate.weight", w(F, D)),
            (f"blk.{i}.ffn_up.weight", w(F, D)),
            (f"blk.{i}.ffn_down.weight", w(D, F)),
        ]
    tensors.append(("output_norm.weight", norm_w(D)))
    if not args.tied:
        tensors.append(("output.weight", w(V, D, scale=3.0)))

    arch = "llama"
    kvs = [
        ("general.architecture", T_STR, arch),
        ("general.name", T_STR, "quench-toy-llama"),
        ("general.alignment", T_U32, 32),
        (f"{arch}.context_length", T_U32, CTX),
        (f"{arch}.embedding_length", T_U32, D),
        (f"{arch}.block_count", T_U32, L),
        (f"{arch}.feed_forward_length", T_U32, F),
        (f"{arch}.attention.head_count", T_U32, H),
        (f"{arch}.attention.head_count_kv", T_U32, HKV),
        (f"{arch}.attention.layer_norm_rms_epsilon", T_F32, 1e-5),
        (f"{arch}.rope.dimension_count", T_U32, hd),
        (f"{arch}.rope.freq_base", T_F32, 10000.0),
        (f"{arch}.vocab_size", T_U32, V),
    ]
    if args.tokenizer == "gpt2":
        b2u = bytes_to_unicode()
        toks = [b2u[b] for b in range(256)]
        types = [1] * 256  # LLAMA_TOKEN_TYPE_NORMAL
        while len(toks) < V - 1:
            toks.append(f"<extra_{len(toks)}>")
            types.append(1)
        toks.append("<|endoftext|>")
        types.append(3)  # LLAMA_TOKEN_TYPE_CONTROL
        assert len(toks) == V and len(set(toks)) == V
        eot = V - 1
        kvs += [
            ("tokenizer.ggml.model", T_STR, "gpt2"),
            ("tokenizer.ggml.pre", T_STR, "gpt-2"),
            ("tokenizer.ggml.tokens", T_ARR, (T_STR, toks)),
            ("tokenizer.ggml.token_type", T_ARR, (T_I32, types)),
            ("tokenizer.ggml.merges", T_ARR, (T_STR, [])),
            ("tokenizer.ggml.bos_token_id", T_U32, eot),
            ("tokenizer.ggml.eos_token_id", T_U32, eot),
            ("tokenizer.ggml.add_bos_token", T_BOOL, bool(args.add_bos)),
        ]
    elif args.tokenizer == "dummy":
        # minimal placeholder for models without a tokenizer: V unique strings, no byte tokens, no merges
        kvs += [
            ("tokenizer.ggml.model", T_STR, "gpt2"),
            ("tokenizer.ggml.pre", T_STR, "default"),
            ("tokenizer.ggml.tokens", T_ARR, (T_STR, [f"<t{i}>" for i in range(V)])),
            ("tokenizer.ggml.merges", T_ARR, (T_STR, [])),
            ("tokenizer.ggml.add_bos_token", T_BOOL, False),
        ]
    elif args.tokenizer == "none":
        kvs += [("tokenizer.ggml.model", T_STR, "none")]
    elif args.tokenizer != "absent":
        raise SystemExit("unknown --tokenizer")
    write_gguf(args.out, kvs, tensors)
    print(f"wrote {args.out}: vocab {V}, hidden {D}, layers {L}, heads {H}/{HKV}, ff {F}, "
          f"tokenizer {args.tokenizer}, tied {bool(args.tied)}")

    if args.windows:
        wins = [rng.integers(0, V, size=args.len).tolist() for _ in range(args.n_windows)]
        json.dump({"windows": wins}, open(args.windows, "w"))
        print(f"wrote {args.windows}: {args.n_windows} windows of {args.len} tokens")


# ---------------------------------------------------------------- reference forward
def rms_norm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rope_norm(x, n_rot, base):
    """llama.cpp LLAMA_ROPE_TYPE_NORM (used by arch llama): rotate adjacent pairs (2i, 2i+1).
    x: [T, heads, hd]."""
    T = x.shape[0]
    pos = np.arange(T, dtype=np.float64)[:, None]
    inv = base ** (-np.arange(0, n_rot, 2, dtype=np.float64) / n_rot)
    ang = pos * inv[None, :]  # [T, n_rot/2]
    c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    y = x.copy()
    x0, x1 = x[..., 0:n_rot:2], x[..., 1:n_rot:2]
    y[..., 0:n_rot:2] = x0 * c - x1 * s
    y[..., 1:n_rot:2] = x0 * s + x1 * c
    return y


def forward(kv, t, tokens):
    """Returns logits [T, V] (float64) for the token ids `tokens`."""
    a = kv["general.architecture"]
    D, L = kv[f"{a}.embedding_length"], kv[f"{a}.block_count"]
    H = kv[f"{a}.attention.head_count"]
    HKV = kv.get(f"{a}.attention.head_count_kv", H)
    eps = kv[f"{a}.attention.layer_norm_rms_epsilon"]
    hd = D // H
    n_rot = kv.get(f"{a}.rope.dimension_count", hd)
    base = kv.get(f"{a}.rope.freq_base", 10000.0)
    g = {k: v.astype(np.float64) for k, v in t.items()}
    x = g["token_embd.weight"][np.asarray(tokens)]
    T = len(tokens)
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for i in range(L):
        b = f"blk.{i}."
        h = rms_norm(x, g[b + "attn_norm.weight"], eps)
        q = (h @ g[b + "attn_q.weight"].T).reshape(T, H, hd)
        k = (h @ g[b + "attn_k.weight"].T).reshape(T, HKV, hd)
        v = (h @ g[b + "attn_v.weight"].T).reshape(T, HKV, hd)
        q, k = rope_norm(q, n_rot, base), rope_norm(k, n_rot, base)
        rep = H // HKV  # consecutive q heads share a kv head (ggml broadcast = HF repeat_kv)
        k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)
        att = np.einsum("thd,shd->hts", q, k) / np.sqrt(hd) + mask
        att = np.exp(att - att.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        o = np.einsum("hts,shd->thd", att, v).reshape(T, H * hd)
        x = x + o @ g[b + "attn_output.weight"].T
        h = rms_norm(x, g[b + "ffn_norm.weight"], eps)
        gate, up = h @ g[b + "ffn_gate.weight"].T, h @ g[b + "ffn_up.weight"].T
        x = x + (gate / (1 + np.exp(-gate)) * up) @ g[b + "ffn_down.weight"].T
    x = rms_norm(x, g["output_norm.weight"], eps)
    out = g.get("output.weight", g["token_embd.weight"])
    return x @ out.T


def reference(args):
    kv, t = read_gguf(args.model)
    wins = json.load(open(args.windows))["windows"]
    res = []
    V = None
    for w in wins:
        lg = forward(kv, t, w)
        V = lg.shape[1]
        lse = np.log(np.exp(lg - lg.max(-1, keepdims=True)).sum(-1)) + lg.max(-1)
        logp = lg - lse[:, None]
        res.append({"nll": [float(logp[i, w[i + 1]]) for i in range(len(w) - 1)],
                    "top1": [int(np.argmax(lg[i])) for i in range(len(w) - 1)]})
    json.dump({"windows": res, "vocab": V}, open(args.out, "w"))
    print(f"wrote {args.out}: {len(res)} windows")


def compare(args):
    r, o = json.load(open(args.ref)), json.load(open(args.out))
    ok = r["vocab"] == o["vocab"] and len(r["windows"]) == len(o["windows"])
    max_abs = max_rel = 0.0
    top1_mismatch = n = 0
    for rw, ow in zip(r["windows"], o["windows"]):
        a, b = np.array(rw["nll"]), np.array(ow["nll"])
        ok &= a.shape == b.shape
        if a.shape != b.shape:
            continue
        d = np.abs(a - b)
        max_abs = max(max_abs, float(d.max()))
        max_rel = max(max_rel, float((d / np.maximum(np.abs(a), 1e-6)).max()))
        top1_mismatch += int(sum(x != y for x, y in zip(rw["top1"], ow["top1"])))
        n += len(a)
    sr = sum(sum(w["nll"]) for w in r["windows"])
    so = sum(sum(w["nll"]) for w in o["windows"])
    rel_total = abs(sr - so) / max(abs(sr), 1e-12)
    print(f"positions {n}  vocab ref {r['vocab']} out {o['vocab']}  max|d logp| {max_abs:.3e}  "
          f"max rel {max_rel:.3e}  total-logp rel {rel_total:.3e}  top1 mismatches {top1_mismatch}")
    ok &= max_rel <= args.tol
    print("AGREE" if ok else "DISAGREE")
    sys.exit(0 if ok else 1)


def main():
    ap = argparse.ArgumentParser()
    sp = ap.add_subparsers(dest="cmd", required=True)
    w = sp.add_parser("write")
    w.add_argument("out")
    w.add_argument("--vocab", type=int, default=300)
    w.add_argument("--hidden", type=int, default=64)
    w.add_argument("--layers", type=int, default=2)
    w.add_argument("--heads", type=int, default=4)
    w.add_argument("--kv-heads", type=int, default=2)
    w.add_argument("--ff", type=int, default=128)
    w.add_argument("--ctx", type=int, default=256)
    w.add_argument("--tokenizer", default="gpt2", help="gpt2 | dummy | none | absent")
    w.add_argument("--add-bos", action="store_true")
    w.add_argument("--tied", action="store_true")
    w.add_argument("--seed", type=int, default=0)
    w.add_argument("--windows")
    w.add_argument("--n-windows", type=int, default=3)
    w.add_argument("--len", type=int, default=24)
    r = sp.add_parser("ref")
    r.add_argument("model")
    r.add_argument("windows")
    r.add_argument("out")
    c = sp.add_parser("compare")
    c.add_argument("ref")
    c.add_argument("out")
    c.add_argument("--tol", type=float, default=1e-3)
    a = ap.parse_args()
    {"write": make_toy, "ref": reference, "compare": compare}[a.cmd](a)


if __name__ == "__main__":
    main()
