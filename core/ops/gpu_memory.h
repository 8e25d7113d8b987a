#pragma once
// What libtorch's CUDA caching allocator has held: the figures behind "peak GPU memory" in runs,
// benchmarks and the streamed pipeline's memory trace. On the CPU, or with a libtorch built
// without CUDA, nothing is known (gpu_memory returns nullopt).
#include <c10/core/Device.h>

#include <cstdint>
#include <optional>
#include <string>

namespace quench {

struct GpuMemory {
  uint64_t allocated = 0, reserved = 0;            // now
  uint64_t peak_allocated = 0, peak_reserved = 0;  // since the last reset_gpu_memory_peak
};

std::optional<GpuMemory> gpu_memory(const c10::Device& device);
void reset_gpu_memory_peak(const c10::Device& device);

// QUENCH_MEMORY_TRACE=1: one stderr line per call ("memory: WHERE: peak allocated … GiB, reserved
// … GiB"), then the peak is reset, so that each line covers the work since the one before. For
// finding which step of a real-size job sets its peak; silent otherwise or off CUDA.
void trace_gpu_memory(const c10::Device& device, const std::string& where);

}  // namespace quench
