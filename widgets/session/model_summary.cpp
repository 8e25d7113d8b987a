#include "widgets/session/model_summary.h"

#include <QDir>
#include <QFileInfo>

#include "core/io/safetensors.h"
#include "core/models/registry.h"

namespace quench::gui {

namespace {
// The names libtorch users know ("bfloat16"); the stored safetensors name for anything else.
QString dtype_label(const std::string& stored) {
  const StDtype d = dtype_from_name(stored);
  if (d == StDtype::F32 || d == StDtype::F16 || d == StDtype::BF16)
    return QString::fromLatin1(dtype_string(to_scalar_type(d, stored)));
  return QString::fromStdString(stored);
}
}  // namespace

ModelSummary summarize(const Model& model, const QString& dir) {
  ModelSummary s;
  s.dir = QDir::cleanPath(QFileInfo(dir).absoluteFilePath());
  s.name = QFileInfo(s.dir).fileName();
  s.architecture = QString::fromStdString(model.architecture());
  s.modality = model.modality() == Modality::Text ? QStringLiteral("text") : QStringLiteral("image");
  s.parameters = model.parameter_count();
  s.dtype = dtype_label(model.checkpoint().dtype());
  // A compressed-tensors checkpoint: its weights were decoded on load; say how they are stored.
  if (const std::string ct = model.checkpoint().compressed_tensors_format(); !ct.empty())
    s.dtype += QStringLiteral(" · compressed-tensors %1 (weights decoded on load)").arg(QString::fromStdString(ct));
  s.bytes_on_disk = model.checkpoint().bytes_on_disk();
  s.blocks = model.num_blocks();
  s.points = static_cast<int64_t>(model.points().size());
  s.layers.reserve(model.layers().size());
  for (const auto& l : model.layers()) s.layers.push_back({l->name(), l->kind(), l->shape(), l->parameters()});
  return s;
}

}  // namespace quench::gui
