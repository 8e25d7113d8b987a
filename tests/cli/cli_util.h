#pragma once
// Runs the real quench-cli binary as a separate process and captures what a user would see.
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../core/test_util.h"  // fixture(), demo(), TempDir

namespace quench::test {

struct CliResult {
  int code = -1;  // exit status (128 + signal when killed)
  std::string out, err;
};

// env: variables to set (or, with an empty value, to remove) on top of this process's environment.
CliResult run_cli(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {},
                  const std::string& stdin_text = "");

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Writes j (a recipe, a candidate list) into dir/name and returns the path.
inline std::string write_json(const TempDir& dir, const std::string& name, const nlohmann::json& j) {
  const std::string path = dir.file(name);
  std::ofstream(path) << j.dump(2);
  return path;
}

}  // namespace quench::test
