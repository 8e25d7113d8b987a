#pragma once
// Statistics as the experiment store keeps them: summary numbers as columns (sortable without
// reading blobs) and the arrays the GUI plots (histogram counts and edges, per-channel absmax /
// mean / std, per-token maxima) as typed arrays. One place, shared by the CLI and the GUI.
#include "core/stats/calibrate.h"
#include "core/store/records.h"

namespace quench {

LayerStats to_layer_stats(const ActivationStats& s, const std::string& layer);
LayerStats to_layer_stats(const WeightStats& s);
// Every point and every layer's weights of a calibration run; a point's layer is the module
// part of its name ("model.layers.0.mlp.down_proj:input" → "model.layers.0.mlp.down_proj").
std::vector<LayerStats> to_layer_stats(const CalibrationResult& r);

}  // namespace quench
