#pragma once
// A small command-line parser: each command declares its options; anything else is a usage
// error (exit code 2) that names the offending argument.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace quench::cli {

class Args {
 public:
  // flags: options without a value ("--json"); valued: options taking one value ("--out").
  Args(const std::vector<std::string>& argv, std::set<std::string> flags, std::set<std::string> valued,
       std::set<std::string> repeatable = {});
  bool help() const { return help_; }
  bool flag(const std::string& name) const { return flags_set_.count(name) != 0; }
  std::optional<std::string> get(const std::string& name) const;
  std::string get(const std::string& name, const std::string& fallback) const;
  std::vector<std::string> get_all(const std::string& name) const;
  std::string require(const std::string& name) const;
  int64_t get_int(const std::string& name, int64_t fallback) const;
  double get_double(const std::string& name, double fallback) const;
  const std::vector<std::string>& positional() const { return positional_; }
  // Exactly n positional arguments, named for the message.
  void expect_positional(const std::vector<std::string>& names, size_t optional = 0) const;

 private:
  std::set<std::string> flags_set_;
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
  bool help_ = false;
};

// --max-memory GIB as bytes (0 when not given): what the model's weights may take on the compute
// device before eval, calibrate and forward stream it one block at a time.
uint64_t max_memory_option(const Args& a);
extern const char* const kMaxMemoryHelp;

}  // namespace quench::cli
