#include "core/util/threads.h"

#include <ATen/Parallel.h>
#include <malloc.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <string>
#include <thread>

namespace quench {

int configure_threads(int requested, std::string* warning) {
  // 32 MiB is glibc's ceiling for the mmap threshold on 64-bit; a high trim threshold keeps freed
  // memory in the heap for the next batch.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  long n = requested;
  std::string from = "the requested thread count";
  if (n <= 0) {
    if (const char* env = std::getenv("QUENCH_THREADS"); env && *env) {
      char* end = nullptr;
      errno = 0;
      n = std::strtol(env, &end, 10);
      from = "QUENCH_THREADS";
      if (errno != 0 || *end != '\0' || n <= 0) {
        if (warning) *warning = "QUENCH_THREADS='" + std::string(env) + "' is not a positive integer; using " + std::to_string(cores) + " threads (the cores)";
        n = 0;
      }
    }
  }
  if (n <= 0) n = cores;
  // More threads than cores only adds contention, and an absurd count would spawn without limit.
  if (n > cores) {
    if (warning) *warning = from + " " + std::to_string(n) + " is more than the " + std::to_string(cores) + " cores; using " + std::to_string(cores);
    n = cores;
  }
  at::set_num_threads(static_cast<int>(n));
  return at::get_num_threads();
}

}  // namespace quench
