#!/usr/bin/python3
"""llama.cpp's own quantizer and dequantizer, called through ctypes on node-llama-cpp's prebuilt
libraries (packaging/setup-llama-cpp.sh), so that Quench's GGUF import is checked against
files llama.cpp wrote and values llama.cpp decodes, not against Quench's own writer.

  ggml_ref.py LIBDIR quantize IN.gguf OUT.gguf FTYPE   # llama_model_quantize, as llama-quantize does
  ggml_ref.py LIBDIR dequant  IN.gguf OUT.gguf         # every tensor through ggml's to_float → all-F32 GGUF
  ggml_ref.py LIBDIR random   OUT.gguf [--seed N]       # random blocks of every type the test covers

LIBDIR is the folder holding libllama and libggml-base. FTYPE is a llama_ftype name as
llama-quantize takes it (Q2_K, Q3_K_M, Q4_K_M, Q5_K_M, Q6_K, IQ4_NL, IQ4_XS, ...).
Standard library only (struct + ctypes): no numpy.
"""
import ctypes
import glob
import os
import random
import struct
import sys

# llama.h (llama.cpp as node-llama-cpp 3.22.1 ships it): enum llama_ftype
FTYPES = {"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9, "Q2_K": 10, "Q3_K_S": 11,
          "Q3_K_M": 12, "Q3_K_L": 13, "Q4_K_S": 14, "Q4_K_M": 15, "Q5_K_S": 16, "Q5_K_M": 17, "Q6_K": 18,
          "IQ4_NL": 25, "IQ4_XS": 30, "BF16": 32, "NVFP4": 39}

# ggml.h enum ggml_type → (values per block, bytes per block), for the types this script handles
LAYOUT = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 10: (256, 84),
          11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 20: (32, 18), 23: (256, 136),
          30: (1, 2), 39: (32, 17), 40: (64, 36)}
# Byte offsets of the fp16 scales inside one block: random bytes there would mostly be huge or NaN,
# so `random` writes finite halves there instead (every other byte stays random).
HALVES = {2: [0], 3: [0, 2], 6: [0], 7: [0, 2], 8: [0], 10: [80, 82], 11: [108], 12: [0, 2], 13: [0, 2],
          14: [208], 20: [0], 23: [0]}
GGML_F32 = 0


class QuantizeParams(ctypes.Structure):  # llama.h: struct llama_model_quantize_params
    _fields_ = [("nthread", ctypes.c_int32), ("ftype", ctypes.c_int), ("output_tensor_type", ctypes.c_int),
                ("token_embedding_type", ctypes.c_int), ("allow_requantize", ctypes.c_bool),
                ("quantize_output_tensor", ctypes.c_bool), ("only_copy", ctypes.c_bool), ("pure", ctypes.c_bool),
                ("keep_split", ctypes.c_bool), ("dry_run", ctypes.c_bool), ("imatrix", ctypes.c_void_p),
                ("kv_overrides", ctypes.c_void_p), ("tt_overrides", ctypes.c_void_p), ("prune_layers", ctypes.c_void_p),
                ("max_buf_size", ctypes.c_size_t)]


def lib(libdir, stem):
    hits = sorted(glob.glob(os.path.join(libdir, stem + "*.so")))
    if not hits:
        raise SystemExit(f"ggml_ref.py: no {stem}*.so in {libdir}")
    return ctypes.CDLL(hits[0], mode=ctypes.RTLD_GLOBAL)


# ------------------------------------------------------------------ GGUF (v3) reading and writing
class Gguf:
    def __init__(self, path):
        self.data = open(path, "rb").read()
        self.p = 0
        if self.data[:4] != b"GGUF":
            raise SystemExit(f"{path}: not a GGUF file")
        self.p = 4
        version, n_t, n_kv = self.take("<IQQ")
        if version not in (2, 3):
            raise SystemExit(f"{path}: GGUF version {version}")
        self.kv_bytes = []  # raw (key, type, value bytes), copied as they are
        align = 32
        for _ in range(n_kv):
            k = self.string()
            start = self.p
            t = self.take("<I")[0]
            v = self.value(t)
            if k == "general.alignment":
                align = v
            self.kv_bytes.append(self.data[start - 8 - len(k.encode()):self.p])
        self.tensors = []
        for _ in range(n_t):
            name = self.string()
            nd = self.take("<I")[0]
            ne = list(self.take("<" + "Q" * nd)) if nd else []
            t, off = self.take("<IQ")
            self.tensors.append((name, ne, t, off))
        self.base = (self.p + align - 1) // align * align

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.data, self.p)
        self.p += struct.calcsize(fmt)
        return v

    def string(self):
        n = self.take("<Q")[0]
        s = self.data[self.p:self.p + n].decode("utf-8")
        self.p += n
        return s

    def value(self, t):
        scalar = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
        if t == 8:
            return self.string()
        if t == 9:
            et, n = self.take("<IQ")
            return [self.value(et) for _ in range(n)]
        return self.take(scalar[t])[0]

    def tensor_bytes(self, name, ne, t, off):
        block, size = LAYOUT[t]
        n = 1
        for d in ne:
            n *= d
        return self.data[self.base + off:self.base + off + n // block * size]


def write_gguf(path, kv_bytes, tensors, alignment=32):
    """tensors: list of (name, ne, ggml type, bytes)."""
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv_bytes)) + b"".join(kv_bytes)
    offs, off = [], 0
    for _, _, _, b in tensors:
        off = (off + alignment - 1) // alignment * alignment
        offs.append(off)
        off += len(b)
    for (name, ne, t, _), o in zip(tensors, offs):
        nb = name.encode()
        head += struct.pack("<Q", len(nb)) + nb + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne)
        head += struct.pack("<IQ", t, o)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(head + b"\0" * ((-len(head)) % alignment))
        pos = 0
        for (_, _, _, b), o in zip(tensors, offs):
            f.write(b"\0" * (o - pos) + b)
            pos = o + len(b)
    os.replace(tmp, path)


