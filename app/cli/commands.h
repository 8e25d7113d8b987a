#pragma once
// Each quench-cli subcommand: parses its own arguments, prints, returns the exit code.
#include <string>
#include <vector>

namespace quench::cli {

using Argv = std::vector<std::string>;

struct Command {
  const char* name;
  const char* summary;
  int (*run)(const Argv& args);
};

const std::vector<Command>& commands();

int cmd_inspect(const Argv& args);
int cmd_forward(const Argv& args);
int cmd_eval(const Argv& args);
int cmd_calibrate(const Argv& args);
int cmd_experiments(const Argv& args);
int cmd_tokenize(const Argv& args);
int cmd_generate(const Argv& args);
int cmd_compress(const Argv& args);
int cmd_sensitivity(const Argv& args);
int cmd_diff(const Argv& args);
int cmd_sweep(const Argv& args);

}  // namespace quench::cli
