#include "core/export/gguf_import.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "core/export/gguf_names.h"
#include "core/export/gguf_tokenizer.h"
#include "core/io/atomic_file.h"
#include "core/io/gguf.h"
#include "core/io/safetensors.h"
#include "core/io/safetensors_stream.h"
#include "core/util/cache_dir.h"
#include "core/util/error.h"
#include "core/util/remove_tree.h"

namespace quench {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Bumped when the conversion changes, so a cache written by an older Quench is rebuilt.
constexpr int kImportVersion = 3;  // 2: RoPE scaling (linear, llama3 rope_freqs); 3: SentencePiece tokenizers
const char* kMarker = "quench-gguf-import.json";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Typed metadata access whose errors name the file and the key.
struct Meta {
  const GgufFile& f;
  std::string arch;
  std::string ctx(const std::string& k) const { return f.path() + ": " + k; }
  int64_t i(const std::string& k) const { return f.key(k).as_int(ctx(k)); }
  std::optional<int64_t> opt_i(const std::string& k) const {
    const GgufValue* v = f.find_key(k);
    return v ? std::optional<int64_t>(v->as_int(ctx(k))) : std::nullopt;
  }
  std::optional<double> opt_f(const std::string& k) const {
    const GgufValue* v = f.find_key(k);
    return v ? std::optional<double>(v->as_float(ctx(k))) : std::nullopt;
  }
  int64_t a(const std::string& k) const { return i(arch + "." + k); }
  std::optional<int64_t> opt_a(const std::string& k) const { return opt_i(arch + "." + k); }
  double af(const std::string& k) const { return f.key(arch + "." + k).as_float(ctx(arch + "." + k)); }
  std::optional<double> opt_af(const std::string& k) const { return opt_f(arch + "." + k); }
};

// The float stored in f32 metadata (1e-5f) written back as the decimal the source config had.
double tidy(double v) {
  const float f = static_cast<float>(v);
  char buf[64];
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, static_cast<double>(f));
    const double d = std::strtod(buf, nullptr);
    if (static_cast<float>(d) == f) return d;
  }
  return v;
}

// Llama 3.1's RoPE scaling from llama.cpp's rope_freqs (each default frequency divided by f_i):
// f = 1 for short wavelengths, `factor` for long ones, and 1/((1 − s)/factor + s) between, where
// s = (orig/λ − low)/(high − low) is linear in 1/λ. Any (orig, low, high) giving the same line gives
// the same frequencies; orig comes from rope.scaling.original_context_length when the file has it
// (Quench's exporter writes it), low is taken as 1 (Llama 3.x's value), and the result is checked
// against every f_i.
json llama3_scaling(const Meta& m, const at::Tensor& freqs_in, const json& config) {
  const std::string where = m.f.path() + ": tensor rope_freqs.weight";
  const at::Tensor f = freqs_in.to(at::kDouble).reshape(-1);
  const int64_t head_dim = config.at("head_dim").get<int64_t>();
  QUENCH_CHECK(f.numel() * 2 == head_dim, where, " has ", f.numel(), " values; head_dim ", head_dim, " needs ", head_dim / 2);
  QUENCH_CHECK(at::isfinite(f).all().item<bool>() && f.ge(1.0 - 1e-6).all().item<bool>(), where, ": factors must be finite and ≥ 1");
  const double theta = config.at("rope_theta").get<double>();
  const at::Tensor plain = 1.0 / at::pow(theta, at::arange(0, head_dim, 2, at::kDouble) / static_cast<double>(head_dim));
  const at::Tensor wl = 2 * M_PI / plain;
  const double factor = f.max().item<double>();
  if (factor <= 1 + 1e-6) return json();  // all ones: no scaling
  // s for the frequencies strictly between the two plateaus
  const at::Tensor mid = f.gt(1 + 1e-6) & f.lt(factor * (1 - 1e-6));
  const at::Tensor s = (1.0 / f - 1.0 / factor) / (1.0 - 1.0 / factor);
  const at::Tensor inv_wl = 1.0 / wl;
  double orig = 0, low = 1, high = 0;
  const auto n_mid = mid.sum().item<int64_t>();
  if (const auto o = m.opt_a("rope.scaling.original_context_length"); o && n_mid >= 1) {
    orig = static_cast<double>(*o);
    // s = (orig/λ − 1)/(high − 1): high − 1 = (orig/λ − 1)/s, averaged over the middle points
    high = 1 + ((orig * inv_wl.index({mid}) - 1) / s.index({mid})).mean().item<double>();
  } else {
    QUENCH_CHECK(n_mid >= 2, where, ": only ", n_mid, " frequencies lie between the two plateaus and ", m.ctx(m.arch + ".rope.scaling.original_context_length"),
                 " is absent, so the llama3 RoPE scaling cannot be recovered");
    // least squares s = α/λ − β, then low = 1: high = 1 + 1/β, orig = α/β
    const at::Tensor x = inv_wl.index({mid}), y = s.index({mid});
    const double xm = x.mean().item<double>(), ym = y.mean().item<double>();
    const double alpha = ((x - xm) * (y - ym)).sum().item<double>() / (x - xm).square().sum().item<double>();
    const double beta = alpha * xm - ym;
    QUENCH_CHECK(alpha > 0 && beta > 0, where, ": the factors between the plateaus do not follow llama3 RoPE scaling");
    orig = std::round(alpha / beta);
    high = 1 + orig / alpha;
  }
  const double rounded = std::round(high * 1e4) / 1e4;
  if (std::abs(rounded - high) < 1e-3) high = rounded;
  json r = {{"rope_type", "llama3"}, {"factor", tidy(factor)}, {"low_freq_factor", low}, {"high_freq_factor", high},
            {"original_max_position_embeddings", static_cast<int64_t>(orig)}};
  // The same formula as core/nn/functional.cpp (and transformers), checked against the file.
  const double low_wl = orig / low, high_wl = orig / high;
  const at::Tensor smooth = (orig / wl - low) / (high - low);
  const at::Tensor rebuilt = at::where(wl < high_wl, at::ones_like(f), at::where(wl > low_wl, at::full_like(f, factor), 1.0 / ((1 - smooth) / factor + smooth)));
  const double err = ((rebuilt - f).abs() / f).max().item<double>();
  QUENCH_CHECK(err < 1e-4, where, ": llama3 RoPE scaling ", r.dump(), " reproduces these factors only to ", err, " (relative)");
  return r;
}

