#pragma once
// libtorch's CPU thread pool. Debian's build starts with one OpenMP thread whatever the machine
// has, so programs set it explicitly: QUENCH_THREADS if set, else every hardware thread.
namespace quench {
// Returns the number of threads now in use.
int configure_threads(int requested = 0);
}  // namespace quench
