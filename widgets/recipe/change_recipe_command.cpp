#include "widgets/recipe/change_recipe_command.h"

#include "widgets/recipe/recipe_document.h"

namespace quench::gui {

ChangeRecipeCommand::ChangeRecipeCommand(RecipeDocument& doc, nlohmann::json before, nlohmann::json after, const QString& text)
    : QUndoCommand(text), doc_(doc), before_(std::move(before)), after_(std::move(after)) {}

void ChangeRecipeCommand::undo() { doc_.apply(before_); }
void ChangeRecipeCommand::redo() { doc_.apply(after_); }

}  // namespace quench::gui
