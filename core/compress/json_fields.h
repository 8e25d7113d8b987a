#pragma once
// Strict reading of one JSON object of a recipe: every key must be known, every value of the
// right type and range; a violation throws RecipeError naming the key path. Shared by the recipe
// parser and the per-method setting parsers so their messages read the same.
#include <nlohmann/json.hpp>

#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "core/compress/settings.h"

namespace quench::recipe_json {

// The type of a JSON value, for messages ("a string", "a number", ...).
std::string type_name(const nlohmann::json& j);

class Fields {
 public:
  // j must be an object; `key` is its path ("overrides[0].weights"); `source` maps a field to the
  // path it came from when j was merged (empty: key + "." + field).
  Fields(const nlohmann::json& j, std::string key, FieldSource source = {});

  // Throws for any key not in `known`, suggesting the right name for common aliases
  // (num_bits → bits, groupsize → group_size, actorder → act_order).
  void only(std::initializer_list<const char*> known) const;
  void only(const std::vector<std::string>& known) const;
  bool has(const char* f) const { return j_.contains(f); }
  std::string path(const std::string& f) const;

  int get_int(const char* f, int fallback, int lo, int hi) const;
  int64_t get_int64(const char* f, int64_t fallback, int64_t lo) const;
  double get_double(const char* f, double fallback, double lo, double hi, bool lo_open = false) const;
  bool get_bool(const char* f, bool fallback) const;
  // One of `choices` (exact, lower case).
  std::string get_choice(const char* f, const std::string& fallback, std::initializer_list<const char*> choices) const;
  std::string get_choice(const char* f, const std::string& fallback, const std::vector<std::string>& choices) const;

  [[noreturn]] void fail_at(const std::string& f, const std::string& message) const;

 private:
  const nlohmann::json& j_;
  std::string key_;
  FieldSource source_;
};

}  // namespace quench::recipe_json
