#!/usr/bin/env python3
"""Writes the small seeds of fuzz/corpus/{gguf,tokenizer,idx,config,recipe,checkpoint,gguf_import} (standard library only).

    fuzz/make_seeds.py [--cli build/app/cli/quench-cli]

With --cli, also the seeds made by quench-cli: a micro Llama (vocabulary 99, width 16, one layer)
written here, compressed into compressed-tensors in the formats Quench exports, each folder packed
into one input as fuzz_checkpoint reads it, and a 32-wide one exported as GGUF Q8_0, Q4_0 and Q5_1
for fuzz_gguf_import (pack_dir below; fuzz/run.sh packs the tiny
float fixtures the same way at run time).

GGUF seeds are tiny valid files that between them use every metadata value type, every tensor
type Quench decodes, a type it can only size (IQ2_XXS), a custom alignment and version 2, so the
fuzzer starts from inputs that reach the tensor table and the block decoders instead of having
to discover the layout. Tokenizer seeds are minimal tokenizer.json files, one per supported
component, so mutations land near the code that reads each one; the fixtures' full tokenizers
are added at run time by fuzz/run.sh.
"""
import gzip
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(1234)

U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
FMT = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f", BOOL: "<B", U64: "<Q", I64: "<q", F64: "<d"}
# ggml code -> (values per block, bytes per block)
LAYOUT = {0: (1, 4), 1: (1, 2), 30: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
          12: (256, 144), 14: (256, 210), 10: (256, 84), 11: (256, 110), 13: (256, 176), 20: (32, 18), 23: (256, 136),
          39: (32, 17), 16: (256, 66)}


def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def value(t, v):
    if t == STRING:
        return gstr(v)
    if t == ARRAY:
        et, items = v
        return struct.pack("<IQ", et, len(items)) + b"".join(value(et, x) for x in items)
    return struct.pack(FMT[t], v)


def half(x):
    return struct.pack("<e", x)


def block_bytes(code, nblocks):
    """Plausible block data: small fp16 scales first so decoded values stay finite."""
    _, size = LAYOUT[code]
    out = b""
    for _ in range(nblocks):
        body = bytes(rng.randrange(256) for _ in range(size))
        if code in (2, 6, 8):
            body = half(0.01) + body[2:]
        elif code in (3, 7, 12):
            body = half(0.01) + half(-0.5) + body[4:]
        elif code == 14:
            body = body[:-2] + half(0.01)
        elif code == 10:  # Q2_K: d, dmin last
            body = body[:-4] + half(0.01) + half(-0.5)
        elif code == 11:  # Q3_K: d last
            body = body[:-2] + half(0.01)
        elif code in (13, 20, 23):  # Q5_K: d, dmin first; IQ4_NL, IQ4_XS: d first
            body = half(0.01) + (half(-0.5) + body[4:] if code == 13 else body[2:])
        elif code == 39:  # MXFP4: an exponent byte near 2^0
            body = bytes([120]) + body[1:]
        out += body
    return out


