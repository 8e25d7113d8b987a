#!/usr/bin/python3
"""Independent reader for compressed-tensors checkpoints (the format of
vllm-project/compressed-tensors 0.12.x, written by llm-compressor, loaded by vLLM / SGLang /
transformers).

Standard library + numpy only, written from the format's sources, not from Quench's writer:
  compressors/quantized_compressors/pack_quantized.py  (pack_to_int32 / unpack_from_int32)
  compressors/quantized_compressors/naive_quantized.py (int-quantized: int8 `weight`)
  compressors/sparse_compressors/sparse_24_bitmask.py  (+ utils/helpers.py pack_bitmasks)
  compressors/quantized_compressors (the NVFP4 / MXFP4 packed compressors: pack_fp4_to_uint8)
  quantization/lifecycle/forward.py                    (_dequantize: (q - z) * s, g_idx groups)
  quantization/quant_config.py, quant_args.py, quant_scheme.py, config/base.py, utils/match.py

Usage:
  read_ct.py DIR OUT.npz|OUT.safetensors [--check REF.safetensors] [--atol X] [--quiet]

Rebuilds every tensor of the checkpoint as float64 under its Hugging Face name (a compressed
Linear `P` becomes `P.weight`; the compression parameters it consumed are dropped; other tensors
are converted as they are) and writes them to OUT (.npz, or .safetensors with F64 tensors).
--check compares each tensor of REF with the rebuilt one of the same name (REF's own dtype
decoded exactly) and exits 1 on any difference above --atol (default 0: bit-exact in float64),
on a REF tensor missing from the checkpoint, or on a rebuilt weight REF lacks (unless
--allow-extra). A summary (JSON, one object per compressed module) goes to stdout.

Exit status: 0 ok, 1 check failed, 2 malformed checkpoint.
"""

import json
import math
import os
import re
import struct
import sys

import numpy as np


class Malformed(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# safetensors

_NP_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U64": np.uint64, "U32": np.uint32, "U16": np.uint16, "U8": np.uint8, "BOOL": np.bool_,
}
_SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
          "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}


def _e4m3fn_table():
    t = np.zeros(256, dtype=np.float64)
    for b in range(256):
        s = -1.0 if b & 0x80 else 1.0
        e = (b >> 3) & 0xF
        m = b & 0x7
        if e == 0xF and m == 0x7:
            t[b] = np.nan
        elif e == 0:
            t[b] = s * (m / 8.0) * 2.0 ** -6
        else:
            t[b] = s * (1.0 + m / 8.0) * 2.0 ** (e - 7)
    return t


def _e5m2_table():
    t = np.zeros(256, dtype=np.float64)
    for b in range(256):
        t[b] = np.frombuffer(struct.pack("<H", b << 8), dtype=np.float16)[0]
    return t


