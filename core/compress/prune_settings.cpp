#include "core/compress/prune_settings.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/compress/json_fields.h"
#include "core/compress/method_registry.h"
#include "core/compress/lowrank_method.h"
#include "core/compress/prune_method.h"
#include "core/util/error.h"

namespace quench {

using recipe_json::Fields;

bool PruneSetting::needs_data() const { return prune_method(method).needs_data; }

nlohmann::json PruneSetting::option(const std::string& key) const {
  const MethodOption* o = prune_method(method).option(key);
  QUENCH_CHECK(o, "prune option \"", key, "\" is not an option of method \"", method, "\"");
  auto it = options.find(key);
  return it != options.end() ? *it : o->fallback;
}

nlohmann::json PruneSetting::to_json() const {
  nlohmann::json j = {{"method", method}};
  if (nm()) j["pattern"] = std::to_string(n) + ":" + std::to_string(m);
  else j["sparsity"] = sparsity;
  for (const MethodOption& o : prune_method(method).options) j[o.key] = option(o.key);
  return j;
}

std::string PruneSetting::describe() const {
  std::ostringstream os;
  if (nm()) os << n << ":" << m;
  else os << sparsity * 100 << "%";
  os << " " << method;
  return os.str();
}

bool LowRankSetting::needs_data() const { return lowrank_method(method).data != LowRankData::None; }
bool LowRankSetting::whitened() const { return lowrank_method(method).data == LowRankData::Hessian; }
bool LowRankSetting::needs_abs_mean() const { return lowrank_method(method).data == LowRankData::InputAbsMean; }

int64_t LowRankSetting::rank_for(int64_t out, int64_t in) const {
  if (rank > 0) return rank;
  if (ratio > 0) {
    if (const auto own = lowrank_method(method).rank_for_ratio) return own(ratio, out, in);
    const double r = std::floor(ratio * static_cast<double>(out) * static_cast<double>(in) / static_cast<double>(out + in));
    return std::max<int64_t>(1, static_cast<int64_t>(r));
  }
  return 0;
}

nlohmann::json LowRankSetting::option(const std::string& key) const {
  const MethodOption* o = lowrank_method(method).option(key);
  QUENCH_CHECK(o, "lowrank option \"", key, "\" is not an option of method \"", method, "\"");
  auto it = options.find(key);
  return it != options.end() ? *it : o->fallback;
}

nlohmann::json LowRankSetting::to_json() const {
  nlohmann::json j = {{"method", method}};
  if (rank > 0) j["rank"] = rank;
  if (ratio > 0) j["ratio"] = ratio;
  if (energy > 0) j["energy"] = energy;
  for (const MethodOption& o : lowrank_method(method).options) j[o.key] = option(o.key);
  return j;
}

std::string LowRankSetting::describe() const {
  std::ostringstream os;
  if (rank > 0) os << "rank " << rank;
  else if (ratio > 0) os << "ratio " << ratio;
  else os << "energy " << energy;
  os << " " << method;
  for (const MethodOption& o : lowrank_method(method).options)
    if (!o.tag.empty()) os << " " << option(o.key).dump() << " " << o.tag;
  return os.str();
}

PruneSetting parse_prune(const nlohmann::json& j, const std::string& key, const FieldSource& source, bool partial) {
  Fields f(j, key, source);
  {
    std::vector<std::string> known = {"method", "sparsity", "pattern"};
    for (const std::string& k : prune_method_option_keys()) known.push_back(k);
    f.only(known);
  }
  PruneSetting p;
  std::vector<std::string> names;
  for (const PruneMethodInfo* m : prune_methods()) names.push_back(m->name);
  p.method = f.get_choice("method", "magnitude", names);
  const PruneMethodInfo& info = prune_method(p.method);
  if (f.has("sparsity")) {
    const auto& v = j["sparsity"];
    if (!v.is_number()) f.fail_at("sparsity", "must be a number, got " + recipe_json::type_name(v) + " " + v.dump());
    const double s = v.get<double>();
    if (!std::isfinite(s) || s < 0 || s >= 1)
      f.fail_at("sparsity", v.dump() + " must be at least 0 and below 1 (the fraction of the weights set to zero)");
    p.sparsity = s;
  }
  if (f.has("pattern")) {
    const auto& v = j["pattern"];
    const std::string s = v.is_string() ? v.get<std::string>() : "";
    const auto colon = s.find(':');
    int n = 0, m = 0;
    bool ok = colon != std::string::npos && colon > 0 && colon + 1 < s.size();
    try {
      size_t used = 0;
      if (ok) n = std::stoi(s.substr(0, colon), &used), ok = used == colon;
      if (ok) m = std::stoi(s.substr(colon + 1), &used), ok = used == s.size() - colon - 1;
    } catch (const std::exception&) {
      ok = false;
    }
    if (!ok) f.fail_at("pattern", "must be \"N:M\" (keep N of every M weights, e.g. \"2:4\"), got " + v.dump());
    if (n < 1 || m < 1) f.fail_at("pattern", "\"" + s + "\": N and M must be at least 1");
    if (n > m) f.fail_at("pattern", "\"" + s + "\": N (" + std::to_string(n) + " kept) is larger than M (" + std::to_string(m) + ")");
    if (m > 64) f.fail_at("pattern", "\"" + s + "\": M is at most 64");
    p.n = n;
    p.m = m;
  }
  if (!partial) {
    if (f.has("sparsity") && f.has("pattern")) f.fail_at("pattern", "give either sparsity (unstructured) or pattern (N:M), not both");
    if (!f.has("sparsity") && !f.has("pattern")) f.fail_at("sparsity", "prune needs a sparsity (e.g. 0.5) or a pattern (e.g. \"2:4\")");
    // Before any value is read, so that a foreign option is the error reported.
    method_registry::refuse_foreign_options(f, prune_methods(), info);
  }
  method_registry::read_options(f, prune_methods(), info, p.options);
  return p;
}

LowRankSetting parse_lowrank(const nlohmann::json& j, const std::string& key, const FieldSource& source, bool partial) {
  Fields f(j, key, source);
  {
    std::vector<std::string> known = {"method", "rank", "ratio", "energy"};
    for (const std::string& k : lowrank_method_option_keys()) known.push_back(k);
    f.only(known);
  }
  LowRankSetting l;
  std::vector<std::string> names, by_energy;
  for (const LowRankMethodInfo* m : lowrank_methods()) {
    names.push_back(m->name);
    if (m->by_energy) by_energy.push_back(std::string("\"") + m->name + "\"");
  }
  l.method = f.get_choice("method", "svd", names);
  const LowRankMethodInfo& info = lowrank_method(l.method);
  l.rank = f.get_int64("rank", 0, 1);
  l.ratio = f.get_double("ratio", 0, 0.0, 1.0, true);
  l.energy = f.get_double("energy", 0, 0.0, 1.0, true);
  // Values are range-checked first here (low-rank's errors have always come in this order).
  method_registry::read_options(f, lowrank_methods(), info, l.options);
  if (!partial) {
    const int given = (f.has("rank") ? 1 : 0) + (f.has("ratio") ? 1 : 0) + (f.has("energy") ? 1 : 0);
    if (given == 0) f.fail_at("rank", "lowrank needs one of rank, ratio or energy");
    if (given > 1) f.fail_at(f.has("rank") ? "rank" : "ratio", "give only one of rank, ratio and energy");
    if (f.has("energy") && !info.by_energy) {
      std::string list;
      for (const std::string& n : by_energy) list += (list.empty() ? "" : " or ") + n;
      f.fail_at("energy", "applies to method " + list + " (the rank must be known before calibration); use rank or ratio with \"" + l.method + "\"");
    }
    method_registry::refuse_foreign_options(f, lowrank_methods(), info);
  }
  return l;
}

}  // namespace quench