json make_config(const Meta& m, int64_t vocab, bool tied) {
  const std::string& arch = m.arch;
  json c;
  if (arch == "llama" || arch == "qwen2" || arch == "qwen3") {
    const int64_t hidden = m.a("embedding_length"), heads = m.a("attention.head_count");
    // Checked here, not only by the config's validation: the head_dim fallback divides by it.
    QUENCH_CHECK(heads > 0, m.ctx(arch + ".attention.head_count"), ": ", heads, " heads; it must be positive");
    const int64_t head_dim = m.opt_a("attention.key_length").value_or(m.opt_a("rope.dimension_count").value_or(hidden / heads));
    c["architectures"] = {hf_architecture_of_gguf(arch)};
    c["model_type"] = arch;
    c["hidden_size"] = hidden;
    c["num_hidden_layers"] = m.a("block_count");
    c["intermediate_size"] = m.a("feed_forward_length");
    c["num_attention_heads"] = heads;
    c["num_key_value_heads"] = m.opt_a("attention.head_count_kv").value_or(heads);
    c["head_dim"] = head_dim;
    c["max_position_embeddings"] = m.opt_a("context_length").value_or(2048);
    c["rms_norm_eps"] = tidy(m.af("attention.layer_norm_rms_epsilon"));
    c["rope_theta"] = tidy(m.opt_af("rope.freq_base").value_or(10000.0));
    c["hidden_act"] = "silu";
    if (const GgufValue* type = m.f.find_key(arch + ".rope.scaling.type")) {
      const std::string t = type->as_string(m.ctx(arch + ".rope.scaling.type"));
      QUENCH_CHECK(t == "linear" || t == "none", m.ctx(arch + ".rope.scaling.type"), ": \"", t, "\" RoPE scaling is not read by Quench (none, linear and llama3's rope_freqs are)");
      if (t == "linear") c["rope_scaling"] = {{"rope_type", "linear"}, {"factor", tidy(m.af("rope.scaling.factor"))}};
    }
  } else if (arch == "gpt2") {
    const int64_t d = m.a("embedding_length");
    c["architectures"] = {hf_architecture_of_gguf(arch)};
    c["model_type"] = "gpt2";
    c["n_embd"] = d;
    c["n_layer"] = m.a("block_count");
    c["n_head"] = m.a("attention.head_count");
    c["n_positions"] = m.a("context_length");
    c["n_inner"] = m.opt_a("feed_forward_length").value_or(4 * d);
    c["layer_norm_epsilon"] = tidy(m.af("attention.layer_norm_epsilon"));
    c["activation_function"] = "gelu_new";
  } else {  // mamba, mamba2
    const int64_t hidden = m.a("embedding_length"), inner = m.a("ssm.inner_size");
    c["architectures"] = {hf_architecture_of_gguf(arch)};
    c["model_type"] = arch;
    c["hidden_size"] = hidden;
    c["num_hidden_layers"] = m.a("block_count");
    c["state_size"] = m.a("ssm.state_size");
    c["conv_kernel"] = m.a("ssm.conv_kernel");
    c["layer_norm_epsilon"] = tidy(m.af("attention.layer_norm_rms_epsilon"));
    c["expand"] = static_cast<double>(inner) / static_cast<double>(hidden);
    c["hidden_act"] = "silu";
    c["use_bias"] = false;
    c["use_conv_bias"] = true;  // llama.cpp always has the conv bias (zeros when the source had none)
    c["residual_in_fp32"] = true;
    if (arch == "mamba") {
      c["intermediate_size"] = inner;
      c["time_step_rank"] = m.a("ssm.time_step_rank");
    } else {
      const int64_t heads = m.a("ssm.time_step_rank");  // llama.cpp's name for Mamba-2's head count
      QUENCH_CHECK(heads > 0 && inner % heads == 0, m.ctx(arch + ".ssm.time_step_rank"), ": ", heads, " heads do not divide ", inner,
                   " inner channels");
      c["num_heads"] = heads;
      c["head_dim"] = inner / heads;
      c["n_groups"] = m.opt_a("ssm.group_count").value_or(1);
    }
  }
  c["vocab_size"] = vocab;
  c["tie_word_embeddings"] = tied;
  static const std::pair<const char*, const char*> ids[] = {
      {"tokenizer.ggml.bos_token_id", "bos_token_id"}, {"tokenizer.ggml.eos_token_id", "eos_token_id"}, {"tokenizer.ggml.padding_token_id", "pad_token_id"}};
  for (const auto& [gk, hk] : ids)
    if (auto v = m.opt_i(gk)) c[hk] = *v;
  return c;
}

