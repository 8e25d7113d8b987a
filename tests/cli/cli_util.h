#pragma once
// Runs the real quench-cli binary and captures what a user would see.
#include <string>
#include <vector>

namespace quench::test {

struct CliResult {
  int code = -1;
  std::string out, err;
};

CliResult run_cli(const std::vector<std::string>& args, const std::string& stdin_text = "");
std::string fixture(const std::string& rel);
std::string demo(const std::string& rel);

}  // namespace quench::test
