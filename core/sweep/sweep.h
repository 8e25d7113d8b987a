#pragma once
// Sweeps: many independent quench-cli jobs over one model — recipes (names, files, a grid over bits
// × group size × method) and a sensitivity analysis split into chunks of units — planned from a
// description file, run here one after another or as a Slurm job array, each job into its own
// database in the sweep's folder, and collected into the user's store. docs/sweeps.md has the
// description's keys and the folder's layout.
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "core/store/records.h"

namespace quench {

struct SweepJob {
  int index = 0;
  std::string name;               // the experiment's name: "<sweep>/<recipe>" or "<sweep>/sensitivity 2/4"
  RunKind kind = RunKind::Compress;  // Compress or Sensitivity; its name is also the quench-cli command
  std::vector<std::string> args;  // quench-cli's arguments (the command first), without --db
};

// The chunks of one sensitivity analysis, merged into one experiment when collected.
struct SweepSensitivity {
  std::string name;
  std::vector<std::string> layers;  // the analysis' layer patterns ([] = a recipe default's layers)
  std::optional<double> budget, budget_sparsity;
  std::vector<int> jobs;            // the chunks' job indices, in model order
};

struct SweepPlan {
  std::string name;
  std::string description_file;     // absolute
  std::vector<std::string> setup;   // shell lines a Slurm task runs first (module loads, environments)
  std::vector<SweepJob> jobs;
  std::optional<SweepSensitivity> sensitivity;
  // Recipes the grid generates: written into the sweep folder's recipes/ (file name → recipe).
  std::vector<std::pair<std::string, nlohmann::json>> generated_recipes;

  nlohmann::json to_json() const;
  static SweepPlan from_json(const nlohmann::json& j, const std::string& origin);
};

// Reads and checks a description (every key, type and path, every recipe resolved against the
// model, the sensitivity units counted): errors name the file and key. `recipes_dir`: where grid
// recipes will be written (their jobs name those files; absolute, except for a plan only shown).
SweepPlan plan_sweep(const std::string& description_file, const std::string& recipes_dir);

}  // namespace quench
