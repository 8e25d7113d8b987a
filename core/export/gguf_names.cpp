#include "core/export/gguf_names.h"

#include <regex>
#include <vector>

namespace quench {

namespace {

// One row: an HF name and its GGUF name, with {N} for the block number and {W} for "weight" or
// "bias", in the same order on both sides.
struct Row {
  const char* hf;
  const char* gguf;
};

// clang-format off
const std::vector<Row> kLlama = {
    {"model.embed_tokens.weight", "token_embd.weight"},
    {"model.norm.weight", "output_norm.weight"},
    {"lm_head.weight", "output.weight"},
    {"model.layers.{N}.input_layernorm.weight", "blk.{N}.attn_norm.weight"},
    {"model.layers.{N}.post_attention_layernorm.weight", "blk.{N}.ffn_norm.weight"},
    {"model.layers.{N}.self_attn.q_proj.{W}", "blk.{N}.attn_q.{W}"},
    {"model.layers.{N}.self_attn.k_proj.{W}", "blk.{N}.attn_k.{W}"},
    {"model.layers.{N}.self_attn.v_proj.{W}", "blk.{N}.attn_v.{W}"},
    {"model.layers.{N}.self_attn.o_proj.{W}", "blk.{N}.attn_output.{W}"},
    {"model.layers.{N}.mlp.gate_proj.{W}", "blk.{N}.ffn_gate.{W}"},
    {"model.layers.{N}.mlp.up_proj.{W}", "blk.{N}.ffn_up.{W}"},
    {"model.layers.{N}.mlp.down_proj.{W}", "blk.{N}.ffn_down.{W}"},
};
// transformers saves GPT2LMHeadModel with the "transformer." prefix; the original GPT-2 files lack it.
const std::vector<Row> kGpt2 = {
    {"transformer.wte.weight", "token_embd.weight"},
    {"transformer.wpe.weight", "position_embd.weight"},
    {"transformer.ln_f.{W}", "output_norm.{W}"},
    {"lm_head.weight", "output.weight"},
    {"transformer.h.{N}.ln_1.{W}", "blk.{N}.attn_norm.{W}"},
    {"transformer.h.{N}.ln_2.{W}", "blk.{N}.ffn_norm.{W}"},
    {"transformer.h.{N}.attn.c_attn.{W}", "blk.{N}.attn_qkv.{W}"},
    {"transformer.h.{N}.attn.c_proj.{W}", "blk.{N}.attn_output.{W}"},
    {"transformer.h.{N}.mlp.c_fc.{W}", "blk.{N}.ffn_up.{W}"},
    {"transformer.h.{N}.mlp.c_proj.{W}", "blk.{N}.ffn_down.{W}"},
};
// A and D carry no ".weight" suffix in llama.cpp. Mamba's dt_proj bias and Mamba-2's dt_bias
// (the bias of a dt projection it does not have) are both ssm_dt.bias, hence two tables.
const std::vector<Row> kMamba = {
    {"backbone.embeddings.weight", "token_embd.weight"},
    {"backbone.norm_f.weight", "output_norm.weight"},
    {"lm_head.weight", "output.weight"},
    {"backbone.layers.{N}.norm.weight", "blk.{N}.attn_norm.weight"},
    {"backbone.layers.{N}.mixer.in_proj.weight", "blk.{N}.ssm_in.weight"},
    {"backbone.layers.{N}.mixer.conv1d.{W}", "blk.{N}.ssm_conv1d.{W}"},
    {"backbone.layers.{N}.mixer.x_proj.weight", "blk.{N}.ssm_x.weight"},
    {"backbone.layers.{N}.mixer.dt_proj.{W}", "blk.{N}.ssm_dt.{W}"},
    {"backbone.layers.{N}.mixer.A_log", "blk.{N}.ssm_a"},
    {"backbone.layers.{N}.mixer.D", "blk.{N}.ssm_d"},
    {"backbone.layers.{N}.mixer.out_proj.weight", "blk.{N}.ssm_out.weight"},
};
const std::vector<Row> kMamba2 = {
    {"backbone.embeddings.weight", "token_embd.weight"},
    {"backbone.norm_f.weight", "output_norm.weight"},
    {"lm_head.weight", "output.weight"},
    {"backbone.layers.{N}.norm.weight", "blk.{N}.attn_norm.weight"},
    {"backbone.layers.{N}.mixer.in_proj.weight", "blk.{N}.ssm_in.weight"},
    {"backbone.layers.{N}.mixer.conv1d.{W}", "blk.{N}.ssm_conv1d.{W}"},
    {"backbone.layers.{N}.mixer.dt_bias", "blk.{N}.ssm_dt.bias"},
    {"backbone.layers.{N}.mixer.A_log", "blk.{N}.ssm_a"},
    {"backbone.layers.{N}.mixer.D", "blk.{N}.ssm_d"},
    {"backbone.layers.{N}.mixer.norm.weight", "blk.{N}.ssm_norm.weight"},
    {"backbone.layers.{N}.mixer.out_proj.weight", "blk.{N}.ssm_out.weight"},
};
// clang-format on

// A pattern as a regex: dots literal, {N} → (\d+), {W} → (weight|bias); and the replacement
// that writes the captures into the other side's pattern in order.
std::string to_regex(const std::string& p) {
  std::string r;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p.compare(i, 3, "{N}") == 0) r += R"((\d+))", i += 2;
    else if (p.compare(i, 3, "{W}") == 0) r += "(weight|bias)", i += 2;
    else if (p[i] == '.') r += "\\.";
    else r += p[i];
  }
  return r;
}
std::string to_replacement(const std::string& p) {
  std::string r;
  int group = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p.compare(i, 3, "{N}") == 0 || p.compare(i, 3, "{W}") == 0) r += "$" + std::to_string(++group), i += 2;
    else r += p[i];
  }
  return r;
}

