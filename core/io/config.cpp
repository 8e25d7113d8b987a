#include "core/io/config.h"

#include <fstream>
#include <limits>
#include <sstream>

#include "core/util/error.h"

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
  std::ifstream in(path);
  QUENCH_CHECK(in, path, ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(normalize_python_floats(ss.str()));
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
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<int64_t>(v.get<double>())))
    return static_cast<int64_t>(v.get<double>());
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
  return c;
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
