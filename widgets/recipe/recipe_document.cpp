#include "widgets/recipe/recipe_document.h"

#include <QFileInfo>
#include <QUndoStack>

#include "core/io/atomic_file.h"
#include "core/util/error.h"
#include "widgets/recipe/change_recipe_command.h"

namespace quench::gui {

RecipeDocument::RecipeDocument(QObject* parent)
    : QObject(parent), undo_(new QUndoStack(this)), json_({{"name", "recipe"}}) {
  analyze();
}

RecipeDocument::~RecipeDocument() = default;

void RecipeDocument::setModel(std::shared_ptr<const Model> model) {
  model_ = std::move(model);
  analyze();
  Q_EMIT changed();
}

void RecipeDocument::change(const nlohmann::json& after, const QString& description) {
  if (after == json_) return;
  undo_->push(new ChangeRecipeCommand(*this, json_, after, description));
}

void RecipeDocument::apply(const nlohmann::json& j) {
  json_ = j;
  analyze();
  Q_EMIT changed();
}

void RecipeDocument::load(const QString& path) {
  const Recipe r = Recipe::from_file(path.toStdString());  // throws naming the file and the key
  change(r.json, tr("Load %1").arg(QFileInfo(path).fileName()));
  path_ = path;
  markKept();
}

void RecipeDocument::save(const QString& path) {
  write_file_atomic(path.toStdString(), json_.dump(2) + "\n");
  path_ = path;
  markKept();
}

void RecipeDocument::markKept() { undo_->setClean(); }

bool RecipeDocument::unsaved() const { return !undo_->isClean(); }

const LayerPlan* RecipeDocument::layerPlan(int row) const {
  if (!plan_ || row < 0 || row >= static_cast<int>(plan_->layers.size())) return nullptr;
  return &plan_->layers[static_cast<size_t>(row)];
}

void RecipeDocument::analyze() {
  recipe_.reset();
  plan_.reset();
  size_.reset();
  error_.clear();
  error_key_.clear();
  error_layer_.clear();
  warnings_.clear();
  try {
    recipe_ = Recipe::parse(json_, "recipe");
    if (!model_) return;
    plan_ = resolve(*recipe_, *model_);
    size_ = estimate_size(*model_, *plan_);
    for (const auto& w : plan_->warnings) warnings_ << QString::fromStdString(w);
  } catch (const RecipeError& e) {
    plan_.reset();
    size_.reset();
    error_ = QString::fromStdString(e.what());
    error_key_ = QString::fromStdString(e.key());
    error_layer_ = QString::fromStdString(e.layer());
  } catch (const std::exception& e) {
    plan_.reset();
    size_.reset();
    error_ = QString::fromStdString(e.what());
  }
}

}  // namespace quench::gui
