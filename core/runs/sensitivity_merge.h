#pragma once
// A sensitivity analysis that a sweep split into chunks of units (each chunk a task with its own
// database) put back together as one run: the units of every chunk in model order, ranked again
// over all of them, and the mixed-precision suggestion computed over all of them. Each unit's
// damage is measured against the float model alone, so a chunk's numbers are those of a run over
// every unit; the merge checks that the chunks measured the same model, data and candidates.
#include <optional>
#include <string>
#include <vector>

#include "core/compress/sensitivity.h"
#include "core/store/store.h"

namespace quench {

struct SensitivityMergeSpec {
  std::string name;
  std::vector<std::string> layers;  // the patterns of the whole analysis (recorded; the chunks name their layers)
  std::optional<double> budget;
  std::optional<double> budget_sparsity;
  std::string suggestion_path;  // where the suggested recipe goes; "" keeps it in the store only
};

// A recorded sensitivity run read back (for a mixed-precision suggestion after the fact): its
// candidates in the order tried, and every unit with each candidate's result. Throws naming
// `origin` and the row or key that is not as Quench records it.
struct StoredSensitivity {
  std::vector<SensitivityCandidate> candidates;
  SensitivityResult result;
};
StoredSensitivity read_sensitivity(const ExperimentDetail& run, const std::string& origin);

// chunk_dbs: the chunks' databases in model order, each holding one completed sensitivity run.
// Records the merged run in `dest` and returns its id. Throws naming the chunk that does not fit.
int64_t merge_sensitivity_chunks(Store& dest, const std::vector<std::string>& chunk_dbs, const SensitivityMergeSpec& spec);

}  // namespace quench