// A tensor's values as transformers stores them: dequantized (F16/BF16 kept), HF shape.
at::Tensor read_tensor(const GgufFile& f, const GgufTensorInfo& t) {
  std::vector<int64_t> shape(t.ne.rbegin(), t.ne.rend());
  if (t.type_code == static_cast<uint32_t>(GgmlType::F16) || t.type_code == static_cast<uint32_t>(GgmlType::BF16)) {
    at::Tensor out = at::empty(shape, t.type_code == static_cast<uint32_t>(GgmlType::F16) ? at::kHalf : at::kBFloat16);
    if (t.nbytes > 0) std::memcpy(out.data_ptr(), f.data(t), t.nbytes);  // an empty tensor's pointer is null
    return out;
  }
  std::vector<float> v = f.dequantize(t.name);
  return at::from_blob(v.data(), shape, at::kFloat).clone();
}

void write_marker(const fs::path& dir, const std::string& source) {
  write_file_atomic((dir / kMarker).string(), json{{"source", source}, {"import_version", kImportVersion}}.dump(2) + "\n");
}

}  // namespace

namespace {
// A GGUF file's tensors under their Hugging Face names, in transformers' layouts: the names are
// known on opening, each tensor is decoded only when asked for.
class HfTensors {
 public:
  explicit HfTensors(const std::string& path) : path_(path), f(path), m{f, f.key("general.architecture").as_string(path + ": general.architecture")} {
    const std::string& arch = m.arch;
    QUENCH_CHECK(gguf_arch_supported(arch), path, ": architecture \"", arch,
                 "\" is not supported (Quench opens GGUF files of llama, qwen2, qwen3, gpt2, mamba and mamba2 models)");
    const GgufTensorInfo& embd = f.tensor("token_embd.weight");
    QUENCH_CHECK(embd.ne.size() == 2, path, ": tensor token_embd.weight has ", embd.ne.size(), " dimensions, expected 2");
    const bool tied = f.find("output.weight") == nullptr;
    config = make_config(m, embd.ne[1], tied);
    heads_ = arch == "llama" ? m.a("attention.head_count") : 0;
    kv_heads_ = arch == "llama" ? m.opt_a("attention.head_count_kv").value_or(heads_) : 0;
    std::set<std::string> seen;
    for (const GgufTensorInfo& t : f.tensors()) {
      if (t.name == "rope_freqs.weight" && arch == "llama") {
        rope_scaling = llama3_scaling(m, read_tensor(f, t), config);
        continue;
      }
      if (ends_with(t.name, ".scale")) {
        // A per-tensor factor llama.cpp multiplies a projection's output by (NVFP4's tensor scale):
        // folded into the weight, which is the same product when there is no bias.
        const std::string wname = t.name.substr(0, t.name.size() - 6) + ".weight";
        QUENCH_CHECK(t.numel() == 1, path, ": tensor ", t.name, " has ", t.numel(), " values; a tensor scale has 1");
        QUENCH_CHECK(f.find(wname) != nullptr, path, ": tensor ", t.name, " scales ", wname, ", which the file does not have");
        QUENCH_CHECK(f.find(t.name.substr(0, t.name.size() - 6) + ".bias") == nullptr, path, ": tensor ", t.name,
                     " together with a bias: llama.cpp's order of the two differs between projections, so Quench does not read it");
        const double v = read_tensor(f, t).to(at::kDouble).item<double>();
        QUENCH_CHECK(std::isfinite(v), path, ": tensor ", t.name, " is ", v, "; a tensor scale must be finite");
        scales_[wname] = static_cast<float>(v);
        continue;
      }
      const std::string hf = hf_tensor_name(arch, t.name);
      QUENCH_CHECK(!hf.empty(), path, ": tensor ", t.name, " has no Hugging Face name in Quench's ", arch, " table");
      QUENCH_CHECK(seen.insert(hf).second, path, ": tensor ", t.name, " maps to ", hf, ", which another tensor already gave");
      tensors.emplace_back(&t, hf);
    }
  }

