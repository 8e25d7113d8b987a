#pragma once
// Typed access to a Hugging Face config.json. Every failed lookup names the file and the key.
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace quench {

class Config {
 public:
  Config() = default;
  Config(nlohmann::json j, std::string path) : j_(std::move(j)), path_(std::move(path)) {}
  static Config load(const std::string& path);

  const nlohmann::json& json() const { return j_; }
  const std::string& path() const { return path_; }
  bool has(const std::string& key) const;  // present and not null

  int64_t get_int(const std::string& key) const;
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_double(const std::string& key) const;
  double get_double(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  std::vector<int64_t> get_int_list(const std::string& key) const;
  // A nested object as a Config (same file, key path "a.b" in messages).
  Config sub(const std::string& key) const;

  // Architecture name: architectures[0], else derived from model_type.
  std::string architecture() const;

 private:
  const nlohmann::json& at(const std::string& key) const;
  [[noreturn]] void bad(const std::string& key, const std::string& want) const;
  nlohmann::json j_;
  std::string path_;
  std::string prefix_;
};

// JSON numbers as Python's json module writes them, plus transformers' {"__float__": "Infinity"}.
std::optional<double> json_to_double(const nlohmann::json& v);

}  // namespace quench
