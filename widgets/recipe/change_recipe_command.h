#pragma once
// One user edit of the recipe, as the JSON before and after it: every edit (apply a setting,
// remove or move a rule, a preset, a loaded file) is one of these on the document's undo stack.
#include <QUndoCommand>

#include <nlohmann/json.hpp>

namespace quench::gui {

class RecipeDocument;

class ChangeRecipeCommand : public QUndoCommand {
 public:
  ChangeRecipeCommand(RecipeDocument& doc, nlohmann::json before, nlohmann::json after, const QString& text);
  void undo() override;
  void redo() override;

 private:
  RecipeDocument& doc_;
  nlohmann::json before_, after_;
};

}  // namespace quench::gui
