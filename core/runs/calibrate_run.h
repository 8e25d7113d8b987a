#pragma once
// A calibrate experiment (activation statistics at the chosen points, weight statistics of every
// layer), recorded the same way by quench-cli calibrate and the GUI's calibrate job: one stats row
// per point and per layer's weights, with the arrays the views plot, and the run's size and cost.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "core/compress/calibration_set.h"
#include "core/stats/calibrate.h"
#include "core/store/store.h"

namespace quench {

struct CalibrateRunSpec {
  std::string name;
  std::string device;
  DatasetRecord dataset;  // samples set
  nlohmann::json settings = nlohmann::json::object();  // recorded as the recipe: {"calibrate": {...}}
};

struct CalibrateRun {
  int64_t experiment_id = 0;
  CalibrationResult result;
};

// The {"calibrate": {...}} settings the store keeps for a calibration. seq: tokens per window
// (0 for images); first: the first windows/images rather than random ones.
nlohmann::json calibrate_settings(const CalibrationOptions& o, int64_t samples, int64_t seq, uint64_t seed, bool first,
                                  at::ScalarType dtype);

// Peak resident memory of this process so far, in MiB (recorded with each calibration).
double peak_rss_mib();

// Runs calibrate() over `data` and records it in `store`. Data and pattern errors that calibrate()
// finds mark the run failed and are rethrown, as are Cancelled (marked cancelled) and any other.
CalibrateRun run_calibration(Store& store, Model& model, const CalibrationSet& data, CalibrationOptions options,
                             const CalibrateRunSpec& spec, const Progress& progress = {});

}  // namespace quench
