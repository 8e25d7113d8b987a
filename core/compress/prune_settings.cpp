#include "core/compress/prune_settings.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/compress/json_fields.h"
#include "core/compress/prune_method.h"

namespace quench {

using recipe_json::Fields;

const char* prune_method_name(PruneMethod m) { return prune_method(m).name; }

const char* lowrank_method_name(LowRankMethod m) {
  switch (m) {
    case LowRankMethod::Svd: return "svd";
    case LowRankMethod::Asvd: return "asvd";
    case LowRankMethod::SvdLlm: return "svd-llm";
    case LowRankMethod::Palu: return "palu";
  }
  return "?";
}

nlohmann::json PruneSetting::to_json() const {
  nlohmann::json j = {{"method", prune_method_name(method)}};
  if (nm()) j["pattern"] = std::to_string(n) + ":" + std::to_string(m);
  else j["sparsity"] = sparsity;
  for (const std::string& o : prune_method(method).options) {
    if (o == "damp") j[o] = damp;
    if (o == "block_size") j[o] = block_size;
  }
  return j;
}

std::string PruneSetting::describe() const {
  std::ostringstream os;
  if (nm()) os << n << ":" << m;
  else os << sparsity * 100 << "%";
  os << " " << prune_method_name(method);
  return os.str();
}

int64_t LowRankSetting::rank_for(int64_t out, int64_t in) const {
  if (rank > 0) return rank;
  if (ratio > 0 && method == LowRankMethod::Palu) return std::max<int64_t>(1, static_cast<int64_t>(std::floor(ratio * static_cast<double>(out))));
  if (ratio > 0) {
    const double r = std::floor(ratio * static_cast<double>(out) * static_cast<double>(in) / static_cast<double>(out + in));
    return std::max<int64_t>(1, static_cast<int64_t>(r));
  }
  return 0;
}

nlohmann::json LowRankSetting::to_json() const {
  nlohmann::json j = {{"method", lowrank_method_name(method)}};
  if (rank > 0) j["rank"] = rank;
  if (ratio > 0) j["ratio"] = ratio;
  if (energy > 0) j["energy"] = energy;
  if (method == LowRankMethod::Asvd) j["alpha"] = alpha;
  if (method == LowRankMethod::Palu) j["group_heads"] = group_heads;
  return j;
}

std::string LowRankSetting::describe() const {
  std::ostringstream os;
  if (rank > 0) os << "rank " << rank;
  else if (ratio > 0) os << "ratio " << ratio;
  else os << "energy " << energy;
  os << " " << lowrank_method_name(method);
  if (method == LowRankMethod::Palu) os << " " << group_heads << " heads per group";
  return os.str();
}

PruneSetting parse_prune(const nlohmann::json& j, const std::string& key, const FieldSource& source, bool partial) {
  Fields f(j, key, source);
  f.only({"method", "sparsity", "pattern", "damp", "block_size"});
  PruneSetting p;
  std::vector<std::string> names;
  for (const PruneMethodInfo* m : prune_methods()) names.push_back(m->name);
  const std::string method = f.get_choice("method", "magnitude", names);
  const PruneMethodInfo& info = *find_prune_method(method);
  p.method = info.id;
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
    // A method's own option given to another: named with the methods that read it.
    for (const PruneMethodInfo* m : prune_methods())
      for (const std::string& field : m->options)
        if (f.has(field.c_str()) && std::find(info.options.begin(), info.options.end(), field) == info.options.end())
          f.fail_at(field, "applies to method \"" + std::string(m->name) + "\", not \"" + method + "\"");
  }
  p.damp = f.get_double("damp", 0.01, 0.0, 1.0, true);
  p.block_size = f.get_int64("block_size", 128, 1);
  return p;
}

LowRankSetting parse_lowrank(const nlohmann::json& j, const std::string& key, const FieldSource& source, bool partial) {
  Fields f(j, key, source);
  f.only({"method", "rank", "ratio", "energy", "alpha", "group_heads"});
  LowRankSetting l;
  const std::string method = f.get_choice("method", "svd", {"svd", "asvd", "svd-llm", "palu"});
  l.method = method == "asvd"      ? LowRankMethod::Asvd
             : method == "svd-llm" ? LowRankMethod::SvdLlm
             : method == "palu"    ? LowRankMethod::Palu
                                   : LowRankMethod::Svd;
  l.rank = f.get_int64("rank", 0, 1);
  l.ratio = f.get_double("ratio", 0, 0.0, 1.0, true);
  l.energy = f.get_double("energy", 0, 0.0, 1.0, true);
  l.alpha = f.get_double("alpha", 0.5, 0.0, 2.0);
  l.group_heads = f.get_int("group_heads", 4, 1, 4096);
  if (!partial) {
    const int given = (f.has("rank") ? 1 : 0) + (f.has("ratio") ? 1 : 0) + (f.has("energy") ? 1 : 0);
    if (given == 0) f.fail_at("rank", "lowrank needs one of rank, ratio or energy");
    if (given > 1) f.fail_at(f.has("rank") ? "rank" : "ratio", "give only one of rank, ratio and energy");
    if (f.has("energy") && l.method != LowRankMethod::Svd)
      f.fail_at("energy", "applies to method \"svd\" (the rank must be known before calibration); use rank or ratio with \"" + method + "\"");
    if (f.has("alpha") && l.method != LowRankMethod::Asvd) f.fail_at("alpha", "applies to method \"asvd\", not \"" + method + "\"");
    if (f.has("group_heads") && l.method != LowRankMethod::Palu) f.fail_at("group_heads", "applies to method \"palu\", not \"" + method + "\"");
  }
  return l;
}

}  // namespace quench