struct Compiled {
  std::regex from;
  std::string to;
};

// Both directions of a table, compiled once.
struct Table {
  std::vector<Compiled> to_gguf, to_hf;
  explicit Table(const std::vector<Row>& rows) {
    for (const auto& r : rows) {
      to_gguf.push_back({std::regex(to_regex(r.hf)), to_replacement(r.gguf)});
      to_hf.push_back({std::regex(to_regex(r.gguf)), to_replacement(r.hf)});
    }
  }
};

const Table* table(const std::string& arch) {
  static const Table llama(kLlama), gpt2(kGpt2), mamba(kMamba), mamba2(kMamba2);
  if (arch == "llama" || arch == "qwen2") return &llama;
  if (arch == "gpt2") return &gpt2;
  if (arch == "mamba") return &mamba;
  if (arch == "mamba2") return &mamba2;
  return nullptr;
}

std::string map(const std::vector<Compiled>& rows, const std::string& name) {
  for (const auto& [re, to] : rows)
    if (std::regex_match(name, re)) return std::regex_replace(name, re, to);
  return "";
}

}  // namespace

std::string gguf_arch_of_model_type(const std::string& t) {
  if (t == "llama" || t == "mistral") return "llama";  // llama.cpp's converter writes Mistral as llama
  if (t == "qwen2" || t == "gpt2" || t == "mamba" || t == "mamba2") return t;
  return "";
}

bool gguf_arch_supported(const std::string& arch) { return table(arch) != nullptr; }

std::string gguf_tensor_name(const std::string& arch, const std::string& hf) {
  const Table* t = table(arch);
  if (!t) return "";
  std::string g = map(t->to_gguf, hf);
  if (g.empty() && arch == "gpt2") g = map(t->to_gguf, "transformer." + hf);
  return g;
}

std::string hf_tensor_name(const std::string& arch, const std::string& gguf) {
  const Table* t = table(arch);
  return t ? map(t->to_hf, gguf) : "";
}

at::Tensor qk_row_order(int64_t rows, int64_t heads) {
  const int64_t d = rows / heads;
  return at::arange(rows, at::kLong).view({heads, 2, d / 2}).transpose(1, 2).reshape({rows});
}

}  // namespace quench
