#pragma once
// Read-only typed access into a parsed tokenizer.json without copying it (Config copies nested
// objects, which for a 10 MB vocabulary costs more than parsing). Every error names the file
// and the key path: "tokenizer.json: pre_tokenizer.pretokenizers[1].pattern: expected a string".
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace quench::text {

class JsonNode {
 public:
  JsonNode(const nlohmann::json& j, std::string file, std::string path = {})
      : j_(&j), file_(std::move(file)), path_(std::move(path)) {}

  const nlohmann::json& json() const { return *j_; }
  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }
  // "file: path" for messages.
  std::string where() const { return path_.empty() ? file_ : file_ + ": " + path_; }

  bool is_null() const { return j_->is_null(); }
  bool has(const std::string& key) const;  // an object with this key, not null
  JsonNode at(const std::string& key) const;  // throws when missing
  JsonNode at(size_t index) const;
  size_t size() const;  // of an array; throws for anything else
  void expect_object() const;
  void expect_array() const;

  std::string str() const;
  std::string str(const std::string& key) const;
  std::string str(const std::string& key, const std::string& fallback) const;  // fallback when absent or null
  bool boolean(const std::string& key, bool fallback) const;
  int64_t integer() const;
  int64_t integer(const std::string& key) const;
  // The "type" field of a component.
  std::string type() const { return str("type"); }

  [[noreturn]] void fail(const std::string& message) const;

 private:
  std::string child(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  const nlohmann::json* j_;
  std::string file_, path_;
};

}  // namespace quench::text
