#pragma once
// The recipe's model-wide steps, which act on the whole model rather than on the layers a rule
// names: SmoothQuant (top-level "smoothquant"), FLAP structured pruning ("structured"), RepQ-ViT's
// reparameterization ("repq") and Quamba2's reordering ("quamba2"). Every
// change of a control is one undoable edit of the document; keys the controls do not show (FLAP's
// metric, align) are kept as the recipe has them. The core's verdict (e.g. FLAP on a model outside
// the Llama family) comes back through the document like any other error.
#include <QGroupBox>

#include <nlohmann/json.hpp>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;

namespace quench::gui {

class RecipeDocument;

class ModelWideBox : public QGroupBox {
  Q_OBJECT

 public:
  explicit ModelWideBox(RecipeDocument& doc, QWidget* parent = nullptr);

 private:
  void refresh();
  void editSmoothQuant();
  void editStructured();
  void editFlag(const char* key, bool on, const QString& what);  // repq, quamba2: true or absent

  RecipeDocument& doc_;
  QCheckBox* smoothquant_;
  QDoubleSpinBox* alpha_;
  QCheckBox* flap_;
  QDoubleSpinBox* ratio_;
  QComboBox* target_;
  QCheckBox* adaptive_;
  QCheckBox* bias_;
  QLabel* note_;
  QCheckBox* repq_;
  QCheckBox* quamba2_;
  QString repq_tip_, quamba2_tip_;
};

}  // namespace quench::gui
