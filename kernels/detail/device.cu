#include "kernels/detail/device.cuh"

#include <mutex>
#include <vector>

namespace quench::kernels::detail {

namespace {
struct DeviceInfo {
  int sms = 0;
  int smem_optin = 0;
};

// Looked up once per device: cudaGetDeviceProperties is slow enough to show in short launches.
const DeviceInfo& info() {
  static std::mutex mu;
  static std::vector<DeviceInfo> cache;
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) dev = 0;
  std::lock_guard<std::mutex> lock(mu);
  if (static_cast<int>(cache.size()) <= dev) cache.resize(dev + 1);
  DeviceInfo& d = cache[dev];
  if (d.sms == 0) {
    int v = 0;
    d.sms = cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, dev) == cudaSuccess && v > 0 ? v : 1;
    d.smem_optin = cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) == cudaSuccess ? v : 48 * 1024;
  }
  return d;
}
}  // namespace

int sm_count() { return info().sms; }
int max_smem_optin() { return info().smem_optin; }

}  // namespace quench::kernels::detail
