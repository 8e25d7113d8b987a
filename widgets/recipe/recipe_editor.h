#pragma once
// The recipe editor: choose a setting (one RecipeSection per recipe section), choose what it applies
// to (the layers selected in the layer table, a glob, or the default) and apply it as one undoable
// edit; the recipe's rules in order, presets, the ignore list, load/save, undo/redo, and the core's
// verdict live: the error naming key and layer, warnings, and the size estimate.
#include <QWidget>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

class QAction;
class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QRadioButton;
class QTableWidget;

namespace quench::gui {

class ModelWideBox;
class RecipeDocument;
class RecipeSection;

class RecipeEditor : public QWidget {
  Q_OBJECT

 public:
  enum class Target { Selection, Glob, Default };

  RecipeEditor(RecipeDocument& doc, QWidget* parent = nullptr);

  // The layers selected in the layer table. `glob`: the filter that shows exactly these rows
  // (empty when the selection is not a whole filter result); a rule then names the glob, which
  // reads better and carries over to other models.
  void setSelection(const QStringList& layers, const QString& glob = {});
  void setTarget(Target t);
  Target target() const;
  void setGlob(const QString& glob);

  // The setting the sections and the skip box describe, as a recipe entry body.
  nlohmann::json setting() const;
  // What the current target matches (layer names or globs); empty for the default.
  std::vector<std::string> match() const;
  // Applies setting() to target() as one undoable edit. Returns false (and says why in the status
  // line) when there is nothing to apply it to.
  bool applySetting();
  void applyPreset(const QString& name);

  // File actions (the window's Recipe menu uses them too).
  void loadFile();
  void saveFile();
  QAction* undoAction() const { return undo_; }
  QAction* redoAction() const { return redo_; }

  RecipeSection* section(const char* key) const;
  QTableWidget* rules() const { return rules_; }
  QLabel* sizeLabel() const { return size_; }
  QLabel* errorLabel() const { return error_; }
  ModelWideBox* modelWide() const { return model_wide_; }

 Q_SIGNALS:
  void jumpToLayer(const QString& layer);

 private:
  void refresh();
  // Presets that cannot apply to the open model (quamba on a Llama, a group size that does not
  // divide a layer) stay listed but disabled, their tooltip saying why.
  void checkPresets();
  const void* presets_checked_for_ = nullptr;  // the model checkPresets last looked at
  void showRule(int row);
  void removeRule();
  void moveRule(int delta);

  RecipeDocument& doc_;
  QStringList selection_;
  QString selection_glob_;
  QLineEdit* name_;
  QComboBox* presets_;
  QRadioButton* to_selection_;
  QRadioButton* to_glob_;
  QRadioButton* to_default_;
  QLineEdit* glob_;
  std::vector<RecipeSection*> sections_;
  QCheckBox* skip_;
  QPushButton* apply_;
  QTableWidget* rules_;
  QLineEdit* ignore_;
  ModelWideBox* model_wide_;
  QLabel* error_;
  QLabel* warnings_;
  QLabel* size_;
  QLabel* status_;
  QAction* undo_;
  QAction* redo_;
};

}  // namespace quench::gui
