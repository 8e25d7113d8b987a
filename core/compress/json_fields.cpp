#include "core/compress/json_fields.h"

#include <cmath>
#include <cstdint>
#include <map>
#include <sstream>

namespace quench::recipe_json {

std::string type_name(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::boolean: return "a boolean";
    case nlohmann::json::value_t::string: return "a string";
    case nlohmann::json::value_t::array: return "an array";
    case nlohmann::json::value_t::object: return "an object";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return "an integer";
    case nlohmann::json::value_t::number_float: return "a number";
    default: return "an unsupported value";
  }
}

namespace {
// "a string \"abc\"", "null": the value as a message quotes it, cut short when long.
std::string described(const nlohmann::json& v) {
  if (v.is_null()) return "null";
  std::string d = v.dump();
  if (d.size() > 60) d = d.substr(0, 57) + "...";
  return type_name(v) + " " + d;
}
}  // namespace

Fields::Fields(const nlohmann::json& j, std::string key, FieldSource source) : j_(j), key_(std::move(key)), source_(std::move(source)) {
  if (!j_.is_object()) throw RecipeError(key_, "", key_ + ": must be an object, got " + type_name(j_));
}

std::string Fields::path(const std::string& f) const { return source_ ? source_(f) : key_ + "." + f; }

void Fields::fail_at(const std::string& f, const std::string& message) const {
  const std::string p = path(f);
  throw RecipeError(p, "", p + ": " + message);
}

void Fields::only(std::initializer_list<const char*> known) const { only(std::vector<std::string>(known.begin(), known.end())); }

void Fields::only(const std::vector<std::string>& known) const {
  static const std::map<std::string, std::string> aliases = {
      {"num_bits", "bits"},          {"nbits", "bits"},           {"wbits", "bits"},     {"groupsize", "group_size"},
      {"group", "group_size"},       {"actorder", "act_order"},   {"desc_act", "act_order"},
      {"sym", "symmetric"},          {"percdamp", "damp"},        {"damp_percent", "damp"},
      {"blocksize", "block_size"},   {"n_grid", "grid"},          {"residual_length", "residual"},
      {"targets", "match"},        {"pattern", "match"}};
  for (auto it = j_.begin(); it != j_.end(); ++it) {
    bool ok = false;
    for (const std::string& k : known) ok = ok || it.key() == k;
    if (ok) continue;
    std::ostringstream msg;
    msg << "unknown key";
    auto a = aliases.find(it.key());
    bool hinted = false;
    if (a != aliases.end())
      for (const std::string& k : known)
        if (a->second == k) {
          msg << " (did you mean '" << k << "'?)";
          hinted = true;
        }
    if (!hinted) {
      msg << " (known here: ";
      bool first = true;
      for (const std::string& k : known) {
        msg << (first ? "" : ", ") << k;
        first = false;
      }
      msg << ")";
    }
    const std::string p = key_ + "." + it.key();
    throw RecipeError(p, "", p + ": " + msg.str());
  }
}

int Fields::get_int(const char* f, int fallback, int lo, int hi) const {
  if (!j_.contains(f)) return fallback;
  const auto& v = j_[f];
  if (!v.is_number_integer()) fail_at(f, "must be an integer, got " + described(v));
  // 2^63 and above arrive as unsigned and would wrap to a negative number in the message.
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) fail_at(f, v.dump() + " is far too large");
  const int64_t x = v.get<int64_t>();
  if (x < lo || x > hi) fail_at(f, std::to_string(x) + " is outside " + std::to_string(lo) + "–" + std::to_string(hi));
  return static_cast<int>(x);
}

int64_t Fields::get_int64(const char* f, int64_t fallback, int64_t lo) const {
  if (!j_.contains(f)) return fallback;
  const auto& v = j_[f];
  if (!v.is_number_integer()) fail_at(f, "must be an integer, got " + described(v));
  // 2^63 and above arrive as unsigned and would wrap to a negative number in the message.
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) fail_at(f, v.dump() + " is far too large");
  const int64_t x = v.get<int64_t>();
  if (x < lo) fail_at(f, std::to_string(x) + " must be at least " + std::to_string(lo));
  return x;
}

double Fields::get_double(const char* f, double fallback, double lo, double hi, bool lo_open) const {
  if (!j_.contains(f)) return fallback;
  const auto& v = j_[f];
  if (!v.is_number()) fail_at(f, "must be a number, got " + described(v));
  const double x = v.get<double>();
  if (!std::isfinite(x) || x > hi || x < lo || (lo_open && x == lo)) {
    std::ostringstream m;
    m << v.dump() << " is outside " << (lo_open ? "(" : "[") << lo << ", " << hi << "]";
    fail_at(f, m.str());
  }
  return x;
}

bool Fields::get_bool(const char* f, bool fallback) const {
  if (!j_.contains(f)) return fallback;
  const auto& v = j_[f];
  if (!v.is_boolean()) fail_at(f, "must be true or false, got " + described(v));
  return v.get<bool>();
}

std::string Fields::get_choice(const char* f, const std::string& fallback, std::initializer_list<const char*> choices) const {
  return get_choice(f, fallback, std::vector<std::string>(choices.begin(), choices.end()));
}

std::string Fields::get_choice(const char* f, const std::string& fallback, const std::vector<std::string>& choices) const {
  if (!j_.contains(f)) return fallback;
  const auto& v = j_[f];
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : ", ") + std::string("\"") + c + "\"";
  if (!v.is_string()) fail_at(f, "must be one of " + list + ", got " + described(v));
  const std::string s = v.get<std::string>();
  for (const auto& c : choices)
    if (s == c) return s;
  fail_at(f, "\"" + s + "\" is not one of " + list);
}

}  // namespace quench::recipe_json
