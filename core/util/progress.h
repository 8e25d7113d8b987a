#pragma once
// Progress and cancellation for long core jobs (calibration, evaluation, compression).
// The GUI's workers and the CLI pass a callback; returning false asks the job to stop, which it
// does by throwing quench::Cancelled at the next step, before anything is recorded.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace quench {

// done/total count the job's units (samples, windows, layers); total 0 = unknown;
// eta_seconds is -1 until it can be estimated.
using Progress = std::function<bool(int64_t done, int64_t total, double eta_seconds, const std::string& message)>;

class ProgressTracker {
 public:
  ProgressTracker(const Progress& cb, int64_t total) : cb_(cb), total_(total), start_(Clock::now()) {}
  // Reports `done` units finished; throws Cancelled when the callback says stop.
  void report(int64_t done, const std::string& message);
  void advance(int64_t n, const std::string& message) { report(done_ + n, message); }
  double elapsed() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  int64_t done() const { return done_; }

 private:
  using Clock = std::chrono::steady_clock;
  const Progress& cb_;
  int64_t total_, done_ = 0;
  Clock::time_point start_;
};

}  // namespace quench