def kv_string(key, value):
    k, v = key.encode(), value.encode()
    return struct.pack("<Q", len(k)) + k + struct.pack("<IQ", 8, len(v)) + v


# ------------------------------------------------------------------ commands
def quantize(libdir, src, dst, ftype):
    if ftype not in FTYPES:
        raise SystemExit(f"ggml_ref.py: unknown ftype {ftype} (one of {', '.join(FTYPES)})")
    lib(libdir, "libggml-base")
    lib(libdir, "libggml.")
    llama = lib(libdir, "libllama.")
    llama.llama_backend_init()
    llama.llama_model_quantize_default_params.restype = QuantizeParams
    params = llama.llama_model_quantize_default_params()
    params.ftype = FTYPES[ftype]
    params.nthread = 1
    llama.llama_model_quantize.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(QuantizeParams)]
    llama.llama_model_quantize.restype = ctypes.c_uint32
    rc = llama.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(params))
    if rc != 0:
        raise SystemExit(f"ggml_ref.py: llama_model_quantize({src} → {ftype}) returned {rc}")


class TypeTraits(ctypes.Structure):  # ggml.h: struct ggml_type_traits
    _fields_ = [("type_name", ctypes.c_char_p), ("blck_size", ctypes.c_int64), ("blck_size_interleave", ctypes.c_int64),
                ("type_size", ctypes.c_size_t), ("is_quantized", ctypes.c_bool), ("to_float", ctypes.c_void_p),
                ("from_float_ref", ctypes.c_void_p)]


def dequant(libdir, src, dst):
    base = lib(libdir, "libggml-base")
    base.ggml_get_type_traits.restype = ctypes.POINTER(TypeTraits)
    base.ggml_get_type_traits.argtypes = [ctypes.c_int]
    to_float_t = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)
    g = Gguf(src)
    out = []
    for name, ne, t, off in g.tensors:
        if t not in LAYOUT:
            raise SystemExit(f"{src}: tensor {name}: ggml type {t} is not handled here")
        traits = base.ggml_get_type_traits(t).contents
        raw = g.tensor_bytes(name, ne, t, off)
        n = len(raw) // traits.type_size * traits.blck_size
        if t == GGML_F32:
            values = raw
        else:
            src_buf = ctypes.create_string_buffer(raw, len(raw))
            dst_buf = ctypes.create_string_buffer(4 * n)
            to_float_t(traits.to_float)(ctypes.addressof(src_buf), ctypes.addressof(dst_buf), n)
            values = dst_buf.raw
        out.append((name, ne, GGML_F32, values))
    write_gguf(dst, [kv_string("general.architecture", "reference")], out)


def half_bits(rng):
    while True:  # a finite half of either sign, from tiny to large (exponent field 0..30)
        h = rng.getrandbits(16)
        if (h >> 10) & 0x1F != 0x1F:
            return h


def random_blocks(dst, seed):
    rng = random.Random(seed)
    tensors = []
    for t, (block, size) in sorted(LAYOUT.items()):
        if block == 1:
            continue
        rows, cols = 3, 2 * max(block, 256)
        nb = rows * cols // block
        b = bytearray(rng.getrandbits(8) for _ in range(nb * size))
        for i in range(nb):
            for at in HALVES.get(t, []):
                struct.pack_into("<H", b, i * size + at, half_bits(rng))
            if t == 39:  # E8M0 scale (255 is NaN); the first blocks take the subnormal and extreme ones
                b[i * size] = [0, 1, 2, 254][i] if i < 4 else rng.randrange(0, 255)
            if t == 40 and i == 0:  # unsigned E4M3 scales: 0 and 0x7F read as 0; the sign bit is ignored
                b[0:4] = bytes([0, 0x7F, 0xFF, 1])
        tensors.append((f"blocks.type{t}", [cols, rows], t, bytes(b)))
    write_gguf(dst, [kv_string("general.architecture", "reference")], tensors)


def main(argv):
    if len(argv) < 3:
        raise SystemExit(__doc__)
    libdir, cmd, rest = argv[1], argv[2], argv[3:]
    if cmd == "quantize" and len(rest) == 3:
        quantize(libdir, *rest)
    elif cmd == "dequant" and len(rest) == 2:
        dequant(libdir, *rest)
    elif cmd == "random" and len(rest) in (1, 3):
        random_blocks(rest[0], int(rest[2]) if len(rest) == 3 else 0)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
