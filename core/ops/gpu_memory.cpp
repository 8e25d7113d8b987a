#include "core/ops/gpu_memory.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#if QUENCH_WITH_CUDA && QUENCH_TORCH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace quench {

namespace {

// The trace resets libtorch's peak at every line; the highest peaks it saw are kept here, so that
// a run's own peak (since reset_gpu_memory_peak) still covers the traced stretches.
uint64_t traced_peak_allocated = 0, traced_peak_reserved = 0;

// libtorch's own figures (peaks since its last reset).
std::optional<GpuMemory> allocator_stats(const c10::Device& device) {
#if QUENCH_WITH_CUDA && QUENCH_TORCH_CUDA
  if (!device.is_cuda()) return std::nullopt;
  const auto s = c10::cuda::CUDACachingAllocator::getDeviceStats(device.has_index() ? device.index() : 0);
  // Index 0 is StatType::AGGREGATE (both pools), whose namespace moved between libtorch versions.
  GpuMemory m;
  m.allocated = static_cast<uint64_t>(s.allocated_bytes[0].current);
  m.reserved = static_cast<uint64_t>(s.reserved_bytes[0].current);
  m.peak_allocated = static_cast<uint64_t>(s.allocated_bytes[0].peak);
  m.peak_reserved = static_cast<uint64_t>(s.reserved_bytes[0].peak);
  return m;
#else
  (void)device;
  return std::nullopt;
#endif
}

void reset_allocator_peak(const c10::Device& device) {
#if QUENCH_WITH_CUDA && QUENCH_TORCH_CUDA
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(device.has_index() ? device.index() : 0);
#else
  (void)device;
#endif
}

}  // namespace

std::optional<GpuMemory> gpu_memory(const c10::Device& device) {
  auto m = allocator_stats(device);
  if (m) {
    m->peak_allocated = std::max(m->peak_allocated, traced_peak_allocated);
    m->peak_reserved = std::max(m->peak_reserved, traced_peak_reserved);
  }
  return m;
}

void reset_gpu_memory_peak(const c10::Device& device) {
  traced_peak_allocated = traced_peak_reserved = 0;
  reset_allocator_peak(device);
}

void trace_gpu_memory(const c10::Device& device, const std::string& where) {
  static const bool on = [] {
    const char* v = std::getenv("QUENCH_MEMORY_TRACE");
    return v && *v && std::strcmp(v, "0") != 0;
  }();
  if (!on) return;
  const auto m = allocator_stats(device);
  if (!m) return;
  constexpr double gib = 1024.0 * 1024.0 * 1024.0;
  std::fprintf(stderr, "memory: %s: peak allocated %.2f GiB, reserved %.2f GiB (now %.2f / %.2f)\n", where.c_str(),
               static_cast<double>(m->peak_allocated) / gib, static_cast<double>(m->peak_reserved) / gib,
               static_cast<double>(m->allocated) / gib, static_cast<double>(m->reserved) / gib);
  traced_peak_allocated = std::max(traced_peak_allocated, m->peak_allocated);
  traced_peak_reserved = std::max(traced_peak_reserved, m->peak_reserved);
  reset_allocator_peak(device);
}

}  // namespace quench
