#pragma once
// The recipe being edited: its JSON as written (what is saved and what a run records), an undo
// stack of edits, and — after every edit — the core's verdict on it: parsed strictly
// (Recipe::parse), resolved against the open model (resolve) into one setting per layer, and the
// size estimate. The recipe editor, the layer table's Setting column and the compress job all read
// this one object, so what is shown is what runs.
#include <QObject>
#include <QString>
#include <QStringList>

#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "core/compress/recipe.h"
#include "core/compress/size_estimate.h"

class QUndoStack;

namespace quench::gui {

class RecipeDocument : public QObject {
  Q_OBJECT

 public:
  explicit RecipeDocument(QObject* parent = nullptr);
  ~RecipeDocument() override;

  // The model recipes resolve against (nullptr: none open). Only its layer names, kinds and
  // weight shapes are read, never its values, so a job may use the same model meanwhile.
  void setModel(std::shared_ptr<const Model> model);
  const Model* model() const { return model_.get(); }

  const nlohmann::json& json() const { return json_; }
  // An undoable edit (nothing happens when `after` equals the current JSON).
  void change(const nlohmann::json& after, const QString& description);
  QUndoStack* undoStack() const { return undo_; }

  // Reads a recipe file through the core's strict parser and makes it the current recipe (an
  // undoable edit). Throws quench::Error (RecipeError for the recipe's content) naming the file.
  void load(const QString& path);
  // Writes the JSON atomically. Throws quench::Error naming the file.
  void save(const QString& path);
  // The recipe as it is now is kept somewhere (saved, loaded, recorded by a run): quitting loses
  // nothing. unsaved(): edits since.
  void markKept();
  bool unsaved() const;
  QString filePath() const { return path_; }

  // The verdict on the current JSON.
  bool valid() const { return recipe_.has_value() && error_.isEmpty(); }
  const Recipe* recipe() const { return recipe_ ? &*recipe_ : nullptr; }
  const ResolvedRecipe* plan() const { return plan_ ? &*plan_ : nullptr; }  // null without a model or with an error
  const SizeEstimate* size() const { return size_ ? &*size_ : nullptr; }
  // The plan of layer `row` (model order), null when there is no plan.
  const LayerPlan* layerPlan(int row) const;
  QString error() const { return error_; }            // one line; empty when valid
  QString errorKey() const { return error_key_; }     // "overrides[1].weights.bits"
  QString errorLayer() const { return error_layer_; } // the layer it was resolved for, or empty
  QStringList warnings() const { return warnings_; }

 Q_SIGNALS:
  void changed();

 private:
  friend class ChangeRecipeCommand;
  void apply(const nlohmann::json& j);
  void analyze();

  QUndoStack* undo_;
  std::shared_ptr<const Model> model_;
  nlohmann::json json_;
  QString path_;
  std::optional<Recipe> recipe_;
  std::optional<ResolvedRecipe> plan_;
  std::optional<SizeEstimate> size_;
  QString error_, error_key_, error_layer_;
  QStringList warnings_;
};

}  // namespace quench::gui
