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

  // Validated reads: each violation is one message naming the file, the key, its value and the rule,
  // raised before the value can reach a division or an allocation.
  // A size (a width, a head count, a kernel length): an integer from 1 to size_bound().
  int64_t get_size(const std::string& key) const;
  int64_t get_size(const std::string& key, int64_t fallback) const;
  // An integer in [lo, hi] (a layer count bounded by the checkpoint's tensor count, a window ≥ 0).
  int64_t get_int_in(const std::string& key, int64_t lo, int64_t hi) const;
  int64_t get_int_in(const std::string& key, int64_t fallback, int64_t lo, int64_t hi) const;
  // A finite number in the open interval (lo, hi) (epsilons in (0, 1), rope_theta in (0, ∞)).
  double get_double_in(const std::string& key, double fallback, double lo, double hi) const;
  // Every size in config.json describes a tensor dimension or a count of them, so none can
  // exceed the checkpoint's largest tensor; the checkpoint sets this once its headers are read.
  void set_size_bound(int64_t bound, std::string why);
  int64_t size_bound() const { return size_bound_; }
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
  int64_t size_bound_ = int64_t{1} << 31;
  std::string size_bound_why_ = "2^31";
};

// JSON numbers as Python's json module writes them, plus transformers' {"__float__": "Infinity"}.
std::optional<double> json_to_double(const nlohmann::json& v);

}  // namespace quench
