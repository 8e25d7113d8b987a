#include "core/io/ct_decode.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <cmath>
#include <optional>
#include <regex>
#include <vector>

#include "core/io/checkpoint.h"
#include "core/io/e4m3.h"
#include "core/util/error.h"

namespace quench {

using json = nlohmann::json;

struct CtDecoder::Args {
  int bits = 8;
  bool is_float = false;
  bool symmetric = true;
  std::string strategy;  // tensor, channel, group, block
  int64_t group_size = 0;
  int64_t block_rows = 0, block_cols = 0;
  bool global_scale = false;  // NVFP4 (tensor_group): group scales divided by weight_global_scale
};

struct CtDecoder::Module {
  std::string prefix;
  std::string format;           // the group's (or the checkpoint's) format
  std::optional<Args> weights;  // absent: sparse only, float values
  bool sparse = false;
  int64_t rows = 0, cols = 0;
};

namespace {

const char* const kFormats[] = {"pack-quantized",       "int-quantized",        "naive-quantized", "float-quantized",
                                "nvfp4-pack-quantized", "mxfp4-pack-quantized", "dense"};

bool is_fp4_format(const std::string& f) { return f == "nvfp4-pack-quantized" || f == "mxfp4-pack-quantized"; }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_float_dtype(StDtype d) { return d == StDtype::F32 || d == StDtype::F16 || d == StDtype::BF16 || d == StDtype::F64; }

std::string shape_text(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// compressed-tensors' utils/match.py: "re:" targets are re.match (anchored at the start only),
// others are exact module names or class names. Only Linear layers carry weight scales, so a
// class-name target (no dot, capitalised: "Linear", "QKVParallelLinear") matches every module here.
bool matches(const std::string& module, const std::string& target, bool* specific = nullptr) {
  if (specific) *specific = true;
  if (target.rfind("re:", 0) == 0) {
    try {
      return std::regex_search(module, std::regex(target.substr(3)), std::regex_constants::match_continuous);
    } catch (const std::regex_error&) {
      return false;  // reported once when the config is read
    }
  }
  if (target == module) return true;
  if (target.find('.') == std::string::npos && !target.empty() && std::isupper(static_cast<unsigned char>(target[0]))) {
    if (specific) *specific = false;
    return true;
  }
  return false;
}

class ConfigReader {
 public:
  explicit ConfigReader(std::string path) : path_(std::move(path)) {}
  template <typename... A>
  [[noreturn]] void bad(const std::string& where, A&&... a) const {
    fail(path_, ": quantization_config", where.empty() ? "" : ".", where, ": ", std::forward<A>(a)...);
  }

  CtDecoder::Args args(const json& j, const std::string& where) const {
    if (!j.is_object()) bad(where, "expected an object of quantization arguments");
    CtDecoder::Args a;
    auto integer = [&](const char* key, int64_t fallback) -> int64_t {
      if (!j.contains(key) || j[key].is_null()) return fallback;
      if (!j[key].is_number_integer()) bad(where + "." + key, "expected an integer, got ", j[key].dump());
      return j[key].get<int64_t>();
    };
    const int64_t bits = integer("num_bits", 8);
    const std::string type = j.value("type", json("int")).is_string() ? j.value("type", std::string("int")) : "";
    if (type != "int" && type != "float") bad(where + ".type", "expected \"int\" or \"float\", got ", j.value("type", json()).dump());
    a.is_float = type == "float";
    if (a.is_float && bits != 8 && bits != 4)
      bad(where, "float weights of ", bits, " bits are not read by Quench (FP8: 8 bits; NVFP4, MXFP4: 4 bits)");
    if (bits < 1 || bits > 8) bad(where + ".num_bits", "must be 1 to 8, got ", bits);
    a.bits = static_cast<int>(bits);
    if (j.contains("symmetric") && !j["symmetric"].is_null()) {
      if (!j["symmetric"].is_boolean()) bad(where + ".symmetric", "expected true or false, got ", j["symmetric"].dump());
      a.symmetric = j["symmetric"].get<bool>();
    }
    const int64_t gs = integer("group_size", 0);
    std::string strategy;
    if (j.contains("strategy") && !j["strategy"].is_null()) {
      if (!j["strategy"].is_string()) bad(where + ".strategy", "expected a string, got ", j["strategy"].dump());
      strategy = j["strategy"].get<std::string>();
    } else {  // quant_args.py's inference from group_size
      strategy = gs > 0 ? "group" : gs == -1 ? "channel" : "tensor";
    }
    // NVFP4's tensor_group: group scales under one per-tensor global scale (weight_global_scale).
    if (strategy == "tensor_group") {
      if (!a.is_float || bits != 4) bad(where + ".strategy", "tensor_group is NVFP4's strategy (4-bit float weights)");
      a.global_scale = true;
      strategy = "group";
    }
    if (strategy == "group") {
      if (gs <= 0) bad(where + ".group_size", "strategy group needs a group_size > 0, got ", gs);
      a.group_size = gs;
    } else if (strategy == "block") {
      const json& b = j.contains("block_structure") ? j["block_structure"] : json();
      if (!b.is_array() || b.size() != 2 || !b[0].is_number_integer() || !b[1].is_number_integer() || b[0].get<int64_t>() <= 0 ||
          b[1].get<int64_t>() <= 0)
        bad(where + ".block_structure", "strategy block needs [rows, columns] > 0, got ", b.dump());
      a.block_rows = b[0].get<int64_t>();
      a.block_cols = b[1].get<int64_t>();
    } else if (strategy != "tensor" && strategy != "channel") {
      bad(where + ".strategy", "'", strategy, "' is not a weight strategy Quench reads (tensor, channel, group, block, tensor_group)");
    }
    a.strategy = strategy;
    return a;
  }

 private:
  std::string path_;
};

struct Group {
  std::string name;
  std::vector<std::string> targets;
  std::optional<CtDecoder::Args> weights;
  std::string format;
};

// Unsigned values of `bits` packed 32/bits to an int32 word, low bits first, along dim 1; returns
// int32 [rows, n] shifted to compressed-tensors' signed range. Padding after n must be zero.
at::Tensor unpack_int32(const at::Tensor& packed, int bits, int64_t n, const std::string& what) {
  const int64_t per = 32 / bits;
  const int32_t mask = (1 << bits) - 1;
  std::vector<at::Tensor> parts;
  for (int64_t i = 0; i < per; ++i) parts.push_back(at::bitwise_and(at::bitwise_right_shift(packed, bits * i), mask));
  auto all = at::stack(parts, 2).reshape({packed.size(0), packed.size(1) * per});
  if (all.size(1) > n)
    QUENCH_CHECK(!all.narrow(1, n, all.size(1) - n).any().item<bool>(), what, ": non-zero padding bits after the last of ", n,
                 " packed values in a row");
  return all.narrow(1, 0, n).sub(1 << (bits - 1)).contiguous();
}

// A scale or zero point [.., ..] spread over the weight's [rows, cols] by the strategy.
at::Tensor expand(const at::Tensor& p, const CtDecoder::Args& a, int64_t rows, int64_t cols, const at::Tensor& col_group) {
  if (a.strategy == "tensor") return p.reshape({1, 1}).expand({rows, cols});
  if (a.strategy == "channel") return p.reshape({rows, 1}).expand({rows, cols});
  if (a.strategy == "group") return p.reshape({rows, -1}).index_select(1, col_group);
  return p.repeat_interleave(a.block_rows, 0).repeat_interleave(a.block_cols, 1).narrow(0, 0, rows).narrow(1, 0, cols);
}

// Two E2M1 values a byte, the even column in the low nibble: sign bit 3, magnitude 0, 0.5, 1, 1.5,
// 2, 3, 4, 6 (compressed-tensors' pack_fp4_to_uint8).
at::Tensor e2m1_to_float(const at::Tensor& bytes) {
  constexpr float kMagnitude[8] = {0.f, 0.5f, 1.f, 1.5f, 2.f, 3.f, 4.f, 6.f};
  std::array<float, 16> table{};
  for (int c = 0; c < 16; ++c) table[c] = (c & 8 ? -1.f : 1.f) * kMagnitude[c & 7];
  const auto t = at::from_blob(table.data(), {16}, at::kFloat).clone();
  const at::Tensor b = bytes.to(at::kLong).reshape(-1);
  const at::Tensor codes = at::stack({b.bitwise_and(15), b.bitwise_right_shift(4)}, 1).reshape(-1);
  return t.index_select(0, codes);
}

// MXFP4's scales: 2^(e − 127); e = 255 is NaN (refused as a non-finite scale).
at::Tensor e8m0_to_float(const at::Tensor& bytes) {
  std::array<float, 256> table{};
  for (int e = 0; e < 256; ++e) table[e] = e == 255 ? NAN : std::ldexp(1.f, e - 127);
  return at::from_blob(table.data(), {256}, at::kFloat).clone().index_select(0, bytes.to(at::kLong).reshape(-1));
}

}  // namespace

CtDecoder::~CtDecoder() = default;

std::shared_ptr<const CtDecoder> CtDecoder::open(const Checkpoint& ck, const std::vector<std::string>& stored) {
  const json& cfg = ck.config().json();
  const std::string cfg_path = ck.config().path();
  const char* key = cfg.contains("quantization_config") ? "quantization_config" : cfg.contains("compression_config") ? "compression_config" : nullptr;
  if (!key || cfg[key].is_null()) return nullptr;
  const json& qc = cfg[key];
  ConfigReader r(cfg_path);
  if (!qc.is_object()) r.bad("", "expected an object");
  const std::string method = qc.contains("quant_method") && qc["quant_method"].is_string() ? qc["quant_method"].get<std::string>() : "";
  if (method != "compressed-tensors")
    fail(cfg_path, ": quantization_config.quant_method is ", qc.contains("quant_method") ? qc["quant_method"].dump() : "absent",
         "; Quench reads compressed-tensors checkpoints (llm-compressor's format) and GGUF files. Convert others with their "
         "own tools first (e.g. dequantize in transformers and save_pretrained)");

  std::shared_ptr<CtDecoder> d(new CtDecoder);
  d->format_ = qc.value("format", json("dense")).is_string() ? qc.value("format", std::string("dense")) : "";
  const std::string status = qc.value("quantization_status", json("")).is_string() ? qc.value("quantization_status", std::string()) : "";

  std::vector<Group> groups;
  if (qc.contains("config_groups") && !qc["config_groups"].is_null()) {
    if (!qc["config_groups"].is_object()) r.bad("config_groups", "expected an object of groups");
    for (const auto& [name, g] : qc["config_groups"].items()) {
      const std::string where = "config_groups." + name;
      if (!g.is_object()) r.bad(where, "expected an object (targets, weights, ...), got ", g.dump());
      Group grp;
      grp.name = name;
      if (!g.contains("targets") || !g["targets"].is_array() || g["targets"].empty()) r.bad(where + ".targets", "expected a non-empty list");
      for (const auto& t : g["targets"]) {
        if (!t.is_string()) r.bad(where + ".targets", "expected strings, got ", t.dump());
        const auto s = t.get<std::string>();
        if (s.rfind("re:", 0) == 0) {
          try {
            std::regex check(s.substr(3));
          } catch (const std::regex_error& e) {
            r.bad(where + ".targets", "'", s, "' is not a valid regular expression (", e.what(), ")");
          }
        }
        grp.targets.push_back(s);
      }
      if (g.contains("weights") && !g["weights"].is_null()) grp.weights = r.args(g["weights"], where + ".weights");
      grp.format = g.contains("format") && g["format"].is_string() ? g["format"].get<std::string>() : d->format_;
      if (grp.format == "mixed-precision") r.bad(where, "the checkpoint's format is mixed-precision, so each group needs its own format");
      if (std::find(std::begin(kFormats), std::end(kFormats), grp.format) == std::end(kFormats))
        r.bad(where + ".format", "'", grp.format, "' is not a format Quench reads (pack-quantized, int-quantized, naive-quantized, "
                                                  "float-quantized, nvfp4-pack-quantized, mxfp4-pack-quantized, dense)");
      groups.push_back(std::move(grp));
    }
  }
  std::vector<std::string> ignore;
  if (qc.contains("ignore") && !qc["ignore"].is_null()) {
    if (!qc["ignore"].is_array()) r.bad("ignore", "expected a list of module names");
    for (const auto& t : qc["ignore"])
      if (t.is_string()) ignore.push_back(t.get<std::string>());
  }
  std::string sparsity;
  if (qc.contains("sparsity_config") && !qc["sparsity_config"].is_null() && qc["sparsity_config"] != json::object()) {
    const json& sc = qc["sparsity_config"];
    if (!sc.is_object() || !sc.contains("format") || !sc["format"].is_string()) r.bad("sparsity_config", "expected an object with a format");
    sparsity = sc["format"].get<std::string>();
    if (sparsity != "sparse-24-bitmask" && sparsity != "dense")
      r.bad("sparsity_config.format", "'", sparsity, "' is not read by Quench (sparse-24-bitmask and dense are)");
    if (sparsity == "sparse-24-bitmask" && sc.contains("sparsity_structure") && sc["sparsity_structure"] != "2:4")
      r.bad("sparsity_config.sparsity_structure", "sparse-24-bitmask holds 2:4 sparsity, not ", sc["sparsity_structure"].dump());
  }
  const bool compressed = status == "compressed";

  std::set<std::string> have(stored.begin(), stored.end());
  std::set<std::string> quantized, sparse;
  for (const auto& n : stored) {
    for (const char* s : {".weight_packed", ".weight_scale"})
      if (ends_with(n, s)) quantized.insert(n.substr(0, n.size() - std::strlen(s)));
    if (ends_with(n, ".bitmask")) sparse.insert(n.substr(0, n.size() - 8));
    // Activation and KV-cache quantization parameters are for the engine, not for the weights.
    for (const char* s : {".input_scale", ".input_zero_point", ".input_global_scale", ".output_scale", ".output_zero_point", ".k_scale",
                          ".v_scale", ".k_zero_point", ".v_zero_point"})
      if (ends_with(n, s)) d->hidden_.insert(n);
  }
  if (!sparse.empty() && sparsity != "sparse-24-bitmask")
    fail(ck.dir(), ": tensor '", *sparse.begin(), ".bitmask' is sparse-compressed but ", cfg_path,
         " has no sparsity_config of format sparse-24-bitmask");

  auto info_of = [&](const std::string& n) -> const TensorInfo& { return ck.stored_info(n); };
  auto part = [&](const std::string& prefix, const char* suffix, bool required, const std::string& why) -> const TensorInfo* {
    const std::string n = prefix + suffix;
    if (!have.count(n)) {
      QUENCH_CHECK(!required, ck.dir(), ": module '", prefix, "' lacks tensor '", n, "' (", why, ")");
      return nullptr;
    }
    d->hidden_.insert(n);
    return &info_of(n);
  };
  auto small_pair = [&](const std::string& n) {  // weight_shape / shape: two integers
    const TensorInfo& t = info_of(n);
    QUENCH_CHECK((t.dtype == StDtype::I32 || t.dtype == StDtype::I64) && t.numel() == 2, ck.dir(), ": tensor '", n,
                 "' must hold two integers (rows, columns), got ", t.dtype_name, shape_text(t.shape));
    const auto v = ck.load_stored(n).to(at::kLong).reshape(-1);
    const int64_t rows = v[0].item<int64_t>(), cols = v[1].item<int64_t>();
    QUENCH_CHECK(rows > 0 && cols > 0 && rows <= (int64_t{1} << 31) && cols <= (int64_t{1} << 31), ck.dir(), ": tensor '", n,
                 "' gives shape [", rows, ", ", cols, "]");
    return std::pair<int64_t, int64_t>{rows, cols};
  };
  auto need = [&](bool ok, const std::string& prefix, const TensorInfo& t, const std::string& want) {
    QUENCH_CHECK(ok, ck.dir(), ": module '", prefix, "': tensor '", t.name, "' is ", t.dtype_name, shape_text(t.shape), ", expected ", want);
  };

  std::set<std::string> modules = quantized;
  modules.insert(sparse.begin(), sparse.end());
  for (const auto& prefix : modules) {
    auto m = std::make_shared<Module>();
    m->prefix = prefix;
    m->format = d->format_;
    if (quantized.count(prefix)) {
      for (const auto& ig : ignore) {
        // A class name on the ignore list ("Embedding", "MllamaVisionModel") names other module
        // types; only a Linear class would cover a module that holds weight scales.
        bool specific = true;
        const bool hit = matches(prefix, ig, &specific);
        const bool linear_class = ig.size() >= 6 && ig.compare(ig.size() - 6, 6, "Linear") == 0;
        QUENCH_CHECK(!hit || (!specific && !linear_class), ck.dir(), ": module '", prefix, "' holds quantization parameters but ", cfg_path,
                     " lists it under ignore ('", ig, "')");
      }
      const Group* chosen = nullptr;
      bool chosen_specific = false;
      for (const auto& g : groups)
        for (const auto& t : g.targets) {
          bool specific = false;
          if (!matches(prefix, t, &specific)) continue;
          if (chosen && chosen != &g && specific && chosen_specific)
            fail(cfg_path, ": module '", prefix, "' is targeted by two config groups, '", chosen->name, "' and '", g.name, "'");
          if (!chosen || (specific && !chosen_specific)) chosen = &g, chosen_specific = specific;
        }
      QUENCH_CHECK(chosen, ck.dir(), ": module '", prefix, "' holds quantization parameters but no config group of ", cfg_path, " targets it");
      QUENCH_CHECK(chosen->weights, ck.dir(), ": module '", prefix, "' holds weight_scale but config group '", chosen->name, "' of ", cfg_path,
                   " quantizes no weights");
      m->weights = chosen->weights;
      m->format = chosen->format;
    }
    m->sparse = sparse.count(prefix) != 0;
    const std::string wname = prefix + ".weight";
    if (m->weights && (!compressed || (m->format == "dense" && !m->sparse))) {
      // Fake-quantized ("frozen") or dense: the float weight is stored; only the parameters go.
      QUENCH_CHECK(!m->sparse, ck.dir(), ": module '", prefix, "' is sparse-compressed but quantization_status is '", status, "'");
      for (const char* s : {".weight_scale", ".weight_zero_point", ".weight_g_idx", ".weight_global_scale"})
        if (have.count(prefix + s)) d->hidden_.insert(prefix + s);
      QUENCH_CHECK(have.count(wname) && is_float_dtype(info_of(wname).dtype), ck.dir(), ": module '", prefix,
                   "' has quantization parameters and quantization_status '", status, "', so its float weight '", wname,
                   "' should be stored, and it is not");
      continue;
    }
    // The weight's shape and the stored values.
    StDtype values = StDtype::Other;
    if (m->sparse) {
      std::tie(m->rows, m->cols) = small_pair(prefix + ".shape");
      d->hidden_.insert(prefix + ".shape");
      const auto* comp = part(prefix, ".compressed", true, "sparse-24-bitmask stores the kept values there");
      const auto* mask = part(prefix, ".bitmask", true, "sparse-24-bitmask");
      QUENCH_CHECK(m->cols % 4 == 0, ck.dir(), ": module '", prefix, "': ", m->cols, " columns are not a multiple of 4, so it cannot be 2:4 sparse");
      need(comp->shape == std::vector<int64_t>{m->rows, m->cols / 2} &&
               (is_float_dtype(comp->dtype) || comp->dtype == StDtype::I8 || comp->dtype == StDtype::F8_E4M3),
           prefix, *comp, "a float, F8_E4M3 or I8 tensor " + shape_text({m->rows, m->cols / 2}) + " (half of " + prefix + ".shape)");
      need(mask->dtype == StDtype::U8 && mask->shape == std::vector<int64_t>{m->rows, ceil_div(m->cols, 8)}, prefix, *mask,
           "U8" + shape_text({m->rows, ceil_div(m->cols, 8)}));
      values = comp->dtype;
      if (m->weights) {
        QUENCH_CHECK(m->format == "int-quantized" || m->format == "naive-quantized" || m->format == "float-quantized", ck.dir(), ": module '",
                     prefix, "' is 2:4 sparse and quantized as ", m->format, "; sparse-24-bitmask holds int8 or float values only");
        QUENCH_CHECK(values == (m->weights->is_float ? StDtype::F8_E4M3 : StDtype::I8),
                     ck.dir(), ": module '", prefix, "': the sparse values are ", comp->dtype_name, " but the weights are quantized to ",
                     m->weights->is_float ? "FP8" : "int", m->weights->bits);
      } else {
        QUENCH_CHECK(is_float_dtype(values), ck.dir(), ": module '", prefix, "': sparse values are ", comp->dtype_name,
                     " but no config group quantizes this module");
      }
    } else if (m->format == "pack-quantized") {
      QUENCH_CHECK(!m->weights->is_float, cfg_path, ": module '", prefix, "' is pack-quantized with float weights, which Quench does not read");
      std::tie(m->rows, m->cols) = small_pair(prefix + ".weight_shape");
      d->hidden_.insert(prefix + ".weight_shape");
      const auto* packed = part(prefix, ".weight_packed", true, "pack-quantized stores the weight there");
      const int64_t per = 32 / m->weights->bits;
      need(packed->dtype == StDtype::I32 && packed->shape == std::vector<int64_t>{m->rows, ceil_div(m->cols, per)}, prefix, *packed,
           "I32" + shape_text({m->rows, ceil_div(m->cols, per)}) + " (" + std::to_string(per) + " " + std::to_string(m->weights->bits) +
               "-bit values a word)");
    } else if (is_fp4_format(m->format)) {
      QUENCH_CHECK(m->weights && m->weights->is_float && m->weights->bits == 4, cfg_path, ": module '", prefix, "' is ", m->format,
                   " but its config group does not quantize weights to 4-bit floats");
      const auto* packed = part(prefix, ".weight_packed", true, m->format + " stores the weight there, two 4-bit values a byte");
      need(packed->dtype == StDtype::U8 && packed->shape.size() == 2, prefix, *packed, "U8 [rows, columns / 2]");
      m->rows = packed->shape[0], m->cols = packed->shape[1] * 2;
      if (have.count(prefix + ".weight_shape")) {  // written by some versions; must agree when present
        const auto [r, c] = small_pair(prefix + ".weight_shape");
        QUENCH_CHECK(r == m->rows && c == m->cols, ck.dir(), ": module '", prefix, "': weight_shape [", r, ", ", c, "] does not match '", prefix,
                     ".weight_packed' ", shape_text(packed->shape), " (two values a byte)");
        d->hidden_.insert(prefix + ".weight_shape");
      }
    } else {
      QUENCH_CHECK(have.count(wname), ck.dir(), ": module '", prefix, "' lacks tensor '", wname, "' (", m->format, " stores the weight there)");
      const TensorInfo& w = info_of(wname);
      const StDtype want = m->format == "float-quantized" ? StDtype::F8_E4M3 : StDtype::I8;
      need(w.dtype == want && w.shape.size() == 2, prefix, w, std::string(dtype_name(want)) + " [rows, columns] (" + m->format + ")");
      m->rows = w.shape[0], m->cols = w.shape[1];
      d->hidden_.insert(wname);
      if (m->weights) QUENCH_CHECK(m->weights->is_float == (m->format == "float-quantized"), cfg_path, ": module '", prefix, "' is ", m->format,
                                   " but its config group quantizes ", m->weights->is_float ? "float" : "int", " weights");
    }
    if (m->weights) {
      const Args& a = *m->weights;
      const auto* scale = part(prefix, ".weight_scale", true, "every quantized weight has its scales");
      std::vector<int64_t> want;
      if (a.strategy == "tensor") want = {1};
      if (a.strategy == "channel") want = {m->rows, 1};
      if (a.strategy == "group") want = {m->rows, ceil_div(m->cols, a.group_size)};
      if (a.strategy == "block") want = {ceil_div(m->rows, a.block_rows), ceil_div(m->cols, a.block_cols)};
      auto numel_of = [](const std::vector<int64_t>& s) { int64_t n = 1; for (auto x : s) n *= x; return n; };
      const bool shape_ok = a.strategy == "group" || a.strategy == "block" ? scale->shape == want : scale->numel() == numel_of(want);
      if (m->format == "nvfp4-pack-quantized") {
        need(scale->dtype == StDtype::F8_E4M3 && shape_ok, prefix, *scale, "F8_E4M3 " + shape_text(want) + " (NVFP4 group scales)");
      } else if (m->format == "mxfp4-pack-quantized") {
        need(scale->dtype == StDtype::U8 && shape_ok, prefix, *scale, "U8 " + shape_text(want) + " (MXFP4 group exponents, E8M0)");
      } else {
        need(is_float_dtype(scale->dtype) && shape_ok, prefix, *scale, "a float tensor " + shape_text(want) + " (" + a.strategy + " scales)");
      }
      if (a.global_scale) {
        const auto* gs = part(prefix, ".weight_global_scale", true, "NVFP4's group scales are divided by it");
        need(is_float_dtype(gs->dtype) && gs->numel() == 1, prefix, *gs, "one float (the per-tensor global scale)");
      }
      const auto* zp = part(prefix, ".weight_zero_point", false, "");
      QUENCH_CHECK(zp || a.symmetric, ck.dir(), ": module '", prefix, "' is quantized asymmetrically but lacks '", prefix, ".weight_zero_point'");
      if (zp) {
        if (m->format == "pack-quantized" && a.strategy != "tensor") {
          const int64_t per = 32 / a.bits;
          const std::vector<int64_t> zwant = {ceil_div(want[0], per), numel_of(want) / want[0]};
          need(zp->dtype == StDtype::I32 && zp->shape == zwant, prefix, *zp, "I32" + shape_text(zwant) + " (zero points packed along the output dimension)");
        } else {
          need((zp->dtype == StDtype::I8 || zp->dtype == StDtype::I32 || is_float_dtype(zp->dtype)) && zp->numel() == numel_of(want), prefix, *zp,
               "one zero point per scale, " + shape_text(want));
        }
      }
      if (const auto* g = part(prefix, ".weight_g_idx", false, "")) {
        need((g->dtype == StDtype::I32 || g->dtype == StDtype::I64) && g->numel() == m->cols && a.strategy == "group", prefix, *g,
             "I32 [" + std::to_string(m->cols) + "] with group strategy (act-order: the group of each input column)");
      }
    }
    TensorInfo info;
    info.name = wname;
    info.dtype = StDtype::F32;
    info.dtype_name = "F32";
    info.shape = {m->rows, m->cols};
    d->infos_[wname] = info;
    d->modules_[wname] = m;
  }
  return d;
}

const TensorInfo* CtDecoder::find(const std::string& name) const {
  auto it = infos_.find(name);
  return it == infos_.end() ? nullptr : &it->second;
}

std::string CtDecoder::describe(const std::string& name) const {
  auto it = modules_.find(name);
  if (it == modules_.end()) return "";
  const Module& m = *it->second;
  std::string out = m.sparse ? "2:4" : "";
  if (!m.weights) return out;
  const Args& a = *m.weights;
  const std::string kind = !a.is_float ? "int" + std::to_string(a.bits) : a.bits == 8 ? "fp8" : m.format == "mxfp4-pack-quantized" ? "mxfp4" : "nvfp4";
  out += std::string(out.empty() ? "" : " ") + kind;
  if (a.strategy == "group") out += " g" + std::to_string(a.group_size);
  else if (a.strategy == "block") out += " block " + std::to_string(a.block_rows) + "x" + std::to_string(a.block_cols);
  else out += " " + a.strategy;
  if (!a.symmetric) out += " asym";
  if (hidden_.count(m.prefix + ".weight_g_idx")) out += " act-order";
  return out;
}

at::Tensor CtDecoder::decode(const Checkpoint& ck, const std::string& name) const {
  auto it = modules_.find(name);
  QUENCH_CHECK(it != modules_.end(), ck.dir(), ": no compressed tensor '", name, "'");
  const Module& m = *it->second;
  const std::string& p = m.prefix;
  const std::string where = ck.dir() + ": module '" + p + "'";
  const int64_t rows = m.rows, cols = m.cols;

  // 1. the stored values: integers (signed, compressed-tensors' range) or floats
  at::Tensor values;
  if (m.sparse) {
    const auto bits = ck.load_stored(p + ".bitmask").to(at::kInt);
    std::vector<at::Tensor> planes;
    for (int i = 0; i < 8; ++i) planes.push_back(at::bitwise_and(at::bitwise_right_shift(bits, i), 1));
    const auto mask = at::stack(planes, 2).reshape({rows, -1}).narrow(1, 0, cols).to(at::kBool);
    const auto kept = mask.reshape({rows, cols / 4, 4}).sum(2);
    QUENCH_CHECK(kept.eq(2).all().item<bool>(), where, ": '", p, ".bitmask' does not keep exactly two of every four weights");
    const std::string cname = p + ".compressed";
    at::Tensor comp = ck.stored_info(cname).dtype == StDtype::F8_E4M3 ? e4m3_values(ck.load_stored_bytes(cname))
                                                                      : ck.load_stored(cname).to(at::kFloat);
    values = at::zeros({rows, cols}, at::kFloat).masked_scatter_(mask, comp.reshape(-1));
  } else if (m.format == "pack-quantized") {
    values = unpack_int32(ck.load_stored(p + ".weight_packed").reshape({rows, -1}), m.weights->bits, cols, where + ": '" + p + ".weight_packed'");
  } else if (m.format == "float-quantized") {
    values = e4m3_values(ck.load_stored_bytes(p + ".weight")).reshape({rows, cols});
  } else if (is_fp4_format(m.format)) {
    values = e2m1_to_float(ck.load_stored_bytes(p + ".weight_packed")).reshape({rows, cols});
  } else {
    values = ck.load_stored(p + ".weight").to(at::kInt);
  }
  if (!m.weights) return values.contiguous();

  // 2. the grid: (q − z) · s, spread by the strategy
  const Args& a = *m.weights;
  if (!a.is_float) {
    const int64_t qmin = -(int64_t{1} << (a.bits - 1)), qmax = (int64_t{1} << (a.bits - 1)) - 1;
    QUENCH_CHECK(values.ge(qmin).all().item<bool>() && values.le(qmax).all().item<bool>(), where, ": quantized weights outside [", qmin, ", ",
                 qmax, "] for ", a.bits, " bits");
  }
  at::Tensor col_group;
  if (a.strategy == "group") {
    const int64_t groups = ceil_div(cols, a.group_size);
    const auto natural = at::arange(cols, at::kLong).div(a.group_size, "floor");
    const std::string gname = p + ".weight_g_idx";
    col_group = ck.has_stored(gname) ? ck.load_stored(gname).to(at::kLong).reshape(-1) : natural;
    if (ck.has_stored(gname)) {
      QUENCH_CHECK(col_group.ge(0).all().item<bool>() && col_group.lt(groups).all().item<bool>(), where, ": '", gname, "' holds groups outside [0, ",
                   groups, ")");
      QUENCH_CHECK(at::equal(at::bincount(col_group, {}, groups), at::bincount(natural, {}, groups)), where, ": '", gname, "' does not put ",
                   a.group_size, " columns in each group");
    }
  }
  at::Tensor scale;
  if (m.format == "nvfp4-pack-quantized") {
    // compressed-tensors' dequantize: q · (scale / global_scale), in float32.
    const at::Tensor global = ck.load_stored(p + ".weight_global_scale").to(at::kFloat).reshape({});
    QUENCH_CHECK(std::isfinite(global.item<float>()) && global.item<float>() != 0, where, ": '", p, ".weight_global_scale' is ",
                 global.item<float>(), "; NVFP4 divides the group scales by it");
    scale = e4m3_values(ck.load_stored_bytes(p + ".weight_scale")) / global;
  } else if (m.format == "mxfp4-pack-quantized") {
    scale = e8m0_to_float(ck.load_stored_bytes(p + ".weight_scale"));
  } else {
    scale = ck.load_stored(p + ".weight_scale").to(at::kFloat);
  }
  QUENCH_CHECK(at::isfinite(scale).all().item<bool>(), where, ": '", p, ".weight_scale' holds non-finite values");
  at::Tensor q = values.to(at::kFloat);
  const std::string zname = p + ".weight_zero_point";
  if (ck.has_stored(zname)) {
    at::Tensor z = ck.load_stored(zname);
    if (m.format == "pack-quantized" && a.strategy != "tensor") {
      const int64_t zrows = a.strategy == "block" ? ceil_div(rows, a.block_rows) : rows;
      z = unpack_int32(z.t().contiguous(), a.bits, zrows, where + ": '" + zname + "'").t();
    }
    z = z.to(at::kFloat);
    if (a.symmetric) QUENCH_CHECK(!z.ne(0).any().item<bool>(), where, ": symmetric weights with a non-zero '", zname, "'");
    if (!a.is_float) {
      const int64_t qmin = -(int64_t{1} << (a.bits - 1)), qmax = (int64_t{1} << (a.bits - 1)) - 1;
      QUENCH_CHECK(z.ge(qmin).all().item<bool>() && z.le(qmax).all().item<bool>(), where, ": '", zname, "' outside [", qmin, ", ", qmax, "]");
    }
    q = q - expand(z, a, rows, cols, col_group);
  }
  return (q * expand(scale, a, rows, cols, col_group)).contiguous();
}

std::optional<StoredIntGrid> CtDecoder::int_grid(const Checkpoint& ck, const std::string& name) const {
  auto it = modules_.find(name);
  if (it == modules_.end()) return std::nullopt;
  const Module& m = *it->second;
  if (m.sparse || !m.weights || m.weights->is_float || is_fp4_format(m.format)) return std::nullopt;
  const Args& a = *m.weights;
  if (a.strategy != "tensor" && a.strategy != "channel" && a.strategy != "group") return std::nullopt;
  const std::string& p = m.prefix;
  const std::string where = ck.dir() + ": module '" + p + "'";
  StoredIntGrid g;
  g.bits = a.bits;
  g.symmetric = a.symmetric;
  g.strategy = a.strategy;
  g.group_size = a.strategy == "group" ? a.group_size : 0;
  const at::Tensor scale = ck.load_stored(p + ".weight_scale").to(at::kFloat);
  g.scale = a.strategy == "tensor" ? scale.reshape({1}) : a.strategy == "channel" ? scale.reshape({m.rows}) : scale.reshape({m.rows, -1});
  g.scale = g.scale.contiguous();
  const std::string zname = p + ".weight_zero_point";
  if (!a.symmetric) {
    // compressed-tensors' signed zero point, shifted like the values into [0, 2^bits − 1].
    at::Tensor z = ck.has_stored(zname) ? ck.load_stored(zname) : at::zeros(g.scale.sizes(), at::kInt);
    if (ck.has_stored(zname) && m.format == "pack-quantized" && a.strategy != "tensor")
      z = unpack_int32(z.t().contiguous(), a.bits, m.rows, where + ": '" + zname + "'").t();
    g.zero = (z.to(at::kInt).reshape(g.scale.sizes()) + (1 << (a.bits - 1))).contiguous();
  }
  const std::string gname = p + ".weight_g_idx";
  if (ck.has_stored(gname)) g.g_idx = ck.load_stored(gname).to(at::kInt).reshape(-1);
  return g;
}

}  // namespace quench
