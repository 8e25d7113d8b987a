#pragma once
// Opens GGUF files (llama.cpp's format, written by its converter or by Quench's exporter) as
// Hugging Face checkpoints: config.json from the metadata, tensors renamed back to transformers'
// names with the exporter's own tables (core/export/gguf_names.h) and put back in transformers'
// layouts (llama's q/k rows, Mamba's A_log, GPT-2's transposed Conv1D weights), every quantized
// tensor dequantized to F32 exactly as llama.cpp decodes it (F32/F16/BF16 kept as stored), and a
// tokenizer.json rebuilt from tokenizer.ggml.* for byte-level BPE ("gpt2") vocabularies.
#include <ATen/ATen.h>

#include <functional>
#include <string>

namespace quench {

// Writes the checkpoint into out_dir (absent or empty): a temporary directory beside it, renamed
// when complete. Throws quench::Error naming the file and the key or tensor: missing metadata,
// an architecture Quench does not import, a tensor name the table lacks, a type Quench cannot
// decode (Q2_K, IQ…), truncated data. Returns out_dir.
std::string import_gguf(const std::string& gguf_path, const std::string& out_dir);

// Every tensor of a GGUF file as import_gguf writes it (Hugging Face name, dequantized F32 or the
// stored F16/BF16/F32, transformers' layout), one at a time: nothing else is held in memory.
// layer_layout: GPT-2's Conv1D weights as Quench's layers hold them, [out, in], instead.
void for_each_gguf_tensor(const std::string& gguf_path, const std::function<void(const std::string& hf, const at::Tensor& t)>& visit,
                          bool layer_layout = false);

// Whether path names a GGUF file (a regular file ending in .gguf).
bool is_gguf_file(const std::string& path);
// Where the checkpoint converted from a GGUF file is cached:
// $XDG_CACHE_HOME/quench/gguf/<stem>-<size>-<mtime>/ (else ~/.cache/quench/gguf/...).
std::string gguf_cache_dir(const std::string& gguf_path);
// A model path as the rest of Quench takes it: a .gguf file is converted once into its cache
// directory (reused while the file's size and time stay the same) and that directory returned;
// any other path unchanged.
std::string resolve_model_path(const std::string& path);

}  // namespace quench
