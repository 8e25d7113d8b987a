#!/usr/bin/python3
"""Self-test of read_ct.py on a hand-built compressed-tensors checkpoint: packing follows the
pseudocode of pack_quantized.py pack_to_int32 (its docstring: 8-bit [1, 2] -> 33409), bitmasks
numpy.packbits(bitorder="little") as utils/helpers.py pack_bitmasks. Run: selftest_read_ct.py TMPDIR"""
import json, os, subprocess, sys
import numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import read_ct

def pack(q, bits, dim=1):
    v = (q.astype(np.int64) + (1 << (bits - 1))).astype(np.uint64)
    if dim == 0: v = v.T
    pf = 32 // bits
    r, c = v.shape
    pc = -(-c // pf) * pf
    v = np.pad(v, ((0, 0), (0, pc - c))).reshape(r, pc // pf, pf)
    w = np.zeros((r, pc // pf), dtype=np.uint64)
    for i in range(pf): w |= v[:, :, i] << np.uint64(bits * i)
    w = w.astype(np.uint32).view(np.int32)
    return w.T.copy() if dim == 0 else w

assert pack(np.array([[1, 2]]), 8)[0, 0] == 33409
rng = np.random.default_rng(0)
d = sys.argv[1]; os.makedirs(d, exist_ok=True)
T, ref = {}, {}
# 1) 4-bit sym group 16, act-order, out 6 x in 40? (in must be multiple of group) -> 6 x 32
q = rng.integers(-8, 8, (6, 32)); s = rng.random((6, 2)).astype(np.float32) + 0.1
g = rng.permutation(np.repeat(np.arange(2), 16)).astype(np.int32)
T["a.weight_packed"] = pack(q, 4); T["a.weight_scale"] = s; T["a.weight_g_idx"] = g
T["a.weight_shape"] = np.array([6, 32], dtype=np.int64)
ref["a.weight"] = q * s.astype(np.float64)[:, g]
# 2) 4-bit asym channel, out 9 (zero points packed along dim 0, padding)
q = rng.integers(-8, 8, (9, 12)); z = rng.integers(-8, 8, (9, 1)); s = (rng.random((9, 1)) + .1).astype(np.float32)
T["b.weight_packed"] = pack(q, 4); T["b.weight_scale"] = s; T["b.weight_zero_point"] = pack(z, 4, dim=0)
T["b.weight_shape"] = np.array([9, 12], dtype=np.int32)
ref["b.weight"] = (q - z) * s.astype(np.float64)
# 3) int8 channel + sparse 2:4
q = rng.integers(-128, 128, (4, 16)).astype(np.int8)
mask = np.zeros((4, 16), bool)
for r in range(4):
    for k in range(4): mask[r, 4 * k + rng.choice(4, 2, replace=False)] = True
q[~mask] = 0; s = (rng.random((4, 1)) + .1).astype(np.float32)
T["c.compressed"] = q[mask].reshape(4, 8); T["c.bitmask"] = np.packbits(mask, axis=-1, bitorder="little")
T["c.shape"] = np.array([[4], [16]], dtype=np.int64); T["c.weight_scale"] = s
ref["c.weight"] = q * s.astype(np.float64)
T["norm.weight"] = np.ones(4, np.float32); ref["norm.weight"] = np.ones(4)
dt = {np.dtype(np.int32): "I32", np.dtype(np.int64): "I64", np.dtype(np.float32): "F32", np.dtype(np.int8): "I8", np.dtype(np.uint8): "U8"}
def save(path, ts):
    h, blobs, off = {}, [], 0
    for n, a in ts.items():
        a = np.ascontiguousarray(a); b = a.tobytes()
        h[n] = {"dtype": dt[a.dtype] if a.dtype in dt else "F64", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b); off += len(b)
    hb = json.dumps(h).encode()
    with open(path, "wb") as f:
        f.write(len(hb).to_bytes(8, "little")); f.write(hb); [f.write(b) for b in blobs]
names = list(T)
save(os.path.join(d, "model-00001-of-00002.safetensors"), {n: T[n] for n in names[:5]})
save(os.path.join(d, "model-00002-of-00002.safetensors"), {n: T[n] for n in names[5:]})
json.dump({"weight_map": {n: "model-0000%d-of-00002.safetensors" % (1 if i < 5 else 2) for i, n in enumerate(names)}},
          open(os.path.join(d, "model.safetensors.index.json"), "w"))
w = lambda **k: dict(num_bits=4, type="int", symmetric=True, dynamic=False, **k)
cfg = {"quantization_config": {"quant_method": "compressed-tensors", "format": "mixed-precision", "quantization_status": "compressed",
  "config_groups": {"group_0": {"targets": ["re:^a$"], "format": "pack-quantized", "weights": w(strategy="group", group_size=16, actorder="group")},
                    "group_1": {"targets": ["b"], "format": "pack-quantized", "weights": {**w(strategy="channel"), "symmetric": False}},
                    "group_2": {"targets": ["re:^c$"], "format": "int-quantized", "weights": {**w(strategy="channel"), "num_bits": 8},
                                "input_activations": {"num_bits": 8, "strategy": "token", "dynamic": True}}},
  "ignore": ["lm_head"], "sparsity_config": {"format": "sparse-24-bitmask", "sparsity_structure": "2:4", "targets": ["re:^c$"], "ignore": []}}}
json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
save(os.path.join(d, "ref.safetensors"), ref)
out, summ = read_ct.read_checkpoint(d)
for n, r in ref.items():
    assert np.array_equal(out[n], r), n
rc = subprocess.call([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "read_ct.py"), d, os.path.join(d, "out.safetensors"),
                      "--check", os.path.join(d, "ref.safetensors"), "--quiet"])
assert rc == 0, rc
# static input activations: input_scale per tensor, input_zero_point int8 exactly when asymmetric
class FakeCk:
    def __init__(self, dt): self.dt = dt
    def __contains__(self, n): return n in self.dt
    def dtype(self, n): return self.dt[n]
A = lambda **k: read_ct.Args(dict(num_bits=8, strategy="tensor", dynamic=False, **k), "t")
def malformed(state, a, dt={}):
    try:
        read_ct.check_input_params(state, "p", a, FakeCk(dt), {})
        return ""
    except read_ct.Malformed as e:
        return str(e)
ok = {"p.input_scale": np.array([0.5], np.float32)}
assert malformed(ok, A()) == ""
assert malformed({**ok, "p.input_zero_point": np.array([-3], np.int8)}, A(symmetric=False), {"p.input_zero_point": "I8"}) == ""
assert "without input_scale" in malformed({}, A())
assert "positive finite" in malformed({"p.input_scale": np.array([0.0], np.float32)}, A())
assert "per-tensor" in malformed({"p.input_scale": np.array([1.0, 2.0], np.float32)}, A())
assert "symmetric input" in malformed({**ok, "p.input_zero_point": np.array([3], np.int8)}, A(), {"p.input_zero_point": "I8"})
assert "without input_zero_point" in malformed(ok, A(symmetric=False))
assert "expected I8" in malformed({**ok, "p.input_zero_point": np.array([3], np.int32)}, A(symmetric=False), {"p.input_zero_point": "I32"})
assert "dynamic" in malformed(ok, read_ct.Args(dict(num_bits=8, strategy="token", dynamic=True), "t"))
# kv_cache_scheme: both scales on every attention module (found by its k_proj), none without the scheme
kv = dict(num_bits=8, type="float", strategy="tensor", dynamic=False)
def kv_malformed(state, scheme):
    try:
        read_ct.check_kv_scales(state, scheme, None, {})
        return ""
    except read_ct.Malformed as e:
        return str(e)
one = np.array([0.01], np.float32)
att = {"m.self_attn.k_proj.weight": np.zeros((2, 2)), "m.self_attn.k_scale": one, "m.self_attn.v_scale": one}
assert kv_malformed(att, kv) == ""
assert "without a kv_cache_scheme" in kv_malformed(att, None)
assert "v_scale missing" in kv_malformed({k: v for k, v in att.items() if k != "m.self_attn.v_scale"}, kv)
assert "no k_scale" in kv_malformed({"m.self_attn.k_proj.weight": np.zeros((2, 2))}, kv)
assert "positive finite" in kv_malformed({**att, "m.self_attn.k_scale": np.array([-1.0], np.float32)}, kv)
assert "static per-tensor" in kv_malformed(att, {**kv, "dynamic": True})
print("read_ct self-test ok:", sorted(summ["modules"]))