class SafetensorsFile:
    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            raw = f.read()
        if len(raw) < 8:
            raise Malformed(f"{path}: shorter than the 8-byte header length")
        (n,) = struct.unpack("<Q", raw[:8])
        if 8 + n > len(raw):
            raise Malformed(f"{path}: header length {n} runs past the end of the file")
        try:
            header = json.loads(raw[8:8 + n].decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise Malformed(f"{path}: header is not JSON: {e}")
        self.metadata = header.pop("__metadata__", {}) or {}
        self.data = memoryview(raw)[8 + n:]
        self.infos = {}
        for name, info in header.items():
            dt = info.get("dtype")
            shape = info.get("shape")
            offs = info.get("data_offsets")
            if dt not in _SIZES or not isinstance(shape, list) or not isinstance(offs, list) or len(offs) != 2:
                raise Malformed(f"{path}: tensor {name}: bad dtype/shape/data_offsets {info}")
            numel = int(np.prod(shape)) if shape else 1
            b, e = int(offs[0]), int(offs[1])
            if not (0 <= b <= e <= len(self.data)) or e - b != numel * _SIZES[dt]:
                raise Malformed(f"{path}: tensor {name}: data_offsets {offs} do not fit {dt}{shape}")
            self.infos[name] = (dt, [int(x) for x in shape], b, e)

    def dtype(self, name):
        return self.infos[name][0]

    def get(self, name):
        """The tensor as a numpy array of the closest dtype (BF16/F8 decoded to float32/float64)."""
        dt, shape, b, e = self.infos[name]
        buf = self.data[b:e]
        if dt == "BF16":
            u = np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16
            return u.view(np.float32).reshape(shape)
        if dt == "F8_E4M3":
            return _e4m3fn_table()[np.frombuffer(buf, dtype=np.uint8)].reshape(shape)
        if dt == "F8_E5M2":
            return _e5m2_table()[np.frombuffer(buf, dtype=np.uint8)].reshape(shape)
        return np.frombuffer(buf, dtype=np.dtype(_NP_DTYPES[dt]).newbyteorder("<")).reshape(shape)


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, a in tensors.items():
        a = np.ascontiguousarray(a, dtype="<f8")
        by = a.tobytes()
        header[name] = {"dtype": "F64", "shape": list(a.shape), "data_offsets": [off, off + len(by)]}
        blobs.append(by)
        off += len(by)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for by in blobs:
            f.write(by)


class Checkpoint:
    """All tensors of a (possibly sharded) safetensors checkpoint directory."""

    def __init__(self, d):
        idx = os.path.join(d, "model.safetensors.index.json")
        self.where = {}
        self.files = {}
        if os.path.exists(idx):
            with open(idx) as f:
                wm = json.load(f).get("weight_map")
            if not isinstance(wm, dict) or not wm:
                raise Malformed(f"{idx}: no weight_map")
            for fn in sorted(set(wm.values())):
                if os.path.basename(fn) != fn:
                    raise Malformed(f"{idx}: shard name {fn!r} is not a plain file name")
                self.files[fn] = SafetensorsFile(os.path.join(d, fn))
            for name, fn in wm.items():
                if name not in self.files[fn].infos:
                    raise Malformed(f"{idx}: {name} is mapped to {fn}, which lacks it")
                self.where[name] = fn
            for fn, sf in self.files.items():
                for name in sf.infos:
                    if self.where.get(name) != fn:
                        raise Malformed(f"{fn}: {name} is not in the index (or indexed to another shard)")
        else:
            single = os.path.join(d, "model.safetensors")
            if not os.path.exists(single):
                raise Malformed(f"{d}: neither model.safetensors nor model.safetensors.index.json")
            self.files["model.safetensors"] = SafetensorsFile(single)
            self.where = {n: "model.safetensors" for n in self.files["model.safetensors"].infos}

    def names(self):
        return list(self.where)

    def __contains__(self, name):
        return name in self.where

    def dtype(self, name):
        return self.files[self.where[name]].dtype(name)

    def get(self, name):
        return self.files[self.where[name]].get(name)


# ---------------------------------------------------------------------------------------------
# config

def match_name(name, target):
    """utils/match.py _match_name: "re:" prefix = re.match (anchored at the start), else exact."""
    if target.startswith("re:"):
        return re.match(target[3:], name) is not None
    return target == name


def matches(name, targets, is_linear):
    for t in targets or []:
        if match_name(name, t):
            return True
        if t == "Linear" and is_linear:
            return True
    return False


QUANT_FORMATS = {"pack-quantized", "int-quantized", "naive-quantized", "float-quantized", "mxfp4-pack-quantized",
                 "nvfp4-pack-quantized"}


class Args:
    """quant_args.py QuantizationArgs with its defaults and strategy inference."""

    def __init__(self, d, where):
        if not isinstance(d, dict):
            raise Malformed(f"{where}: quantization args must be an object")
        self.num_bits = int(d.get("num_bits", 8))
        self.type = str(d.get("type", "int")).lower()
        self.symmetric = bool(d.get("symmetric", True))
        self.group_size = d.get("group_size")
        self.strategy = d.get("strategy")
        self.dynamic = d.get("dynamic", False)
        self.actorder = d.get("actorder")
        if self.strategy is None:
            if self.group_size is None:
                self.strategy = "tensor"
            elif self.group_size > 0:
                self.strategy = "group"
            elif self.group_size == -1:
                self.strategy = "channel"
            else:
                raise Malformed(f"{where}: group_size {self.group_size}")
        self.strategy = str(self.strategy).lower()
        if self.strategy == "group" and (self.group_size is None or self.group_size <= 0):
            raise Malformed(f"{where}: strategy group needs group_size > 0")
        if self.type not in ("int", "float"):
            raise Malformed(f"{where}: type {self.type!r}")
        if not 1 <= self.num_bits <= 8:
            raise Malformed(f"{where}: num_bits {self.num_bits}")

    def describe(self):
        s = f"{self.type}{self.num_bits} {'sym' if self.symmetric else 'asym'} {self.strategy}"
        if self.strategy == "group":
            s += f" g{self.group_size}"
        if self.actorder:
            s += f" actorder={self.actorder}"
        if self.dynamic:
            s += f" dynamic={self.dynamic}"
        return s


class Group:
    def __init__(self, name, d, global_format):
        if not isinstance(d, dict):
            raise Malformed(f"config_groups.{name}: a preset name list is not supported by this reader")
        self.name = name
        self.targets = d.get("targets")
        if not isinstance(self.targets, list) or not self.targets:
            raise Malformed(f"config_groups.{name}: targets must be a non-empty list")
        self.weights = Args(d["weights"], f"{name}.weights") if d.get("weights") else None
        self.input = Args(d["input_activations"], f"{name}.input_activations") if d.get("input_activations") else None
        self.output = Args(d["output_activations"], f"{name}.output_activations") if d.get("output_activations") else None
        fmt = d.get("format") or global_format
        if fmt == "mixed-precision":
            raise Malformed(f"config_groups.{name}: format mixed-precision needs a per-group format")
        self.format = fmt


def load_config(d):
    path = os.path.join(d, "config.json")
    with open(path) as f:
        cfg = json.load(f)
    qc = cfg.get("quantization_config") or cfg.get("compression_config")
    if not isinstance(qc, dict):
        raise Malformed(f"{path}: no quantization_config")
    if qc.get("quant_method") != "compressed-tensors":
        raise Malformed(f"{path}: quant_method is {qc.get('quant_method')!r}, not compressed-tensors")
    gfmt = qc.get("format")
    groups = [Group(n, g, gfmt) for n, g in (qc.get("config_groups") or {}).items()]
    if groups and qc.get("quantization_status") != "compressed":
        raise Malformed(f"{path}: quantization_status is {qc.get('quantization_status')!r}; "
                        "only 'compressed' checkpoints carry packed weights")
    sc = qc.get("sparsity_config") or None
    if sc:
        if sc.get("format") not in ("sparse-24-bitmask", "dense"):
            raise Malformed(f"{path}: sparsity format {sc.get('format')!r} is not supported by this reader")
        if sc.get("format") == "sparse-24-bitmask" and sc.get("sparsity_structure", "2:4") != "2:4":
            raise Malformed(f"{path}: sparse-24-bitmask with sparsity_structure {sc.get('sparsity_structure')!r}")
    return cfg, qc, groups, qc.get("ignore") or [], sc


# ---------------------------------------------------------------------------------------------
# decompression

def unpack_from_int32(packed, num_bits, n, packed_dim=1):
    """pack_quantized.py unpack_from_int32: 32/b values per word, low bits first, along
    packed_dim; unsigned in the word, signed after subtracting 2^(b-1); padding cut to n."""
    if packed.dtype != np.int32:
        raise Malformed(f"packed tensor is {packed.dtype}, not int32")
    pf = 32 // num_bits
    mask = (1 << num_bits) - 1
    w = packed.astype(np.int64) & 0xFFFFFFFF
    if packed_dim == 0:
        w = w.T
    rows, words = w.shape
    if words * pf < n or (words - 1) * pf >= max(n, 1):
        raise Malformed(f"{words} packed words per row do not hold exactly {n} {num_bits}-bit values")
    out = np.zeros((rows, words * pf), dtype=np.int64)
    for i in range(pf):
        out[:, i::pf] = (w >> (num_bits * i)) & mask
    if np.any(out[:, n:] != 0):
        raise Malformed("non-zero padding bits after the last packed value")
    out = out[:, :n] - (1 << (num_bits - 1))
    return out.T if packed_dim == 0 else out


def expand_params(p, rows, cols, args, g_idx, what):
    """A scale / zero point broadcast to [rows, cols] by strategy (forward.py _process_quantization)."""
    p = np.asarray(p)
    if args.strategy == "tensor":
        if p.size != 1:
            raise Malformed(f"{what}: tensor strategy needs one value, got shape {list(p.shape)}")
        return np.full((rows, cols), p.reshape(()), dtype=np.float64)
    if args.strategy == "channel":
        if p.size != rows:
            raise Malformed(f"{what}: channel strategy needs ({rows}, 1), got {list(p.shape)}")
        return np.broadcast_to(p.reshape(rows, 1).astype(np.float64), (rows, cols))
    if args.strategy == "group":
        gs = args.group_size
        if cols >= gs and cols % gs != 0:
            raise Malformed(f"{what}: {cols} columns are not a multiple of group_size {gs}")
        ng = math.ceil(cols / gs)
        if p.ndim != 2 or p.shape[0] != rows or p.shape[1] != ng:
            raise Malformed(f"{what}: group strategy needs ({rows}, {ng}), got {list(p.shape)}")
        if g_idx is not None and not np.any(g_idx == -1):
            if g_idx.shape != (cols,) or g_idx.min() < 0 or g_idx.max() >= ng:
                raise Malformed(f"{what}: g_idx must be [{cols}] with groups in [0, {ng})")
            counts = np.bincount(g_idx, minlength=ng)
            if np.any(counts != gs):
                raise Malformed(f"{what}: g_idx does not put exactly {gs} columns in each group")
            col_group = g_idx.astype(np.int64)
        else:
            col_group = np.arange(cols) // gs
        return p.astype(np.float64)[:, col_group]
    raise Malformed(f"{what}: strategy {args.strategy!r} is not supported by this reader")


# E2M1 (the 4-bit float of MXFP4 / NVFP4): sign bit 3, magnitude index 0..7.
E2M1 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6], dtype=np.float64)


