#include "core/io/config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include "core/util/error.h"
#include "core/util/read_file.h"

namespace quench {

std::optional<double> json_to_double(const nlohmann::json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_object() && v.contains("__float__") && v["__float__"].is_string()) {
    const auto s = v["__float__"].get<std::string>();
    if (s == "Infinity" || s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-Infinity" || s == "-inf") return -std::numeric_limits<double>::infinity();
    if (s == "NaN" || s == "nan") return std::numeric_limits<double>::quiet_NaN();
  }
  return std::nullopt;
}

namespace {
// Python's json module writes bare Infinity, -Infinity and NaN (older transformers configs have
// "time_step_limit": [0.0, Infinity]); nlohmann refuses them, so rewrite them, outside strings,
// into the {"__float__": ...} form that transformers 5 writes.
std::string normalize_python_floats(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  bool in_str = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_str) {
      out.push_back(c);
      if (c == '\\' && i + 1 < s.size()) out.push_back(s[++i]);
      else if (c == '"') in_str = false;
      continue;
    }
    if (c == '"') {
      in_str = true;
      out.push_back(c);
      continue;
    }
    auto word = [&](const char* w) { return s.compare(i, std::char_traits<char>::length(w), w) == 0; };
    if (word("-Infinity")) { out += "{\"__float__\":\"-Infinity\"}"; i += 8; }
    else if (word("Infinity")) { out += "{\"__float__\":\"Infinity\"}"; i += 7; }
    else if (word("NaN")) { out += "{\"__float__\":\"NaN\"}"; i += 2; }
    else out.push_back(c);
  }
  return out;
}
}  // namespace

Config Config::load(const std::string& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(normalize_python_floats(read_file(path, kMaxJsonBytes, "config")));
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": not valid JSON: ", e.what());
  }
  QUENCH_CHECK(j.is_object(), path, ": expected a JSON object at the top level");
  return Config(std::move(j), path);
}

bool Config::has(const std::string& key) const { return j_.contains(key) && !j_[key].is_null(); }

const nlohmann::json& Config::at(const std::string& key) const {
  if (!has(key)) fail(path_, ": missing key '", prefix_, key, "'");
  return j_[key];
}

void Config::bad(const std::string& key, const std::string& want) const {
  fail(path_, ": key '", prefix_, key, "' must be ", want, " (found ", j_[key].dump(), ")");
}

int64_t Config::get_int(const std::string& key) const {
  const auto& v = at(key);
  // Beyond int64 (an unsigned 2^64 − 1, a float 1e300) the conversions below would wrap or be undefined.
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    bad(key, "an integer below 2^63");
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::abs(d) < 9.0e18 && d == std::trunc(d)) return static_cast<int64_t>(d);
  }
  bad(key, "an integer");
}
int64_t Config::get_int(const std::string& key, int64_t fallback) const { return has(key) ? get_int(key) : fallback; }

double Config::get_double(const std::string& key) const {
  auto d = json_to_double(at(key));
  if (!d) bad(key, "a number");
  return *d;
}
double Config::get_double(const std::string& key, double fallback) const { return has(key) ? get_double(key) : fallback; }

bool Config::get_bool(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  const auto& v = j_[key];
  if (!v.is_boolean()) bad(key, "true or false");
  return v.get<bool>();
}

std::string Config::get_string(const std::string& key) const {
  const auto& v = at(key);
  if (!v.is_string()) bad(key, "a string");
  return v.get<std::string>();
}
std::string Config::get_string(const std::string& key, const std::string& fallback) const {
  return has(key) ? get_string(key) : fallback;
}

std::vector<int64_t> Config::get_int_list(const std::string& key) const {
  const auto& v = at(key);
  if (!v.is_array()) bad(key, "a list of integers");
  std::vector<int64_t> out;
  for (const auto& e : v) {
    if (!e.is_number_integer()) bad(key, "a list of integers");
    out.push_back(e.get<int64_t>());
  }
  return out;
}

Config Config::sub(const std::string& key) const {
  const auto& v = at(key);
  if (!v.is_object()) bad(key, "an object");
  Config c(v, path_);
  c.prefix_ = prefix_ + key + ".";
  c.size_bound_ = size_bound_;
  c.size_bound_why_ = size_bound_why_;
  return c;
}

void Config::set_size_bound(int64_t bound, std::string why) {
  size_bound_ = std::max<int64_t>(bound, 1);
  size_bound_why_ = std::move(why);
}

int64_t Config::get_size(const std::string& key) const {
  const int64_t v = get_int(key);
  if (v < 1 || v > size_bound_)
    fail(path_, ": key '", prefix_, key, "' is ", v, "; it must be a positive integer no larger than ", size_bound_, " (",
         size_bound_why_, ")");
  return v;
}
int64_t Config::get_size(const std::string& key, int64_t fallback) const {
  if (has(key)) return get_size(key);
  if (fallback < 1 || fallback > size_bound_)
    fail(path_, ": key '", prefix_, key, "' is absent and the size derived for it, ", fallback,
         ", is not a positive integer no larger than ", size_bound_, " (", size_bound_why_, ")");
  return fallback;
}

int64_t Config::get_int_in(const std::string& key, int64_t lo, int64_t hi) const {
  const int64_t v = get_int(key);
  if (v < lo || v > hi) fail(path_, ": key '", prefix_, key, "' is ", v, "; it must be between ", lo, " and ", hi);
  return v;
}
int64_t Config::get_int_in(const std::string& key, int64_t fallback, int64_t lo, int64_t hi) const {
  return has(key) ? get_int_in(key, lo, hi) : fallback;
}

double Config::get_double_in(const std::string& key, double fallback, double lo, double hi) const {
  if (!has(key)) return fallback;
  const double v = get_double(key);
  if (!(std::isfinite(v) && v > lo && v < hi)) {
    std::ostringstream rule;
    rule << "a finite number greater than " << lo;
    if (std::isfinite(hi)) rule << " and less than " << hi;
    fail(path_, ": key '", prefix_, key, "' is ", j_[key].dump(), "; it must be ", rule.str());
  }
  return v;
}

std::string Config::architecture() const {
  if (has("architectures")) {
    const auto& a = j_["architectures"];
    if (!a.is_array() || a.empty() || !a[0].is_string()) bad("architectures", "a non-empty list of names");
    return a[0].get<std::string>();
  }
  if (has("model_type")) return get_string("model_type");
  fail(path_, ": has neither 'architectures' nor 'model_type'; cannot tell which model this is");
}

}  // namespace quench