def gguf(kv, tensors, version=3, alignment=32):
    """tensors: list of (name, ne, code); data filled per type."""
    head = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kv))
    for k, t, v in kv:
        head += gstr(k) + struct.pack("<I", t) + value(t, v)
    data, infos = b"", b""
    for name, ne, code in tensors:
        block, _ = LAYOUT[code]
        n = 1
        for x in ne:
            n *= x
        if code in (0, 1, 30):
            payload = b"".join(struct.pack({0: "<f"}.get(code, "<e"), rng.uniform(-1, 1)) for _ in range(n)) if code != 30 else \
                b"".join(struct.pack("<f", rng.uniform(-1, 1))[2:] for _ in range(n))
        else:
            payload = block_bytes(code, n // block)
        infos += gstr(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", x) for x in ne)
        infos += struct.pack("<IQ", code, len(data))
        data += payload + b"\0" * ((-len(payload)) % alignment)
    out = head + infos
    out += b"\0" * ((-len(out)) % alignment)
    return out + data


def write(rel, data):
    p = os.path.join(HERE, "corpus", rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


LLAMA_KV = [("general.architecture", STRING, "llama"), ("general.name", STRING, "fuzz"),
            ("llama.context_length", U32, 64), ("llama.embedding_length", U32, 32),
            ("llama.attention.layer_norm_rms_epsilon", F32, 1e-5),
            ("tokenizer.ggml.tokens", ARRAY, (STRING, ["<unk>", "a", "b", "ab"])),
            ("tokenizer.ggml.scores", ARRAY, (F32, [0.0, -1.0, -2.0, -3.0])),
            ("tokenizer.ggml.token_type", ARRAY, (I32, [2, 1, 1, 1])),
            ("tokenizer.ggml.add_bos_token", BOOL, 1)]


def gguf_seeds():
    write("gguf/empty-v3.gguf", gguf([], []))
    write("gguf/empty-v2.gguf", gguf([], [], version=2))
    every_value = [(f"k.{t}", t, v) for t, v in [(U8, 200), (I8, -3), (U16, 60000), (I16, -300), (U32, 7), (I32, -7),
                                                  (F32, 0.5), (BOOL, 0), (STRING, "s"), (U64, 1 << 40), (I64, -(1 << 40)),
                                                  (F64, 2.5)]]
    every_value.append(("k.nested", ARRAY, (ARRAY, [(U8, [1, 2]), (STRING, ["x"]), (ARRAY, [(BOOL, [1])])])))
    write("gguf/every-value-type.gguf", gguf(every_value, []))
    write("gguf/llama-meta-f32.gguf", gguf(LLAMA_KV, [("token_embd.weight", [32, 4], 0), ("output_norm.weight", [32], 0)]))
    for code, name in [(1, "f16"), (30, "bf16"), (2, "q4_0"), (3, "q4_1"), (6, "q5_0"), (7, "q5_1"), (8, "q8_0")]:
        write(f"gguf/tensor-{name}.gguf", gguf([("general.architecture", STRING, "llama")], [("w", [64, 2], code), ("v", [32], code)]))
    write("gguf/tensor-q4_k.gguf", gguf([], [("w", [256, 1], 12)]))
    write("gguf/tensor-q6_k.gguf", gguf([], [("w", [256], 14)]))
    for code, name in [(10, "q2_k"), (11, "q3_k"), (13, "q5_k"), (23, "iq4_xs")]:
        write(f"gguf/tensor-{name}.gguf", gguf([], [("w", [256, 2], code)]))
    for code, name in [(20, "iq4_nl"), (39, "mxfp4")]:
        write(f"gguf/tensor-{name}.gguf", gguf([], [("w", [64, 2], code)]))
    write("gguf/tensor-iq2_xxs-unsupported.gguf", gguf([], [("w", [256], 16)]))
    write("gguf/alignment-64.gguf", gguf([("general.alignment", U32, 64)], [("a", [8], 0), ("b", [3, 2, 1, 1], 0)], alignment=64))


def bpe(vocab, merges, **extra):
    model = {"type": "BPE", "vocab": vocab, "merges": merges}
    model.update(extra.pop("model_extra", {}))
    top = {"version": "1.0", "model": model}
    top.update(extra)
    return json.dumps(top, ensure_ascii=False)


def tokenizer_seeds():
    v = {"a": 0, "b": 1, "c": 2, "ab": 3, "bc": 4, "abc": 5}
    write("tokenizer/bpe-minimal.json", bpe(v, ["a b", "b c", "a bc"]))
    write("tokenizer/bpe-pair-merges.json", bpe(v, [["a", "b"], ["b", "c"]]))
    write("tokenizer/byte-fallback.json", bpe({"<unk>": 0, "<0xC3>": 1, "<0xA9>": 2, "a": 3, "\u2581": 4}, [],
                                              model_extra={"unk_token": "<unk>", "byte_fallback": True, "fuse_unk": True},
                                              normalizer={"type": "Sequence", "normalizers": [
                                                  {"type": "Prepend", "prepend": "\u2581"},
                                                  {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
                                              decoder={"type": "Sequence", "decoders": [
                                                  {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
                                                  {"type": "ByteFallback"}, {"type": "Fuse"},
                                                  {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}))
    gpt2_vocab = {chr(c): i for i, c in enumerate(list(range(33, 127)) + [0x120])}
    gpt2_vocab.update({"He": 95, "ll": 96, "\u0120w": 97})
    write("tokenizer/byte-level.json", bpe(gpt2_vocab, ["H e", "l l", "\u0120 w"],
                                           pre_tokenizer={"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                                                          "use_regex": True},
                                           decoder={"type": "ByteLevel"},
                                           post_processor={"type": "ByteLevel", "trim_offsets": False},
                                           added_tokens=[{"id": 98, "content": "<s>", "single_word": False, "lstrip": False,
                                                          "rstrip": False, "normalized": False, "special": True}]))
    write("tokenizer/split-regex.json", bpe(v, ["a b"],
                                            normalizer={"type": "NFC"},
                                            pre_tokenizer={"type": "Sequence", "pretokenizers": [
                                                {"type": "Split", "pattern": {"Regex": "\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"},
                                                 "behavior": "Isolated", "invert": False},
                                                {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True}]}))
    write("tokenizer/template-processing.json", bpe(v, [],
                                                    post_processor={"type": "TemplateProcessing",
                                                                    "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                                                               {"Sequence": {"id": "A", "type_id": 0}}],
                                                                    "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [6], "tokens": ["<s>"]}}},
                                                    added_tokens=[{"id": 6, "content": "<s>", "special": True}]))
    write("tokenizer/lowercase-strip.json", bpe(v, [], normalizer={"type": "Sequence", "normalizers": [
        {"type": "Lowercase"}, {"type": "NFD"}, {"type": "Strip", "strip_left": True, "strip_right": True}]},
        model_extra={"continuing_subword_prefix": "##", "end_of_word_suffix": "</w>", "ignore_merges": True}))


def idx_seeds():
    """IDX images and labels, plain and gzip: the header fields the reader checks, a 3-image set."""
    pixels = bytes(rng.randrange(256) for _ in range(3 * 4 * 5))
    images = struct.pack(">IIII", 0x803, 3, 4, 5) + pixels
    labels = struct.pack(">II", 0x801, 3) + bytes([0, 7, 9])
    write("idx/images-3x4x5", images)
    write("idx/labels-3", labels)
    # mtime 0: the same bytes on every run
    write("idx/images-3x4x5.gz", gzip.compress(images, mtime=0))
    write("idx/labels-3.gz", gzip.compress(labels, mtime=0))


# fuzz/model_dir.h's fixture_names(), in its order: the first byte of a fuzz_config input picks one.
CONFIG_FIXTURES = ["llama-tiny", "llama-bias-tiny", "mistral-tiny", "qwen2-tiny", "gpt2-tiny", "mamba-tiny", "mamba2-tiny",
                   "mamba2-untied-tiny", "vit-tiny", "resnet-tiny", "resnet-bottleneck-tiny", "qwen3-tiny"]


def config_seeds():
    """Each tiny fixture's config.json behind its selector byte."""
    root = os.path.join(HERE, "..", "tests", "fixtures", "hf-tiny")
    for i, name in enumerate(CONFIG_FIXTURES):
        write("config/" + name, bytes([i]) + open(os.path.join(root, name, "config.json"), "rb").read())


def recipe_seeds():
    """Every JSON example of the documentation: the recipe language as users see it."""
    import glob
    import re
    docs = sorted(glob.glob(os.path.join(HERE, "..", "docs", "*.md"))) + [os.path.join(HERE, "..", "README.md")]
    for md in docs:
        for i, block in enumerate(re.findall(r"```json\n(.*?)```", open(md).read(), re.S)):
            write("recipe/doc-%s-%d.json" % (os.path.basename(md)[:-3], i), block)


def pack_dir(folder, names=None):
    """fuzz_checkpoint's input: for each file, its name, NUL, its length (4 bytes LE), its bytes."""
    out = b""
    for name in names or sorted(os.listdir(folder)):
        data = open(os.path.join(folder, name), "rb").read()
        out += name.encode() + b"\0" + struct.pack("<I", len(data)) + data
    return out


def safetensors(tensors):
    header, blob = {}, b""
    for name, (shape, values) in sorted(tensors.items()):
        data = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + blob


def micro_llama(folder, d=16, inter=32, hd=8):
    vocab, heads, kv = 99, 2, 1
    shapes = {"model.embed_tokens.weight": [vocab, d], "lm_head.weight": [vocab, d], "model.norm.weight": [d]}
    p = "model.layers.0."
    shapes.update({p + "input_layernorm.weight": [d], p + "post_attention_layernorm.weight": [d],
                   p + "self_attn.q_proj.weight": [heads * hd, d], p + "self_attn.k_proj.weight": [kv * hd, d],
                   p + "self_attn.v_proj.weight": [kv * hd, d], p + "self_attn.o_proj.weight": [d, heads * hd],
                   p + "mlp.gate_proj.weight": [inter, d], p + "mlp.up_proj.weight": [inter, d],
                   p + "mlp.down_proj.weight": [d, inter]})
    tensors = {}
    for name, shape in shapes.items():
        n = 1
        for x in shape:
            n *= x
        norm = len(shape) == 1
        tensors[name] = (shape, [1.0 + 0.1 * rng.uniform(-1, 1) if norm else rng.gauss(0, 0.3) for _ in range(n)])
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "model.safetensors"), "wb") as f:
        f.write(safetensors(tensors))
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": d, "intermediate_size": inter,
              "num_attention_heads": heads, "num_key_value_heads": kv, "head_dim": hd, "num_hidden_layers": 1,
              "vocab_size": vocab, "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
              "tie_word_embeddings": False, "hidden_act": "silu", "torch_dtype": "float32"}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    shutil.copy(os.path.join(HERE, "corpus/tokenizer/byte-level.json"), os.path.join(folder, "tokenizer.json"))


def safetensors_raw(tensors):
    """tensors: {name: (dtype, shape, bytes)}."""
    header, blob = {}, b""
    for name, (dtype, shape, data) in sorted(tensors.items()):
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + blob


def fp4_checkpoint_seeds():
    """The 32-wide micro Llama with every linear layer in NVFP4 or MXFP4 (compressed-tensors), written
    here from the format's layout: random E2M1 codes, finite scales."""
    work = tempfile.mkdtemp(prefix="quench-seeds-")
    try:
        model = os.path.join(work, "m")
        micro_llama(model, d=32, inter=64, hd=16)
        with open(os.path.join(model, "model.safetensors"), "rb") as f:
            raw = f.read()
        n = struct.unpack_from("<Q", raw)[0]
        head = json.loads(raw[8:8 + n])
        floats = {k: ("F32", v["shape"], raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]) for k, v in head.items()}
        config = json.load(open(os.path.join(model, "config.json")))
        for nv in (True, False):
            g = 16 if nv else 32
            tensors = {}
            for name, t in floats.items():
                if not (name.endswith("_proj.weight") and len(t[1]) == 2):
                    tensors[name] = t
                    continue
                rows, cols = t[1]
                p = name[:-len(".weight")]
                tensors[p + ".weight_packed"] = ("U8", [rows, cols // 2], bytes(rng.randrange(256) for _ in range(rows * cols // 2)))
                scales = bytes(rng.randrange(40, 72) if nv else rng.randrange(118, 130) for _ in range(rows * cols // g))
                tensors[p + ".weight_scale"] = ("F8_E4M3" if nv else "U8", [rows, cols // g], scales)
                if nv:
                    tensors[p + ".weight_global_scale"] = ("F32", [1], struct.pack("<f", 448.0 * 6 / 2.0))
            weights = {"num_bits": 4, "type": "float", "symmetric": True, "group_size": g,
                       "strategy": "tensor_group" if nv else "group"}
            fmt = "nvfp4-pack-quantized" if nv else "mxfp4-pack-quantized"
            config["quantization_config"] = {"quant_method": "compressed-tensors", "format": fmt, "quantization_status": "compressed",
                                             "config_groups": {"group_0": {"targets": ["Linear"], "weights": weights}},
                                             "ignore": ["lm_head"]}
            out = os.path.join(work, fmt)
            os.makedirs(out)
            with open(os.path.join(out, "config.json"), "w") as f:
                json.dump(config, f, indent=1)
            with open(os.path.join(out, "model.safetensors"), "wb") as f:
                f.write(safetensors_raw(tensors))
            write("checkpoint/ct-" + ("nvfp4" if nv else "mxfp4"), pack_dir(out, ["config.json", "model.safetensors"]))
    finally:
        shutil.rmtree(work)


def checkpoint_seeds(cli):
    work = tempfile.mkdtemp(prefix="quench-seeds-")
    try:
        model = os.path.join(work, "micro-llama")
        micro_llama(model)
        write("checkpoint/micro-llama-float", pack_dir(model, ["config.json", "model.safetensors"]))
        calib = os.path.join(work, "calib.txt")
        with open(calib, "w") as f:
            f.write("Hello world. " * 200)
        recipes = {
            "w4-g8-sym": {"default": {"weights": {"bits": 4, "strategy": "group", "group_size": 8}}},
            "w4-g8-asym-gptq-actorder": {"default": {"weights": {"bits": 4, "strategy": "group", "group_size": 8, "symmetric": False,
                                                                 "method": "gptq", "act_order": True}}},
            "w8a16-channel": {"default": {"weights": {"bits": 8, "strategy": "channel"}}},
            "w8a8-static-fp8kv": {"default": {"weights": {"bits": 8, "strategy": "channel"},
                                              "activations": {"bits": 8, "strategy": "tensor", "dynamic": False}},
                                  "kv_cache": {"method": "fp8"}},
            "w8a8-dynamic": {"default": {"weights": {"bits": 8, "strategy": "channel"}, "activations": {"bits": 8, "strategy": "token"}}},
            "w8-24-sparse": {"default": {"weights": {"bits": 8, "strategy": "channel"}, "prune": {"pattern": "2:4"}}},
            "fp8-dynamic": {"default": {"scheme": "FP8_DYNAMIC"}},
        }
        for name, recipe in recipes.items():
            rpath = os.path.join(work, name + ".json")
            with open(rpath, "w") as f:
                json.dump(recipe, f)
            out = os.path.join(work, name)
            subprocess.run([cli, "compress", model, "--recipe", rpath, "--calib", calib, "--samples", "4", "--seq", "16",
                            "--measure-samples", "0", "--no-record", "--no-export-check", "--save-model", out,
                            "--format", "compressed-tensors"], check=True, stdout=subprocess.DEVNULL)
            files = sorted(f for f in os.listdir(out) if f in ("config.json", "model.safetensors", "model.safetensors.index.json")
                           or f.startswith("model-0"))
            write("checkpoint/ct-" + name, pack_dir(out, files))
        # GGUF seeds for fuzz_gguf_import: a micro Llama wide enough for 32-value ggml blocks.
        wide = os.path.join(work, "micro-llama-32")
        micro_llama(wide, d=32, inter=64, hd=16)
        for scheme in ["Q8_0", "Q4_0", "Q5_1", "NVFP4A16"]:
            out = os.path.join(work, scheme + ".gguf")
            subprocess.run([cli, "compress", wide, "--recipe", scheme, "--calib", calib, "--samples", "4", "--seq", "16",
                            "--no-record", "--no-export-check", "--measure-samples", "0", "--save-model", out, "--format", "gguf"],
                           check=True, stdout=subprocess.DEVNULL)
            write("gguf_import/micro-llama-" + scheme + ".gguf", open(out, "rb").read())
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    gguf_seeds()
    tokenizer_seeds()
    idx_seeds()
    config_seeds()
    recipe_seeds()
    fp4_checkpoint_seeds()
    if "--cli" in sys.argv:
        checkpoint_seeds(sys.argv[sys.argv.index("--cli") + 1])
