#pragma once
// Who owns a running experiment, in a form that survives pid reuse: host name, boot id,
// pid and the process's start time (clock ticks after boot, /proc/<pid>/stat field 22).
// A pid alone is not enough: after a crash the pid can be handed to an unrelated process.
#include <cstdint>
#include <optional>
#include <string>

namespace quench {

struct ProcessIdentity {
  std::string host;
  std::string boot_id;
  int64_t pid = 0;
  int64_t start_ticks = 0;
};

ProcessIdentity current_process();

// Start time of a live process, or nullopt when there is none with that pid (zombies count as gone).
std::optional<int64_t> process_start_ticks(int64_t pid);

enum class OwnerState { Alive, Gone, OtherHost };
// Whether the process that owns a run still exists. Runs owned by another host (a database on a
// shared disk) cannot be checked from here and are reported as OtherHost.
OwnerState owner_state(const ProcessIdentity& owner);

}  // namespace quench