  // The Hugging Face tensor of GGUF tensor t: dequantized, llama's q/k rows un-permuted, Mamba's
  // and GPT-2's layouts restored. conv1d_as_stored false leaves GPT-2's Conv1D weights [out, in]
  // (llama.cpp's layout, and Quench's layers'), not transformers' [in, out].
  at::Tensor convert(const GgufTensorInfo& t, bool conv1d_as_stored = true) const {
    const std::string& arch = m.arch;
    at::Tensor v = read_tensor(f, t);
    const std::string& g = t.name;
    if (const auto it = scales_.find(g); it != scales_.end()) v = v.to(at::kFloat) * it->second;
    if (arch == "llama" && (g.find(".attn_q.") != std::string::npos || g.find(".attn_k.") != std::string::npos)) {
      const int64_t h = g.find(".attn_q.") != std::string::npos ? heads_ : kv_heads_;
      QUENCH_CHECK(h > 0 && v.size(0) % h == 0 && (v.size(0) / h) % 2 == 0, path_, ": tensor ", g, ": ", v.size(0),
                   " rows do not split into ", h, " heads of even size");
      v = v.index_select(0, at::argsort(qk_row_order(v.size(0), h)));
    }
    if (ends_with(g, ".ssm_a")) v = at::log(-v.to(at::kFloat));  // llama.cpp stores A = −exp(A_log)
    if (arch == "mamba2" && (ends_with(g, ".ssm_a") || ends_with(g, ".ssm_d") || ends_with(g, ".ssm_norm.weight"))) v = v.reshape({-1});
    if (ends_with(g, ".ssm_conv1d.weight")) v = v.reshape({v.size(0), 1, -1});  // [channels, 1, kernel]
    // GPT-2's Conv1D modules store [in, out]; llama.cpp (and Quench's layers) use [out, in].
    if (conv1d_as_stored && arch == "gpt2" && v.dim() == 2 &&
        (ends_with(g, ".attn_qkv.weight") || ends_with(g, ".attn_output.weight") || ends_with(g, ".ffn_up.weight") || ends_with(g, ".ffn_down.weight")))
      v = v.t();
    return v.contiguous();
  }

  std::string path_;
  GgufFile f;
  Meta m;
  json config, rope_scaling;
  std::vector<std::pair<const GgufTensorInfo*, std::string>> tensors;  // (GGUF tensor, Hugging Face name)

 private:
  int64_t heads_ = 0, kv_heads_ = 0;
  std::map<std::string, float> scales_;  // "<name>.weight" → its "<name>.scale"
};
}  // namespace

void for_each_gguf_tensor(const std::string& path, const std::function<void(const std::string&, const at::Tensor&)>& visit,
                          bool layer_layout) {
  const HfTensors h(path);
  for (const auto& [t, hf] : h.tensors) visit(hf, h.convert(*t, !layer_layout));
}

