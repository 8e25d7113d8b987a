#pragma once
// Process-wide runtime settings for libtorch on the CPU, called once at program start.
//  - Threads: Debian's libtorch starts with one OpenMP thread whatever the machine has, so
//    programs set it explicitly: QUENCH_THREADS if set, else every hardware thread.
//  - malloc: activations are multi-MB tensors allocated and freed every batch; glibc's default
//    thresholds return them to the OS each time and page-fault them back, which cost more than
//    the arithmetic (measured 61 s → 15 s for a sotu-llama calibration forward pass).
// OpenMP's wait policy must be set in the environment before the process starts
// (OMP_WAIT_POLICY=PASSIVE; packaging/*.sh do): libgomp reads it when it loads.
#include <string>

namespace quench {
// Returns the number of threads now in use. A count above the cores is clamped to them, and a
// QUENCH_THREADS that is not a positive integer ignored; *warning (when given) then says so.
int configure_threads(int requested = 0, std::string* warning = nullptr);
}  // namespace quench
