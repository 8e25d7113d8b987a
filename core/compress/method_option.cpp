#include "core/compress/method_option.h"

#include "core/compress/json_fields.h"

namespace quench {

MethodOption MethodOption::flag(std::string key, bool fallback, std::string label, std::string help) {
  MethodOption o{std::move(key), Kind::Flag, fallback};
  o.label = std::move(label);
  o.help = std::move(help);
  return o;
}

MethodOption MethodOption::integer(std::string key, int64_t fallback, int64_t min, int64_t max, std::string label, std::string help) {
  MethodOption o{std::move(key), Kind::Integer, fallback};
  o.min = static_cast<double>(min);
  o.max = static_cast<double>(max);
  o.label = std::move(label);
  o.help = std::move(help);
  return o;
}

MethodOption MethodOption::number(std::string key, double fallback, double min, double max, double step, std::string label, std::string help) {
  MethodOption o{std::move(key), Kind::Number, fallback};
  o.min = min;
  o.max = max;
  o.step = step;
  o.label = std::move(label);
  o.help = std::move(help);
  return o;
}

MethodOption MethodOption::choice(std::string key, std::string fallback, std::vector<std::pair<std::string, std::string>> choices,
                                  std::string label, std::string help) {
  MethodOption o{std::move(key), Kind::Choice, std::move(fallback)};
  o.choices = std::move(choices);
  o.label = std::move(label);
  o.help = std::move(help);
  return o;
}

nlohmann::json read_method_option(const recipe_json::Fields& f, const MethodOption& o) {
  const char* k = o.key.c_str();
  switch (o.kind) {
    case MethodOption::Kind::Flag: return f.get_bool(k, o.fallback.get<bool>());
    case MethodOption::Kind::Integer:
      return o.max > 0 && o.max < 2147483647.0 ? nlohmann::json(f.get_int(k, o.fallback.get<int>(), static_cast<int>(o.min), static_cast<int>(o.max)))
                                               : nlohmann::json(f.get_int64(k, o.fallback.get<int64_t>(), static_cast<int64_t>(o.min)));
    case MethodOption::Kind::Number: return f.get_double(k, o.fallback.get<double>(), o.min, o.max, o.min_open);
    case MethodOption::Kind::Choice: {
      std::vector<std::string> values;
      for (const auto& c : o.choices) values.push_back(c.first);
      return f.get_choice(k, o.fallback.get<std::string>(), values);
    }
  }
  return nullptr;
}

const MethodOption* find_method_option(const std::vector<MethodOption>& options, const std::string& key) {
  for (const MethodOption& o : options)
    if (o.key == key) return &o;
  return nullptr;
}

}  // namespace quench