std::string import_gguf(const std::string& path, const std::string& out_dir) {
  std::error_code ec;
  if (fs::exists(out_dir, ec))
    QUENCH_CHECK(fs::is_directory(out_dir, ec) && fs::is_empty(out_dir, ec), out_dir, ": exists and is not an empty directory; choose a new one");
  // Names first: the streamed file reserves its header for them. The tensors are then decoded and
  // written one at a time, so an 8B model never sits in memory as F32 (32 GB) while it converts.
  const HfTensors h(path);
  const GgufFile& f = h.f;
  std::vector<std::string> names;
  for (const auto& [t, hf] : h.tensors) names.push_back(hf);
  const json& config = h.config;
  const json& rope_scaling = h.rope_scaling;
  std::string why;
  const std::optional<json> tokenizer = tokenizer_json_from_gguf(f, why);

  const fs::path target = fs::absolute(out_dir);
  const fs::path tmp = target.parent_path() / (".quench-import-" + target.filename().string() + "-" + std::to_string(::getpid()));
  remove_tree(tmp.string());
  try {
    fs::create_directories(tmp);
    std::map<std::string, int64_t> bytes_by_dtype;
    SafetensorsStreamWriter out((tmp / "model.safetensors").string(), names, {{"format", "pt"}});
    for (const auto& [t, hf] : h.tensors) {
      const at::Tensor v = h.convert(*t);
      bytes_by_dtype[v.scalar_type() == at::kHalf ? "float16" : v.scalar_type() == at::kBFloat16 ? "bfloat16" : "float32"] += v.nbytes();
      out.add(hf, v);
    }
    out.commit();
    json cfg = config;
    if (!rope_scaling.is_null()) cfg["rope_scaling"] = rope_scaling;
    std::string dtype = "float32";
    int64_t most = -1;
    for (const auto& [d, n] : bytes_by_dtype)
      if (n > most) dtype = d, most = n;
    cfg["dtype"] = dtype;
    write_file_atomic((tmp / "config.json").string(), cfg.dump(2) + "\n");
    if (tokenizer) write_file_atomic((tmp / "tokenizer.json").string(), tokenizer->dump(2) + "\n");
    write_marker(tmp, fs::absolute(path).string());
    if (fs::exists(target, ec)) fs::remove(target);  // empty (checked above)
    fs::rename(tmp, target);
  } catch (const fs::filesystem_error& e) {
    remove_tree(tmp.string());
    throw Error(out_dir + ": cannot write the model converted from " + path + " (" + e.what() + ")");
  } catch (const json::exception& e) {  // any other metadata text that is not UTF-8
    remove_tree(tmp.string());
    throw Error(path + ": metadata that config.json or tokenizer.json would hold is not valid text (" + e.what() + ")");
  } catch (...) {
    remove_tree(tmp.string());
    throw;
  }
  return out_dir;
}

bool is_gguf_file(const std::string& path) {
  std::error_code ec;
  std::string ext = fs::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".gguf" && fs::is_regular_file(path, ec);
}

std::string gguf_cache_dir(const std::string& gguf_path) {
  struct stat st {};
  QUENCH_CHECK(::stat(gguf_path.c_str(), &st) == 0, gguf_path, ": cannot read (", std::strerror(errno), ")");
  const int64_t mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return (user_cache_dir("gguf") /
          (fs::path(gguf_path).stem().string() + "-" + std::to_string(static_cast<int64_t>(st.st_size)) + "-" + std::to_string(mtime_ns)))
      .string();
}

std::string resolve_model_path(const std::string& path) {
  if (!is_gguf_file(path)) return path;
  const fs::path dir = gguf_cache_dir(path);
  auto current = [&] {
    std::error_code ec;
    if (!fs::exists(dir / "config.json", ec) || !fs::exists(dir / kMarker, ec)) return false;
    try {
      std::ifstream in(dir / kMarker);
      return json::parse(in).value("import_version", 0) == kImportVersion;
    } catch (const std::exception&) {
      return false;
    }
  };
  if (current()) return dir.string();
  std::error_code ec;
  if (fs::exists(dir, ec)) remove_tree(dir.string());  // written by an older Quench
  fs::create_directories(dir.parent_path(), ec);
  QUENCH_CHECK(!ec, dir.parent_path().string(), ": cannot create the GGUF cache directory (", ec.message(), ")");
  try {
    import_gguf(path, dir.string());
  } catch (const Error&) {
    if (current()) return dir.string();  // another process converted it first
    throw;
  }
  return dir.string();
}

}  // namespace quench
