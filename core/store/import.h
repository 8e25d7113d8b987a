#pragma once
// Bringing experiments recorded in another Quench database (a sweep task's, a colleague's) into
// this one. Runs are matched by their uid, so importing the same file twice adds nothing; ids are
// renumbered into the destination, with every reference (model, datasets, parent, statistics)
// following them.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace quench {

struct ImportReport {
  std::vector<std::pair<int64_t, int64_t>> imported;  // (id in the source, new id here)
  std::vector<std::pair<int64_t, int64_t>> present;   // already here from an earlier import: (source id, id here)
  std::vector<int64_t> skipped_running;               // source ids of runs still recording (or killed mid-run)
};

// Imports every finished run (completed, failed, cancelled, interrupted) of `source` into the
// database at `dest` (created or migrated like Store::open), in one transaction: on any error
// nothing is added. The source is only read. Refused with a message naming the file: a missing
// source, a file that is not a Quench database, a damaged one, one with a newer or older schema
// than this program's, and the destination itself.
ImportReport import_experiments(const std::string& dest, const std::string& source);

}  // namespace quench
