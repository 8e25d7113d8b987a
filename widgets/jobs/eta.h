#pragma once
// Remaining time of a job from its progress so far: elapsed × (total − done) / done, once enough
// of the job has passed for the rate to mean something.
#include <cstdint>

namespace quench::gui {

class EtaEstimator {
 public:
  // Seconds left, or −1 while unknown (no total, nothing done yet, or too early to tell).
  static double remaining(double elapsed_seconds, int64_t done, int64_t total);

  // Below these the first steps (often slower: allocation, caches) would dominate the estimate.
  static constexpr double kMinElapsedSeconds = 0.5;
  static constexpr double kMinFraction = 0.02;
};

}  // namespace quench::gui
