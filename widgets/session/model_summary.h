#pragma once
// A plain description of an open model, taken once on the job thread right after loading, so
// that views read it freely on the UI thread while jobs use the model itself.
#include <QString>

#include <cstdint>
#include <string>
#include <vector>

#include "core/models/model.h"

namespace quench::gui {

struct LayerRow {
  std::string name;  // Hugging Face module path: "model.layers.0.mlp.down_proj"
  LayerKind kind = LayerKind::Linear;
  std::vector<int64_t> shape;  // of the weight, as Layer::shape()
  int64_t parameters = 0;
};

struct ModelSummary {
  QString dir;
  QString name;  // the directory's name: what the window title and the recent list show
  QString architecture;
  QString modality;  // "text" or "image"
  int64_t parameters = 0;
  QString dtype;  // the checkpoint's as users call it: "bfloat16"
  uint64_t bytes_on_disk = 0;
  int64_t blocks = 0;
  int64_t points = 0;  // observable points
  std::vector<LayerRow> layers;
};

ModelSummary summarize(const Model& model, const QString& dir);

}  // namespace quench::gui
