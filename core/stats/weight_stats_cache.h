#pragma once
// Weight statistics kept on disk, so that reopening a model shows them at once instead of
// reading every weight again (15 s for a 1.2 B-parameter model on 2 cores, minutes for 8 B).
// An entry is keyed by the checkpoint's files as they are now (canonical path, size, modification
// time) and the statistics options: a file that changes gets a new key. Entries are CBOR, written
// atomically; an entry that cannot be read is removed and reported as a miss.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/stats/streaming_stats.h"
#include "core/stats/weight_stats.h"

namespace quench {

class Checkpoint;

std::string weight_stats_key(const Checkpoint& ckpt, const StatsOptions& opts);

// The cached statistics for `key` in `dir`, nullopt when there are none (or the entry was broken;
// `problem` then says what was wrong with which file).
std::optional<std::vector<WeightStats>> load_weight_stats(const std::filesystem::path& dir, const std::string& key,
                                                          std::string* problem = nullptr);
// Writes the entry; throws naming the file when it cannot be written.
void store_weight_stats(const std::filesystem::path& dir, const std::string& key, const std::vector<WeightStats>& stats);

}  // namespace quench
