#include "core/export/gguf_export.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>

#include "core/compress/weight_method.h"
#include "core/export/gguf_names.h"
#include "core/export/gguf_tokenizer.h"
#include "core/io/config.h"
#include "core/io/gguf.h"
#include "core/nn/functional.h"
#include "core/ops/ggml_grid.h"
#include "core/util/error.h"

namespace quench {

namespace fs = std::filesystem;

namespace {

std::string gguf_arch(const Model& m) { return gguf_arch_of_model_type(m.config().get_string("model_type", "")); }

std::string gguf_name(const std::string& arch, const std::string& hf) { return gguf_tensor_name(arch, hf); }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// llama.cpp's layout where the Hugging Face one differs (the converter's Mamba models): the scan
// takes A, not log(−A); Mamba-2's per-head A and D are [heads, 1], its gated norm weight
// [groups, d_inner / groups].
at::Tensor gguf_layout(const std::string& arch, const std::string& g, at::Tensor v, const Config& c) {
  if (ends_with(g, ".ssm_a")) v = -at::exp(v.to(at::kFloat));
  if (arch == "mamba2") {
    if (ends_with(g, ".ssm_a") || ends_with(g, ".ssm_d")) v = v.reshape({-1, 1});
    if (ends_with(g, ".ssm_norm.weight")) v = v.reshape({c.get_int("n_groups", 1), -1});
  }
  return v;
}

// Tensors llama.cpp reads only as F32 whatever their rank (the converter's rule): 1-d tensors,
// names without ".weight" (biases, ssm_a, ssm_d), norms and the depthwise conv kernels
// (ggml_ssm_conv asserts F32).
bool gguf_f32(const std::string& g, int64_t dim) {
  return dim <= 1 || !ends_with(g, ".weight") || ends_with(g, "_norm.weight") || g.find(".ssm_conv1d.") != std::string::npos;
}

GgmlType parse_float_type(const std::string& s, const Model& m) {
  std::string t = s;
  if (t.empty()) {
    const std::string src = m.checkpoint().dtype();
    t = src == "BF16" ? "BF16" : "F16";
  }
  for (char& c : t) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (t == "F32") return GgmlType::F32;
  if (t == "F16") return GgmlType::F16;
  if (t == "BF16") return GgmlType::BF16;
  throw UsageError("--float-type: \"" + s + "\" is not f32, f16 or bf16");
}

std::vector<float> floats(const at::Tensor& t) {
  const at::Tensor c = t.detach().to(at::kCPU, at::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

double rope_theta(const Config& c) {
  const auto& j = c.json();
  if (j.contains("rope_theta") && j.at("rope_theta").is_number()) return j.at("rope_theta").get<double>();
  if (j.contains("rope_parameters") && j.at("rope_parameters").is_object()) return j.at("rope_parameters").value("rope_theta", 10000.0);
  return 10000.0;
}

std::string rope_type(const Config& c) {
  const auto& j = c.json();
  for (const char* k : {"rope_parameters", "rope_scaling"})
    if (j.contains(k) && j.at(k).is_object()) return j.at(k).value("rope_type", j.at(k).value("type", "default"));
  return "default";
}

// The rope_scaling (or rope_parameters) object, where a non-default RoPE keeps its numbers.
Config rope_params(const Config& c) {
  for (const char* k : {"rope_scaling", "rope_parameters"})
    if (c.json().contains(k) && c.json().at(k).is_object() && c.json().at(k).contains("factor")) return c.sub(k);
  return Config(nlohmann::json::object(), c.path());
}

// llama.cpp divides RoPE frequency i by rope_freqs[i] (its converter writes Llama 3.1's scaling this
// way): the ratio of the default frequencies to the ones Quench computes.
at::Tensor llama3_rope_freqs(const Config& c, int64_t head_dim) {
  const at::Tensor scaled = make_rope(c, head_dim).inv_freq.to(at::kDouble);
  const at::Tensor plain = 1.0 / at::pow(rope_theta(c), at::arange(0, head_dim, 2, at::kDouble) / static_cast<double>(head_dim));
  return (plain / scaled).to(at::kFloat);
}

void add_arch_metadata(GgufWriter& w, const Model& m, const std::string& arch) {
  const Config& c = m.config();
  auto u32 = [&](const std::string& k, int64_t v) { w.set(arch + "." + k, GgufValue::u32(static_cast<uint32_t>(v))); };
  auto f32 = [&](const std::string& k, double v) { w.set(arch + "." + k, GgufValue::f32(static_cast<float>(v))); };
  if (arch == "mamba" || arch == "mamba2") {
    const int64_t hidden = c.get_int("hidden_size");
    u32("context_length", 1 << 20);  // no position limit; the converter's value
    u32("embedding_length", hidden);
    u32("block_count", c.get_int("num_hidden_layers"));
    u32("feed_forward_length", 0);  // unused; older llama.cpp builds still read them
    u32("attention.head_count", 0);
    u32("ssm.conv_kernel", c.get_int("conv_kernel", 4));
    u32("ssm.state_size", c.get_int("state_size"));
    f32("attention.layer_norm_rms_epsilon", c.get_double("layer_norm_epsilon", 1e-5));
    if (arch == "mamba") {
      u32("ssm.inner_size", c.get_int("intermediate_size", static_cast<int64_t>(c.get_double("expand", 2) * hidden)));
      const bool rank_int = c.has("time_step_rank") && c.json().at("time_step_rank").is_number_integer();
      u32("ssm.time_step_rank", rank_int ? c.get_int("time_step_rank") : (hidden + 15) / 16);  // "auto"
      w.set(arch + ".ssm.dt_b_c_rms", GgufValue::boolean(false));
    } else {
      const int64_t heads = c.get_int("num_heads");
      u32("ssm.inner_size", heads * c.get_int("head_dim"));
      u32("ssm.time_step_rank", heads);  // llama.cpp's name for Mamba-2's head count
      u32("ssm.group_count", c.get_int("n_groups", 1));
    }
    u32("vocab_size", c.get_int("vocab_size"));
    return;
  }
  if (arch == "gpt2") {
    const int64_t d = c.get_int("n_embd");
    u32("context_length", c.get_int("n_positions"));
    u32("embedding_length", d);
    u32("feed_forward_length", c.json().contains("n_inner") && c.json().at("n_inner").is_number() ? c.get_int("n_inner") : 4 * d);
    u32("block_count", c.get_int("n_layer"));
    u32("attention.head_count", c.get_int("n_head"));
    f32("attention.layer_norm_epsilon", c.get_double("layer_norm_epsilon", 1e-5));
    return;
  }
  const int64_t hidden = c.get_int("hidden_size"), heads = c.get_int("num_attention_heads");
  const int64_t head_dim = c.get_int("head_dim", hidden / heads);
  // llama.cpp's llama, qwen2 and qwen3 attend to the whole context; within the sliding window (Mistral's,
  // Qwen2's) that is what transformers computes, so the file claims no more context than that.
  const int64_t max_pos = c.get_int("max_position_embeddings", 2048), window = m.attention_window();
  u32("context_length", window > 0 ? std::min(max_pos, window) : max_pos);
  u32("embedding_length", hidden);
  u32("block_count", c.get_int("num_hidden_layers"));
  u32("feed_forward_length", c.get_int("intermediate_size"));
  u32("attention.head_count", heads);
  u32("attention.head_count_kv", c.get_int("num_key_value_heads", heads));
  u32("rope.dimension_count", head_dim);
  f32("rope.freq_base", rope_theta(c));
  f32("attention.layer_norm_rms_epsilon", c.get_double("rms_norm_eps", 1e-6));
  const std::string rope = rope_type(c);
  if (rope == "linear") {
    w.set(arch + ".rope.scaling.type", GgufValue::str("linear"));
    f32("rope.scaling.factor", rope_params(c).get_double("factor"));
  } else if (rope == "llama3") {  // the frequencies go in rope_freqs.weight; this lets the importer name them
    u32("rope.scaling.original_context_length", rope_params(c).get_int("original_max_position_embeddings", 8192));
  }
  if (head_dim != hidden / heads) {
    u32("attention.key_length", head_dim);
    u32("attention.value_length", head_dim);
  }
  u32("vocab_size", c.get_int("vocab_size"));
}

// llama.cpp's llama_ftype of the most common quantized type (informational: llama.cpp reads each tensor's type).
// The tensors llama.cpp's loader gives an optional "<name>.scale" that its graph multiplies the
// projection's output by: the only places an NVFP4 tensor scale can go.
bool nvfp4_scalable(const std::string& g) {
  static const char* scaled[] = {".attn_q.weight", ".attn_k.weight",   ".attn_v.weight", ".attn_output.weight", ".attn_qkv.weight",
                                 ".ffn_gate.weight", ".ffn_up.weight", ".ffn_down.weight"};
  return std::any_of(std::begin(scaled), std::end(scaled), [&](const char* suf) { return ends_with(g, suf); });
}

uint32_t file_type(const std::map<GgmlType, int64_t>& counts, GgmlType float_type) {
  GgmlType most = float_type;
  int64_t best = 0;
  for (const auto& [t, n] : counts)
    if (!ops::ggml_is_float(t) && n > best) most = t, best = n;
  switch (most) {
    case GgmlType::F32: return 0;
    case GgmlType::F16: return 1;
    case GgmlType::Q4_0: return 2;
    case GgmlType::Q4_1: return 3;
    case GgmlType::Q8_0: return 7;
    case GgmlType::Q5_0: return 8;
    case GgmlType::Q5_1: return 9;
    case GgmlType::Q4_K: return 15;  // Q4_K_M
    case GgmlType::Q6_K: return 18;
    case GgmlType::BF16: return 32;
    case GgmlType::MXFP4: return 38;  // MXFP4_MOE, llama.cpp's only MXFP4 file type
    case GgmlType::NVFP4: return 39;
    default: return 1;  // the exporter writes none of the other types
  }
}

}  // namespace

std::string gguf_exportable(const Model& model, const ResolvedRecipe& plan) {
  const std::string arch = gguf_arch(model);
  if (arch.empty())
    return model.config().get_string("model_type", model.architecture()) +
           ": Quench writes GGUF for llama, mistral, qwen2, qwen3, gpt2, mamba and mamba2 models (llama.cpp's architectures)";
  if (std::string why = gguf_tokenizer_problem(model.checkpoint().dir()); !why.empty()) return why;
  if (arch == "mamba" || arch == "mamba2") {
    const Config& c = model.config();
    const std::string act = c.get_string("hidden_act", "silu");
    if (act != "silu" && act != "swish") return "hidden_act \"" + act + "\": llama.cpp's Mamba computes SiLU only";
    if (c.get_bool("use_bias", false)) return "use_bias: llama.cpp's Mamba has no in_proj/out_proj biases";
    if (arch == "mamba") {
      const int64_t hidden = c.get_int("hidden_size");
      if (c.get_int("intermediate_size", static_cast<int64_t>(c.get_double("expand", 2) * hidden)) != 2 * hidden)
        return "llama.cpp's Mamba loads an expansion factor of 2 only";
    } else {
      if (c.get_int("n_groups", 1) != 1)
        return "n_groups " + std::to_string(c.get_int("n_groups", 1)) +
               ": llama.cpp normalizes the gated output per group, transformers (and Quench) over all of d_inner; the two differ";
      if (c.has("time_step_limit")) {
        const auto& lim = c.json().at("time_step_limit");
        const auto lo = lim.is_array() && lim.size() == 2 ? json_to_double(lim[0]) : std::nullopt;
        const auto hi = lim.is_array() && lim.size() == 2 ? json_to_double(lim[1]) : std::nullopt;
        if (!lo || !hi || *lo > 0.0 || *hi != std::numeric_limits<double>::infinity())
          return "time_step_limit: llama.cpp does not clamp the time step; only [0, inf] exports faithfully";
      }
      const int64_t di = c.get_int("num_heads") * c.get_int("head_dim");
      const int64_t rows = 2 * di + 2 * c.get_int("n_groups", 1) * c.get_int("state_size") + c.get_int("num_heads");
      for (const auto& lp : model.layers())
        if (ends_with(lp->name(), ".mixer.in_proj") && lp->out_features() != rows)
          return lp->name() + ": " + std::to_string(lp->out_features()) + " outputs; llama.cpp's Mamba-2 takes " + std::to_string(rows) +
                 " (no MLP rows)";
    }
  }
  if (arch == "qwen3")
    for (const auto& lp : model.layers())
      if (lp->bias().defined()) return lp->name() + ": a bias; llama.cpp's qwen3 has none (attention_bias must be false)";
  if (arch == "llama" || arch == "qwen2" || arch == "qwen3") {
    const std::string rope = rope_type(model.config());
    if (rope != "default" && rope != "linear" && !(rope == "llama3" && arch == "llama"))
      return "rope type \"" + rope + "\": llama.cpp's " + arch + " reads default, linear" + (arch == "llama" ? " and llama3" : "") + " RoPE";
    if (model.config().get_double("partial_rotary_factor", 1.0) != 1.0) return "partial_rotary_factor: llama.cpp rotates whole heads";
  }
  if (plan.structured) return "structured pruning: GGUF export needs every block to keep the config's shapes";
  const char* online = "exists only in Quench's forward pass; a GGUF file cannot hold it";
  for (const auto& l : plan.layers) {
    if (l.input || l.output) return l.layer + ": activation quantization " + online;
    if (l.hadamard) return l.layer + ": the online Hadamard rotation " + online;
    if (l.lowrank) return l.layer + ": low-rank factors have no GGUF layout";
    if (l.weights && l.weights->olive) return l.layer + ": OliVe's outlier-victim pairs have no ggml type";
    if (l.weights && *weight_method(l.weights->method).unexportable)
      return l.layer + ": " + weight_method(l.weights->method).unexportable + " have no ggml type";
    if (l.weights && l.weights->fp8) return l.layer + ": FP8 weights: GGUF has no FP8 type; use --format compressed-tensors";
    if (l.weights && !l.weights->ggml)
      return l.layer + ": weights " + l.weights->describe() + " are on Quench's integer grid, which no ggml type stores; use a GGUF scheme (" +
             "Q8_0, Q4_0, Q5_0, Q4_1, Q5_1, Q4_K, Q6_K, MXFP4A16, NVFP4A16) or weights.format";
    if (l.weights && l.weights->ggml == GgmlType::NVFP4) {
      const Layer* layer = model.find_layer(l.layer);
      if (!nvfp4_scalable(gguf_name(arch, l.layer + ".weight")))
        return l.layer + ": NVFP4 needs its tensor scale applied by llama.cpp, which it does for attention and FFN projections only";
      if (layer && layer->bias().defined())
        return l.layer + ": NVFP4 with a bias: llama.cpp applies the tensor scale after the bias; export compressed-tensors";
    }
  }
  if (!plan.kv.empty()) return plan.kv.front().module + ": KV-cache quantization " + online;
  if (!plan.points.empty()) return plan.points.front().point + ": activation quantization " + online;
  return "";
}

void check_gguf_target(const std::string& path, bool force) {
  std::error_code ec;
  const fs::path p = fs::absolute(path);
  QUENCH_CHECK(fs::is_directory(p.parent_path(), ec), path, ": cannot write the GGUF file there, ", p.parent_path().string(), " is not a directory");
  if (fs::exists(p, ec)) {
    if (fs::is_directory(p, ec)) throw UsageError(path + ": is a directory; give the GGUF file's path");
    if (!force) throw UsageError(path + ": exists; pass --force to replace it");
  }
}

std::vector<std::string> export_gguf(const Model& model, const std::string& path, const GgufExportOptions& o) {
  check_gguf_target(path, o.force);
  const std::string arch = gguf_arch(model);
  QUENCH_CHECK(!arch.empty(), model.config().get_string("model_type", model.architecture()), ": no GGUF architecture");
  const GgmlType float_type = parse_float_type(o.float_type, model);
  const Config& c = model.config();
  // Head counts matter only to llama's q/k row order.
  const int64_t heads = arch == "llama" ? c.get_int("num_attention_heads") : 0;
  const int64_t kv_heads = arch == "llama" ? c.get_int("num_key_value_heads", heads) : 0;

  GgufWriter w;
  w.set("general.architecture", GgufValue::str(arch));
  w.set("general.name", GgufValue::str(fs::path(model.checkpoint().dir()).filename().string()));
  w.set("general.quantization_version", GgufValue::u32(2));

  struct Entry {
    std::string name;
    std::vector<int64_t> ne;
    GgmlType type;
    GgufWriter::Producer produce;
  };
  std::vector<Entry> entries;
  std::map<GgmlType, int64_t> counts;
  std::set<std::string> done;
  auto permutation = [&](const std::string& gname, int64_t rows) -> at::Tensor {
    if (arch != "llama") return {};
    if (gname.find(".attn_q.") != std::string::npos) return qk_row_order(rows, heads);
    if (gname.find(".attn_k.") != std::string::npos) return qk_row_order(rows, kv_heads);
    return {};
  };
  auto add_float = [&](const std::string& hf, const at::Tensor& t) {
    const std::string g = gguf_name(arch, hf);
    QUENCH_CHECK(!g.empty(), path, ": no GGUF tensor name for ", hf, " (", arch, ")");
    if (!done.insert(g).second) return;
    // Stays where it is (and in its dtype) until the writer asks for its bytes: an 8B model is
    // not copied to host memory twice.
    at::Tensor v = gguf_layout(arch, g, t.detach(), c);
    if (const at::Tensor perm = permutation(g, v.size(0)); perm.defined()) v = v.index_select(0, perm.to(v.device()));
    const GgmlType type = gguf_f32(g, v.dim()) ? GgmlType::F32 : float_type;
    std::vector<int64_t> ne(v.sizes().rbegin(), v.sizes().rend());
    counts[type] += v.numel();
    entries.push_back({g, ne, type, [v, type]() {
                         const std::vector<float> x = floats(v);
                         return ggml_encode_float(type, x.data(), static_cast<int64_t>(x.size()));
                       }});
  };
  bool embedding_changed = false;
  for (const auto& lp : model.layers())
    if (gguf_name(arch, lp->name() + ".weight") == "token_embd.weight") embedding_changed = lp->modified();
  for (const auto& lp : model.layers()) {
    const Layer& l = *lp;
    QUENCH_CHECK(!l.kernel(), l.name(), ": computed by ", l.kernel()->describe(), ", which a GGUF file cannot hold");
    const WeightEncoding* e = l.encoding();
    // A tied head has no tensor of its own: llama.cpp then reads token_embd, which is right
    // only while neither of the two was changed.
    const bool tied_head = l.name() == "lm_head" && !model.checkpoint().has("lm_head.weight");
    if (tied_head && !l.modified() && !embedding_changed) continue;
    const std::string hf = l.name() + ".weight";
    if (l.bias().defined()) add_float(l.name() + ".bias", l.bias());
    else if (ends_with(gguf_name(arch, hf), ".ssm_conv1d.weight"))  // use_conv_bias false: llama.cpp needs one
      add_float(l.name() + ".bias", at::zeros({l.out_features()}));
    // A conv kernel must stay F32 (ggml_ssm_conv): on a ggml grid it is written as its exact float values.
    if (!e || gguf_f32(gguf_name(arch, hf), 2)) {
      add_float(hf, l.weight().reshape({l.out_features(), -1}));
      continue;
    }
    QUENCH_CHECK(e->ggml, l.name(), ": quantized on Quench's integer grid; GGUF needs a ggml type (weights.format)");
    const std::string g = gguf_name(arch, hf);
    QUENCH_CHECK(!g.empty(), path, ": no GGUF tensor name for ", hf, " (", arch, ")");
    done.insert(g);
    at::Tensor v = l.weight().detach().reshape({l.out_features(), -1});
    ops::GgmlParams p = *e->ggml;
    if (const at::Tensor perm = permutation(g, v.size(0)); perm.defined()) {
      v = v.index_select(0, perm.to(v.device()));
      for (at::Tensor* t : {&p.scale, &p.offset, &p.d, &p.dmin, &p.sc, &p.mn})
        if (t->defined()) *t = t->index_select(0, perm.to(t->device()));
    }
    if (p.type == GgmlType::NVFP4) {
      // llama.cpp multiplies a projection's output by "<name>.scale" for these tensors only, and
      // (its graph asserts) never together with a bias.
      QUENCH_CHECK(nvfp4_scalable(g), l.name(),
                   ": NVFP4 needs its tensor scale applied by llama.cpp, which it does for attention and FFN projections only (",
                   g, " is neither); keep this layer out of the NVFP4 rule or export compressed-tensors");
      QUENCH_CHECK(!l.bias().defined(), l.name(), ": NVFP4 with a bias: llama.cpp applies the tensor scale after the bias, so the "
                                                  "file would not hold this layer; export compressed-tensors");
      const at::Tensor inv = (1.0 / p.global.to(at::kCPU, at::kFloat)).reshape({1});  // exact: G is a power of two
      const std::string sname = g.substr(0, g.size() - std::string(".weight").size()) + ".scale";
      done.insert(sname);
      counts[GgmlType::F32] += 1;
      entries.push_back({sname, {1}, GgmlType::F32, [inv]() {
                           const std::vector<float> x = floats(inv);
                           return ggml_encode_float(GgmlType::F32, x.data(), 1);
                         }});
    }
    counts[p.type] += v.numel();
    // ggml_blocks throws when the weight is off its grid (a bug, not a rounding); the writer then
    // removes its temporary file, so nothing that looks complete is left.
    const std::string lname = l.name();
    entries.push_back({g, {v.size(1), v.size(0)}, p.type, [v, p, lname]() mutable {
                         if (p.type != GgmlType::NVFP4) return ggml_encode(ops::ggml_blocks(v, p, lname));
                         // The blocks hold x·G (their scales are the E4M3 values themselves); the
                         // scale tensor undoes G. Scaled here, one tensor at a time.
                         p.scale = p.d;
                         return ggml_encode(ops::ggml_blocks(v.to(at::kFloat) * p.global.to(v.device(), at::kFloat), p, lname));
                       }});
  }
  for (const auto& [name, t] : model.params())
    if (!model.is_buffer(name)) add_float(name, t);

  if (arch == "llama" && rope_type(c) == "llama3") {
    const at::Tensor f = llama3_rope_freqs(c, c.get_int("head_dim", c.get_int("hidden_size") / heads));
    counts[GgmlType::F32] += f.numel();
    entries.push_back({"rope_freqs.weight", {f.numel()}, GgmlType::F32, [f]() {
                         const std::vector<float> x = floats(f);
                         return ggml_encode_float(GgmlType::F32, x.data(), static_cast<int64_t>(x.size()));
                       }});
  }
  add_arch_metadata(w, model, arch);
  w.set("general.file_type", GgufValue::u32(file_type(counts, float_type)));
  add_gguf_tokenizer(w, model, c.get_int("vocab_size"));
  for (auto& e : entries) {
    if (!model.streaming()) {
      w.add_tensor(e.name, e.ne, e.type, std::move(e.produce));
      continue;
    }
    // A streamed model's weights are views of its mapped files: each tensor's pages are let go once
    // it is encoded, so writing the file does not bring the whole checkpoint into memory.
    w.add_tensor(e.name, e.ne, e.type, [&model, produce = std::move(e.produce)]() mutable {
      auto bytes = produce();
      model.release_pages();
      return bytes;
    });
  }
  w.write(path, o.progress);
  std::vector<std::string> notes;
  if (const int64_t window = model.attention_window(); window > 0 && (arch == "llama" || arch == "qwen2" || arch == "qwen3"))
    notes.push_back(path + ": context_length " + std::to_string(window) + ", the model's sliding window: llama.cpp's " + arch +
                    " attends to the whole context, which equals the window only up to that many tokens");
  return notes;
}

}  // namespace quench