def decompress_fp4(ck, state, prefix, group, report):
    """mxfp4-pack-quantized / nvfp4-pack-quantized (the packed FP4 compressors, pack_fp4_to_uint8):
    weight_packed uint8 [rows, cols/2], two E2M1 values a byte, the even column in the low nibble;
    MXFP4 weight_scale uint8 E8M0 exponents (2^(e-127)) per 32 columns; NVFP4 weight_scale F8_E4M3
    per 16 columns, divided by weight_global_scale (strategy tensor_group)."""
    a, fmt = group.weights, group.format
    nv = fmt == "nvfp4-pack-quantized"
    if a.type != "float" or a.num_bits != 4:
        raise Malformed(f"{prefix}: {fmt} needs 4-bit float weights, got {a.describe()}")
    want_strategy, want_group = ("tensor_group", 16) if nv else ("group", 32)
    if a.strategy != want_strategy or a.group_size != want_group:
        raise Malformed(f"{prefix}: {fmt} needs strategy {want_strategy} with group_size {want_group}, got {a.describe()}")
    packed = state.pop(prefix + ".weight_packed", None)
    scale_name = prefix + ".weight_scale"
    if packed is None or scale_name not in state:
        raise Malformed(f"{prefix}: {fmt} needs weight_packed and weight_scale")
    if state_dtype(ck, prefix + ".weight_packed") != "U8" or packed.ndim != 2:
        raise Malformed(f"{prefix}.weight_packed must be U8 [rows, cols/2]")
    rows, cols = packed.shape[0], packed.shape[1] * 2
    codes = np.empty((rows, cols), dtype=np.uint8)
    codes[:, 0::2] = packed & 0x0F
    codes[:, 1::2] = packed >> 4
    values = E2M1[codes]
    sdt = state_dtype(ck, scale_name)
    scale = state.pop(scale_name)
    if list(scale.shape) != [rows, cols // want_group]:
        raise Malformed(f"{scale_name}: shape {list(scale.shape)}, expected {[rows, cols // want_group]}")
    if nv:
        if sdt != "F8_E4M3":
            raise Malformed(f"{scale_name}: dtype {sdt}, expected F8_E4M3")
        g = state.pop(prefix + ".weight_global_scale", None)
        if g is None or np.asarray(g).size != 1:
            raise Malformed(f"{prefix}: nvfp4 needs one weight_global_scale")
        g = float(np.asarray(g, dtype=np.float64).reshape(()))
        if not math.isfinite(g) or g == 0:
            raise Malformed(f"{prefix}.weight_global_scale is {g}")
        s = scale.astype(np.float64) / g
    else:
        if sdt != "U8":
            raise Malformed(f"{scale_name}: dtype {sdt}, expected U8 (E8M0)")
        if np.any(scale == 255):
            raise Malformed(f"{scale_name}: E8M0 255 is NaN")
        s = np.ldexp(1.0, scale.astype(np.int64) - 127)
    if not np.all(np.isfinite(s)):
        raise Malformed(f"{scale_name}: non-finite scales")
    report.update(format=fmt, weights=a.describe(), shape=[rows, cols], scale_dtype=sdt, weight_dtype="E2M1 x2 per byte")
    return values * np.repeat(s, want_group, axis=1)


def decompress_fp8(ck, state, prefix, group, report):
    """float-quantized (naive_quantized.py with a float8_e4m3fn weight): FP8 E4M3 values times the
    scale of their channel or tensor (forward.py _dequantize, no zero point)."""
    a = group.weights
    if a.type != "float" or a.num_bits != 8 or not a.symmetric:
        raise Malformed(f"{prefix}: float-quantized needs symmetric 8-bit float weights, got {a.describe()}")
    wname, sname = prefix + ".weight", prefix + ".weight_scale"
    if wname not in state or sname not in state:
        raise Malformed(f"{prefix}: float-quantized needs weight and weight_scale")
    wdt = state_dtype(ck, wname)
    if wdt not in ("F8_E4M3", "derived"):  # derived: rebuilt from sparse-24-bitmask
        raise Malformed(f"{wname}: dtype {wdt}, expected F8_E4M3")
    v = np.asarray(state.pop(wname), dtype=np.float64)
    if v.ndim != 2 or not np.all(np.isfinite(v)):
        raise Malformed(f"{wname}: expected finite E4M3 values [rows, cols]")
    rows, cols = v.shape
    report["scale_dtype"] = state_dtype(ck, sname)
    s = expand_params(state.pop(sname).astype(np.float64), rows, cols, a, None, sname)
    report.update(format="float-quantized", weights=a.describe(), shape=[rows, cols], weight_dtype=wdt)
    return v * s


def decompress_quantized(ck, state, prefix, group, report):
    a = group.weights
    fmt = group.format
    if fmt in ("mxfp4-pack-quantized", "nvfp4-pack-quantized"):
        return decompress_fp4(ck, state, prefix, group, report)
    if fmt == "float-quantized":
        return decompress_fp8(ck, state, prefix, group, report)
    if a.type != "int":
        raise Malformed(f"{prefix}: float weights ({fmt}) are not supported by this reader")
    scale_name = prefix + ".weight_scale"
    if scale_name not in state:
        raise Malformed(f"{prefix}: missing weight_scale")
    scale = state.pop(scale_name)
    report["scale_dtype"] = state_dtype(ck, scale_name)
    zp = state.pop(prefix + ".weight_zero_point", None)
    g_idx = state.pop(prefix + ".weight_g_idx", None)
    if g_idx is not None:
        g_idx = np.asarray(g_idx).astype(np.int64).reshape(-1)
    if fmt == "pack-quantized":
        packed = state.pop(prefix + ".weight_packed", None)
        shp = state.pop(prefix + ".weight_shape", None)
        if packed is None or shp is None:
            raise Malformed(f"{prefix}: pack-quantized needs weight_packed and weight_shape")
        shp = [int(x) for x in np.asarray(shp).reshape(-1)]
        if len(shp) != 2:
            raise Malformed(f"{prefix}: weight_shape {shp} is not 2-d")
        rows, cols = shp
        if packed.ndim != 2 or packed.shape[0] != rows:
            raise Malformed(f"{prefix}: weight_packed shape {list(packed.shape)} vs weight_shape {shp}")
        q = unpack_from_int32(packed, a.num_bits, cols, packed_dim=1)
        if zp is not None and not a.symmetric and a.strategy in ("group", "channel"):
            if zp.dtype != np.int32:
                raise Malformed(f"{prefix}: packed weight_zero_point is {zp.dtype}, not int32")
            zp = unpack_from_int32(zp, a.num_bits, rows, packed_dim=0)
        report["weight_dtype"] = f"int32 packed x{32 // a.num_bits}"
    elif fmt in ("int-quantized", "naive-quantized"):
        w = state.pop(prefix + ".weight", None)
        if w is None:
            raise Malformed(f"{prefix}: {fmt} needs weight")
        if w.dtype != np.int8:
            raise Malformed(f"{prefix}: {fmt} weight is {w.dtype}, not int8")
        q = w.astype(np.int64)
        rows, cols = q.shape
        report["weight_dtype"] = "int8"
    else:
        raise Malformed(f"{prefix}: format {fmt!r} is not supported by this reader")
    qmin, qmax = -(1 << (a.num_bits - 1)), (1 << (a.num_bits - 1)) - 1
    if q.min(initial=0) < qmin or q.max(initial=0) > qmax:
        raise Malformed(f"{prefix}: quantized values outside [{qmin}, {qmax}]")
    if a.symmetric and zp is not None and np.any(np.asarray(zp) != 0):
        raise Malformed(f"{prefix}: symmetric weights with a non-zero zero point")
    if not a.symmetric and zp is None:
        raise Malformed(f"{prefix}: asymmetric weights without weight_zero_point")
    if a.actorder and g_idx is None and a.actorder in ("group", True):
        raise Malformed(f"{prefix}: actorder {a.actorder} without weight_g_idx")
    s = expand_params(scale.astype(np.float64), rows, cols, a, g_idx, prefix + ".weight_scale")
    if zp is not None:
        zp = np.asarray(zp).astype(np.int64)
        if zp.min(initial=0) < qmin or zp.max(initial=0) > qmax:
            raise Malformed(f"{prefix}: zero points outside [{qmin}, {qmax}]")
        z = expand_params(zp, rows, cols, a, g_idx, prefix + ".weight_zero_point")
        w = (q - z) * s
    else:
        w = q * s
    report.update(format=fmt, weights=a.describe(), shape=[rows, cols])
    return w


def state_dtype(ck, name):
    return ck.dtype(name) if name in ck else "derived"


def decompress_sparse24(state, prefix, report, ck):
    shape = state.pop(prefix + ".shape")
    comp = state.pop(prefix + ".compressed", None)
    bm = state.pop(prefix + ".bitmask", None)
    if comp is None or bm is None:
        raise Malformed(f"{prefix}: sparse-24-bitmask needs shape, compressed and bitmask")
    shp = [int(x) for x in np.asarray(shape).reshape(-1)]
    if len(shp) != 2:
        raise Malformed(f"{prefix}.shape {shp} is not 2-d")
    rows, cols = shp
    if cols % 4 != 0:
        raise Malformed(f"{prefix}: {cols} columns are not a multiple of 4")
    if bm.dtype != np.uint8 or list(bm.shape) != [rows, math.ceil(cols / 8)]:
        raise Malformed(f"{prefix}.bitmask must be uint8 [{rows}, {math.ceil(cols / 8)}], got {bm.dtype}{list(bm.shape)}")
    if list(comp.shape) != [rows, cols // 2]:
        raise Malformed(f"{prefix}.compressed must be [{rows}, {cols // 2}], got {list(comp.shape)}")
    mask = np.unpackbits(bm, axis=-1, count=cols, bitorder="little").astype(bool)
    per4 = mask.reshape(rows, cols // 4, 4).sum(axis=-1)
    if np.any(per4 != 2):
        raise Malformed(f"{prefix}.bitmask: not exactly 2 of every 4 positions set")
    dense = np.zeros((rows, cols), dtype=comp.dtype)
    dense[mask] = comp.reshape(-1)
    report["sparsity"] = "2:4 (sparse-24-bitmask, values " + state_dtype(ck, prefix + ".compressed") + ")"
    return dense


def check_input_params(state, p, a, ck, rep):
    """Static input activations (vLLM's W8A8 static): a per-tensor input_scale, and an int8
    input_zero_point exactly when asymmetric; dynamic ones store neither."""
    scale_name, zp_name = p + ".input_scale", p + ".input_zero_point"
    if a.dynamic:
        for n in (scale_name, zp_name):
            if n in state:
                raise Malformed(f"{n}: stored for dynamic input activations")
        return
    if scale_name not in state:
        raise Malformed(f"{p}: static input_activations without input_scale")
    s = np.asarray(state[scale_name], dtype=np.float64).reshape(-1)
    if a.strategy == "tensor" and s.size != 1:
        raise Malformed(f"{scale_name}: {s.size} values for a per-tensor input quantizer")
    if not (np.all(np.isfinite(s)) and np.all(s > 0)):
        raise Malformed(f"{scale_name}: not a positive finite scale ({s[:4]})")
    rep["input_scale"] = float(s[0])
    if a.symmetric:
        if zp_name in state:
            raise Malformed(f"{zp_name}: a zero point for symmetric input activations")
        return
    if zp_name not in state:
        raise Malformed(f"{p}: asymmetric static input_activations without input_zero_point")
    if state_dtype(ck, zp_name) != "I8":
        raise Malformed(f"{zp_name}: dtype {state_dtype(ck, zp_name)}, expected I8")
    z = np.asarray(state[zp_name]).reshape(-1)
    if z.size != s.size:
        raise Malformed(f"{zp_name}: {z.size} values for {s.size} scales")
    rep["input_zero_point"] = int(z[0])


def check_kv_scales(state, scheme, ck, reports):
    """kv_cache_scheme (static per-tensor, what vLLM's fp8 KV cache reads): every attention module,
    recognised by its k_proj, carries a positive finite k_scale and v_scale of one value each;
    no kv_cache_scheme, no KV scales."""
    scaled = sorted({n[:-len(".k_scale")] for n in state if n.endswith(".k_scale")} |
                    {n[:-len(".v_scale")] for n in state if n.endswith(".v_scale")})
    if not scheme:
        if scaled:
            raise Malformed(f"{scaled[0]}: KV-cache scales without a kv_cache_scheme")
        return
    a = Args(scheme, "kv_cache_scheme")
    if a.dynamic or a.strategy != "tensor":
        raise Malformed(f"kv_cache_scheme: strategy {a.strategy} dynamic {a.dynamic}; static per-tensor scales expected")
    attention = sorted({n.split(".k_proj.")[0] for n in state if ".k_proj." in n})
    for m in attention:
        if m not in scaled:
            raise Malformed(f"{m}: kv_cache_scheme is set but the module has no k_scale / v_scale")
    if not scaled:
        raise Malformed("kv_cache_scheme is set but no module has k_scale / v_scale")
    for m in scaled:
        for which in ("k_scale", "v_scale"):
            n = f"{m}.{which}"
            if n not in state:
                raise Malformed(f"{m}: {which} missing (the other KV scale is there)")
            v = np.asarray(state[n], dtype=np.float64).reshape(-1)
            if v.size != 1 or not np.isfinite(v[0]) or v[0] <= 0:
                raise Malformed(f"{n}: {v.size} values {v[:4]}; one positive finite scale expected")
            reports.setdefault(m, {})[which] = float(v[0])


def read_checkpoint(d):
    cfg, qc, groups, ignore, sc = load_config(d)
    ck = Checkpoint(d)
    state = {n: ck.get(n) for n in ck.names()}
    reports = {}

    # sparsity first (model_compressor.py decompress: "sparsity first"), giving `P.weight`
    if sc and sc.get("format") == "sparse-24-bitmask":
        prefixes = sorted({n[:-len(".bitmask")] for n in state if n.endswith(".bitmask")})
        for p in prefixes:
            is_lin = True
            if not matches(p, sc.get("targets") or ["Linear"], is_lin) or matches(p, sc.get("ignore"), is_lin):
                raise Malformed(f"{p}: sparse-compressed but not a sparsity_config target")
            rep = reports.setdefault(p, {})
            state[p + ".weight"] = decompress_sparse24(state, p, rep, ck)
    elif any(n.endswith(".bitmask") for n in state):
        raise Malformed("bitmask tensors without a sparse-24-bitmask sparsity_config")

    # quantization
    quant_suffixes = (".weight_packed", ".weight_scale")
    prefixes = sorted({n.rsplit(".", 1)[0] for n in state if n.endswith(quant_suffixes)})
    out = {}
    for p in prefixes:
        is_lin = True  # only Linear layers carry weight_scale / weight_packed
        if matches(p, ignore, is_lin):
            raise Malformed(f"{p}: compressed although it is on the ignore list")
        found = [g for g in groups if matches(p, g.targets, is_lin)]
        if not found:
            raise Malformed(f"{p}: compressed but no config group targets it")
        g = found[-1]  # later groups override earlier ones (apply_quantization_config)
        if g.weights is None:
            raise Malformed(f"{p}: group {g.name} has no weights args but the layer has weight_scale")
        rep = reports.setdefault(p, {})
        rep["group"] = g.name
        out[p + ".weight"] = decompress_quantized(ck, state, p, g, rep)
        if g.input is not None:
            rep["input_activations"] = g.input.describe()
            check_input_params(state, p, g.input, ck, rep)
        elif p + ".input_scale" in state:
            raise Malformed(f"{p}.input_scale: stored but group {g.name} has no input_activations")

    check_kv_scales(state, qc.get("kv_cache_scheme"), ck, reports)

    # every config-group target that is a concrete module name must have been compressed
    for g in groups:
        for t in g.targets:
            if t == "Linear":
                continue
            hit = [p for p in prefixes if match_name(p, t)]
            if not hit:
                raise Malformed(f"config_groups.{g.name}: target {t!r} matches no compressed module")

    # dense Linear weights neither ignored nor compressed, when a group targets "Linear"
    if any("Linear" in g.targets for g in groups):
        for n, a in state.items():
            if n.endswith(".weight") and n not in out and a.ndim == 2 and "embed" not in n:
                p = n[:-len(".weight")]
                if not matches(p, ignore, True):
                    raise Malformed(f"{p}: a dense 2-d weight that 'Linear' targets and ignore does not list")

    for n, a in state.items():
        if n in out:
            continue
        if n.endswith((".weight_shape", ".weight_zero_point", ".weight_g_idx")):
            raise Malformed(f"{n}: a compression parameter with no compressed weight beside it")
        out[n] = np.asarray(a).astype(np.float64)
    if sc and sc.get("format") == "sparse-24-bitmask":
        for p, rep in reports.items():
            if "sparsity" in rep and "format" not in rep:
                rep.update(format="dense+sparse-24-bitmask", shape=list(out[p + ".weight"].shape))
    summary = {"quantization_config": {k: qc[k] for k in qc if k not in ("config_groups",)},
               "config_groups": {g.name: {"targets": len(g.targets), "format": g.format,
                                          "weights": g.weights.describe() if g.weights else None,
                                          "input_activations": g.input.describe() if g.input else None}
                                 for g in groups},
               "shards": sorted(ck.files),
               "modules": reports}
    return out, summary


def compare(out, ref_path, atol, allow_extra):
    ref = SafetensorsFile(ref_path)
    bad = []
    worst = 0.0
    for n in ref.infos:
        r = ref.get(n).astype(np.float64)
        if n not in out:
            bad.append(f"{n}: missing from the checkpoint")
            continue
        o = out[n]
        if o.shape != r.shape:
            bad.append(f"{n}: shape {list(o.shape)} vs reference {list(r.shape)}")
            continue
        diff = float(np.max(np.abs(o - r))) if o.size else 0.0
        if not (diff <= atol):
            k = int(np.argmax(np.abs(o - r)))
            bad.append(f"{n}: max |diff| {diff:.3g} at {np.unravel_index(k, o.shape)} "
                       f"(rebuilt {o.reshape(-1)[k]!r}, reference {r.reshape(-1)[k]!r})")
        worst = max(worst, diff)
    if not allow_extra:
        for n in out:
            if n.endswith(".weight") and n not in ref.infos and out[n].ndim == 2:
                bad.append(f"{n}: rebuilt but absent from the reference")
    return bad, worst, len(ref.infos)


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    opts = {}
    i = 0
    rest = []
    while i < len(argv):
        a = argv[i]
        if a in ("--check", "--atol"):
            if i + 1 >= len(argv):
                print(f"{a} needs a value", file=sys.stderr)
                return 2
            opts[a] = argv[i + 1]
            i += 2
            continue
        if a.startswith("--"):
            opts[a] = True
        else:
            rest.append(a)
        i += 1
    if len(rest) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    d, out_path = rest
    try:
        out, summary = read_checkpoint(d)
    except Malformed as e:
        print(f"read_ct: malformed checkpoint: {e}", file=sys.stderr)
        return 2
    if out_path.endswith(".safetensors"):
        write_safetensors(out_path, out)
    else:
        np.savez(out_path, **out)
    rc = 0
    if "--check" in opts:
        bad, worst, n = compare(out, opts["--check"], float(opts.get("--atol", 0.0)), "--allow-extra" in opts)
        summary["check"] = {"reference": opts["--check"], "tensors": n, "max_abs_diff": worst,
                            "failures": bad[:20], "failed": len(bad)}
        for b in bad[:20]:
            print("read_ct: MISMATCH " + b, file=sys.stderr)
        rc = 1 if bad else 0
    if "--quiet" not in opts:
        print(json.dumps(summary, indent=1, sort_keys=True, default=str))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
