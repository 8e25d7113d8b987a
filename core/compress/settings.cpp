#include "core/compress/settings.h"

#include <cctype>
#include <sstream>

#include "core/compress/json_fields.h"
#include "core/compress/method_registry.h"
#include "core/compress/weight_method.h"

namespace quench {

using recipe_json::Fields;

RecipeError::RecipeError(std::string key, std::string layer, const std::string& message)
    : Error(message), key_(std::move(key)), layer_(std::move(layer)) {}

const char* strategy_name(WeightStrategy s) {
  switch (s) {
    case WeightStrategy::Tensor: return "tensor";
    case WeightStrategy::Channel: return "channel";
    case WeightStrategy::Group: return "group";
  }
  return "?";
}

namespace {
const char* observer_name(ActObserver o) {
  switch (o) {
    case ActObserver::MinMax: return "minmax";
    case ActObserver::Percentile: return "percentile";
    case ActObserver::Mse: return "mse";
  }
  return "?";
}
}  // namespace

int64_t WeightQuant::slot() const {
  if (ggml) return ggml_info(*ggml).block == 256 ? (*ggml == GgmlType::Q6_K ? 16 : 32) : ggml_info(*ggml).block;
  return strategy == WeightStrategy::Group ? group_size : 0;
}

int64_t WeightQuant::unit() const {
  if (ggml) return ggml_info(*ggml).block;
  return strategy == WeightStrategy::Group ? group_size : 1;
}

double WeightQuant::ggml_bits_per_weight() const {
  if (!ggml) return 0;
  const auto& i = ggml_info(*ggml);
  return 8.0 * static_cast<double>(i.block_bytes) / static_cast<double>(i.block);
}

ops::QuantSpec WeightQuant::spec(double clip_ratio) const {
  ops::QuantSpec s;
  s.bits = bits;
  s.symmetric = symmetric;
  s.granularity = strategy == WeightStrategy::Tensor    ? ops::Granularity::Tensor
                  : strategy == WeightStrategy::Channel ? ops::Granularity::Row
                                                        : ops::Granularity::Group;
  s.group_size = strategy == WeightStrategy::Group ? group_size : 0;
  s.clip = clip_ratio;
  return s;
}

bool WeightQuant::has_option(const std::string& key) const { return weight_method(method).option(key) != nullptr; }

nlohmann::json WeightQuant::option(const std::string& key) const {
  const MethodOption* o = weight_method(method).option(key);
  QUENCH_CHECK(o, "weights option \"", key, "\" is not an option of method \"", method, "\"");
  auto it = options.find(key);
  return it != options.end() ? *it : o->fallback;
}

nlohmann::json WeightQuant::to_json() const {
  nlohmann::json j;
  if (ggml) {
    // The block type is the whole grid; written as parse_weight_quant reads it back.
    std::string name = ggml_info(*ggml).name;
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    j = {{"format", name}, {"method", method}};
  } else if (fp8) {
    j = {{"type", "float"}, {"strategy", strategy_name(strategy)}, {"method", method}};
  } else if (olive) {
    const char* normal = olive_normal == OliveNormal::Int ? "int" : olive_normal == OliveNormal::Flint ? "flint" : "auto";
    return {{"type", "olive"}, {"strategy", strategy_name(strategy)}, {"normal", normal}, {"method", method}};
  } else {
    j = {{"bits", bits}, {"symmetric", symmetric}, {"strategy", strategy_name(strategy)}, {"method", method}};
    if (strategy == WeightStrategy::Group) j["group_size"] = group_size;
    if (strategy == WeightStrategy::Group && group_fallback) j["group_fallback"] = true;
  }
  for (const MethodOption& o : weight_method(method).options) j[o.key] = option(o.key);
  return j;
}

std::string WeightQuant::describe() const {
  std::ostringstream os;
  if (ggml) os << ggml_info(*ggml).name;
  else if (fp8) os << "FP8 E4M3 ";
  else if (olive) os << "OliVe W4 " << (olive_normal == OliveNormal::Int ? "int " : olive_normal == OliveNormal::Flint ? "flint " : "");
  else os << "W" << bits << (symmetric ? " sym" : " asym") << " ";
  if (ggml) ;
  else if (strategy == WeightStrategy::Group) os << "g" << group_size;
  else os << strategy_name(strategy);
  os << " " << method;
  for (const MethodOption& o : weight_method(method).options)
    if (!o.tag.empty() && option(o.key) != o.fallback) os << " " << o.tag;
  return os.str();
}

nlohmann::json ActQuant::to_json() const {
  if (log_sqrt2) return {{"type", "log_sqrt2"}, {"bits", bits}};
  if (fp4) return {{"format", *fp4 == GgmlType::MXFP4 ? "mxfp4" : "nvfp4"}};
  nlohmann::json j = {{"bits", bits}, {"symmetric", symmetric}, {"strategy", strategy == ActStrategy::Token ? "token" : "tensor"},
                      {"dynamic", dynamic}};
  if (fp8) {
    j.erase("bits");
    j.erase("symmetric");
    j["type"] = "float";
  }
  if (!dynamic) {
    j["observer"] = observer_name(observer);
    if (observer == ActObserver::Percentile) j["percentile"] = percentile;
  }
  return j;
}

std::string ActQuant::describe() const {
  std::ostringstream os;
  if (log_sqrt2) return "A" + std::to_string(bits) + " log√2";
  if (fp4) return std::string("A ") + ggml_info(*fp4).name + " dynamic";
  if (fp8) os << "A FP8 E4M3";
  else os << "A" << bits << (symmetric ? "" : " asym");
  if (strategy == ActStrategy::Token) os << " dynamic token";
  else if (dynamic) os << " dynamic tensor";
  else {
    os << " static tensor " << observer_name(observer);
    if (observer == ActObserver::Percentile) os << " " << percentile;
  }
  return os.str();
}

nlohmann::json KvQuant::to_json() const {
  if (method == KvMethod::Fp8) return {{"method", "fp8"}};
  if (fp4()) return {{"method", method == KvMethod::Mxfp4 ? "mxfp4" : "nvfp4"}};
  if (method == KvMethod::ZipCache)
    return {{"method", "zipcache"}, {"bits", bits}, {"high_bits", high_bits}, {"salient", salient}, {"group_size", group_size}, {"probe", probe}};
  return {{"method", "kivi"}, {"bits", bits}, {"group_size", group_size}, {"residual", residual}};
}

std::string KvQuant::describe() const {
  if (method == KvMethod::Fp8) return "FP8 E4M3 static per tensor";
  if (method == KvMethod::Mxfp4) return "MXFP4 (E2M1, power-of-two scale per 32)";
  if (method == KvMethod::Nvfp4) return "NVFP4 (E2M1, E4M3 scale per 16)";
  if (method == KvMethod::ZipCache) {
    std::ostringstream os;
    os << "ZipCache " << high_bits << "/" << bits << "-bit, " << salient * 100 << "% salient, g" << group_size;
    return os.str();
  }
  return "KIVI " + std::to_string(bits) + "-bit g" + std::to_string(group_size) + " residual " + std::to_string(residual);
}

WeightQuant parse_weight_quant(const nlohmann::json& j, const std::string& key, const FieldSource& source, bool partial) {
  Fields f(j, key, source);
  {
    std::vector<std::string> known = {"type", "bits", "symmetric", "strategy", "group_size", "group_fallback", "method", "format", "normal"};
    for (const std::string& k : weight_method_option_keys()) known.push_back(k);
    f.only(known);
  }
  WeightQuant w;
  const std::string format = f.get_choice("format", "int", {"int", "q8_0", "q4_0", "q5_0", "q4_1", "q5_1", "q4_k", "q6_k", "mxfp4", "nvfp4"});
  const std::string type = f.get_choice("type", "int", {"int", "float", "olive"});
  w.fp8 = type == "float";
  w.olive = type == "olive";
  if ((w.fp8 || w.olive) && format != "int")
    f.fail_at("type", "\"" + type + "\" is a grid of its own; it does not combine with format \"" + format + "\"");
  if (!partial && f.has("normal") && !w.olive) f.fail_at("normal", "is an OliVe setting (type \"olive\"); type is \"" + type + "\"");
  if (w.olive) {
    // 4-bit codes: sign + 3-bit index on the normal or the outlier grid, one fp16 scale per channel or tensor.
    if (f.has("bits") && f.get_int("bits", 4, 2, 8) != 4) f.fail_at("bits", "OliVe weights are 4-bit outlier-victim pairs: 4 bits");
    if (f.has("symmetric") && !f.get_bool("symmetric", true)) f.fail_at("symmetric", "OliVe's grids are symmetric");
    if (f.has("group_size")) f.fail_at("group_size", "OliVe weights take a scale per channel or per tensor, not per group");
    const std::string strategy = f.get_choice("strategy", "channel", {"tensor", "channel"});
    w.strategy = strategy == "tensor" ? WeightStrategy::Tensor : WeightStrategy::Channel;
    const std::string normal = f.get_choice("normal", "auto", {"auto", "int", "flint"});
    w.olive_normal = normal == "int" ? OliveNormal::Int : normal == "flint" ? OliveNormal::Flint : OliveNormal::Auto;
    w.bits = 4;
    w.symmetric = true;
  } else if (w.fp8) {
    // FP8 E4M3: 8 bits, symmetric, one F32 scale per output channel or per tensor.
    if (f.has("bits") && f.get_int("bits", 8, 2, 8) != 8) f.fail_at("bits", "float weights are FP8 E4M3: 8 bits");
    if (f.has("symmetric") && !f.get_bool("symmetric", true)) f.fail_at("symmetric", "FP8 weights are symmetric");
    if (f.has("group_size")) f.fail_at("group_size", "FP8 weights take scales per channel or per tensor, not per group");
    const std::string strategy = f.get_choice("strategy", "channel", {"tensor", "channel"});
    w.strategy = strategy == "tensor" ? WeightStrategy::Tensor : WeightStrategy::Channel;
    w.bits = 8;
    w.symmetric = true;
  } else if (format != "int") {
    // The block type is the whole grid: nothing else may describe it.
    for (const char* k : {"bits", "symmetric", "strategy", "group_size"})
      if (f.has(k)) f.fail_at(k, std::string("is fixed by format \"") + format + "\" (remove it)");
    const GgmlType t = *ggml_type_from_name(format);
    w.ggml = t;
    w.bits = t == GgmlType::Q8_0 ? 8 : t == GgmlType::Q6_K ? 6 : (t == GgmlType::Q5_0 || t == GgmlType::Q5_1) ? 5 : 4;
    w.symmetric = t == GgmlType::Q8_0 || t == GgmlType::Q4_0 || t == GgmlType::Q5_0 || t == GgmlType::Q6_K || t == GgmlType::MXFP4 || t == GgmlType::NVFP4;
    w.strategy = WeightStrategy::Group;
    w.group_size = w.slot();
  } else {
    w.bits = f.get_int("bits", 8, 2, 8);
    w.symmetric = f.get_bool("symmetric", true);
    const std::string strategy = f.get_choice("strategy", f.has("group_size") ? "group" : "channel", {"tensor", "channel", "group"});
    w.strategy = strategy == "tensor" ? WeightStrategy::Tensor : strategy == "channel" ? WeightStrategy::Channel : WeightStrategy::Group;
    w.group_size = f.get_int64("group_size", 0, 1);
    w.group_fallback = f.get_bool("group_fallback", false);
    if (!partial && f.has("group_fallback") && w.strategy != WeightStrategy::Group)
      f.fail_at("group_fallback", "is only used with strategy \"group\" (strategy is \"" + strategy + "\")");
    if (partial) {
      // combinations are checked on the merged setting
    } else if (w.strategy == WeightStrategy::Group) {
      if (!f.has("group_size")) f.fail_at("strategy", "\"group\" needs a group_size");
    } else if (f.has("group_size")) {
      f.fail_at("group_size", "is only used with strategy \"group\" (strategy is \"" + strategy + "\")");
    }
  }
  std::vector<std::string> names;
  for (const WeightMethodInfo* m : weight_methods()) names.push_back(m->name);
  w.method = f.get_choice("method", "rtn", names);
  const WeightMethodInfo& info = weight_method(w.method);
  // A method's own options belong to it alone (checked for every key before any value is read, so
  // that a foreign option is the error reported); a patch's options are checked against their owner.
  if (!partial) method_registry::refuse_foreign_options(f, weight_methods(), info);
  method_registry::read_options(f, weight_methods(), info, w.options);
  if (!partial && (w.fp8 || w.olive) && !info.fixed_grids) {
    std::string rounds;
    for (const WeightMethodInfo* m : weight_methods())
      if (m->fixed_grids && rounds.empty()) rounds = m->name;
    if (w.fp8)
      f.fail_at("method", "FP8 weights are rounded to nearest (method \"" + rounds + "\"), as llm-compressor's FP8 schemes do; " +
                              "method \"" + w.method + "\" searches an integer grid");
    f.fail_at("method", "OliVe searches its own scale on the weights (method \"" + rounds + "\"); method \"" + w.method + "\" searches an integer grid");
  }
  if (info.default_asymmetric && !f.has("symmetric")) w.symmetric = false;
  if (!partial && info.check) info.check(w, [&](const char* key, const std::string& message) { f.fail_at(key, message); });
  return w;
}

ActQuant parse_act_quant(const nlohmann::json& j, const std::string& key, const FieldSource& source, bool partial) {
  Fields f(j, key, source);
  f.only({"format", "type", "bits", "symmetric", "strategy", "dynamic", "observer", "percentile"});
  ActQuant a;
  const std::string format = f.get_choice("format", "int", {"int", "mxfp4", "nvfp4"});
  if (format != "int") {
    // A fixed format: 4-bit E2M1 values with their block scales computed from each tensor.
    for (const char* k : {"type", "symmetric", "strategy", "dynamic", "observer", "percentile"})
      if (f.has(k)) f.fail_at(k, "format \"" + format + "\" is dynamic E2M1 in blocks along the channels with nothing to choose (remove it)");
    if (f.get_int("bits", 4, 2, 8) != 4) f.fail_at("bits", "format \"" + format + "\" holds 4-bit E2M1 values");
    a.fp4 = format == "mxfp4" ? GgmlType::MXFP4 : GgmlType::NVFP4;
    a.bits = 4;
    a.dynamic = true;
    return a;
  }
  const std::string type = f.get_choice("type", "int", {"int", "float", "log_sqrt2"});
  a.fp8 = type == "float";
  a.log_sqrt2 = type == "log_sqrt2";
  a.bits = f.get_int("bits", 8, 2, 8);
  if (a.log_sqrt2) {
    // A fixed grid of powers of √2 below 1: nothing to choose but the bits.
    for (const char* k : {"symmetric", "strategy", "dynamic", "observer", "percentile"})
      if (f.has(k)) f.fail_at(k, "type \"log_sqrt2\" is a fixed grid (powers of √2 below 1) with no scale; only bits apply (remove it)");
    a.symmetric = false;
    a.strategy = ActStrategy::Tensor;
    a.dynamic = true;
    return a;
  }
  a.symmetric = f.get_bool("symmetric", true);
  if (a.fp8 && a.bits != 8) f.fail_at("bits", "float activations are FP8 E4M3: 8 bits");
  if (a.fp8 && !a.symmetric) f.fail_at("symmetric", "FP8 activations are symmetric");
  const std::string strategy = f.get_choice("strategy", "tensor", {"tensor", "token"});
  a.strategy = strategy == "token" ? ActStrategy::Token : ActStrategy::Tensor;
  a.dynamic = f.get_bool("dynamic", a.strategy == ActStrategy::Token);
  if (!partial && a.strategy == ActStrategy::Token && !a.dynamic)
    f.fail_at("dynamic", "strategy \"token\" computes a scale per token at run time, so it must be dynamic (static scales are per tensor)");
  if (!partial && a.dynamic && f.has("observer")) f.fail_at("observer", "only static activations (dynamic: false) are calibrated by an observer");
  if (!partial && a.dynamic && f.has("percentile")) f.fail_at("percentile", "only static activations (dynamic: false) use a percentile");
  const std::string obs = f.get_choice("observer", "minmax", {"minmax", "percentile", "mse"});
  a.observer = obs == "percentile" ? ActObserver::Percentile : obs == "mse" ? ActObserver::Mse : ActObserver::MinMax;
  if (!partial && f.has("percentile") && a.observer != ActObserver::Percentile)
    f.fail_at("percentile", "is used by observer \"percentile\" only (observer is \"" + obs + "\")");
  a.percentile = f.get_double("percentile", 99.99, 50.0, 100.0);
  return a;
}

KvQuant parse_kv_quant(const nlohmann::json& j, const std::string& key, const FieldSource& source, bool partial) {
  Fields f(j, key, source);
  f.only({"method", "bits", "group_size", "residual", "high_bits", "salient", "probe"});
  KvQuant k;
  const std::string method = f.get_choice("method", "kivi", {"kivi", "fp8", "zipcache", "mxfp4", "nvfp4"});
  if (method == "fp8" || method == "mxfp4" || method == "nvfp4") {
    // A format whose scales are fixed by its definition: nothing else to choose.
    for (const char* kivi : {"bits", "group_size", "residual"})
      if (f.has(kivi)) f.fail_at(kivi, "is a KIVI setting; method \"" + method + "\" has none (remove it)");
    for (const char* zip : {"high_bits", "salient", "probe"})
      if (f.has(zip)) f.fail_at(zip, "is a ZipCache setting; method \"" + method + "\" has none (remove it)");
    k.method = method == "fp8" ? KvMethod::Fp8 : method == "mxfp4" ? KvMethod::Mxfp4 : KvMethod::Nvfp4;
    return k;
  }
  if (method == "zipcache") {
    // No full-precision window: every token is quantized, the salient ones at high_bits.
    if (f.has("residual")) f.fail_at("residual", "is a KIVI setting; ZipCache quantizes every token (remove it)");
    k.method = KvMethod::ZipCache;
    k.bits = f.get_int("bits", 2, 2, 8);
    k.high_bits = f.get_int("high_bits", 4, 2, 8);
    k.group_size = f.get_int64("group_size", 32, 1);
    k.salient = f.get_double("salient", 0.4, 0.0, 1.0);
    k.probe = f.get_double("probe", 0.1, 0.0, 1.0, true);
    k.residual = 0;
    if (!partial && k.high_bits < k.bits)
      f.fail_at("high_bits", std::to_string(k.high_bits) + " is below bits " + std::to_string(k.bits) + " (the salient tokens get the higher precision)");
    return k;
  }
  for (const char* z : {"high_bits", "salient", "probe"})
    if (f.has(z)) f.fail_at(z, "is a ZipCache setting (method \"zipcache\"); method is \"kivi\"");
  k.bits = f.get_int("bits", 2, 2, 8);
  k.group_size = f.get_int64("group_size", 32, 1);
  k.residual = f.get_int64("residual", 128, 0);
  if (!partial && k.residual % k.group_size != 0)
    f.fail_at("residual", std::to_string(k.residual) + " must be a multiple of group_size " + std::to_string(k.group_size) +
                              " (keys leave the full-precision window in whole groups)");
  return k;
}

}  // namespace quench
