#include "core/util/threads.h"

#include <ATen/Parallel.h>
#include <malloc.h>

#include <cstdlib>
#include <string>
#include <thread>

namespace quench {

int configure_threads(int requested) {
  // 32 MiB is glibc's ceiling for the mmap threshold on 64-bit; a high trim threshold keeps freed
  // memory in the heap for the next batch.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  int n = requested;
  if (n <= 0) {
    if (const char* env = std::getenv("QUENCH_THREADS")) n = std::atoi(env);
  }
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  if (n <= 0) n = 1;
  at::set_num_threads(n);
  return at::get_num_threads();
}

}  // namespace quench
