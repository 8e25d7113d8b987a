#pragma once
// The edits the recipe editor makes, as pure functions from one recipe JSON to the next, so each
// is easy to test and to wrap in a ChangeRecipeCommand. A "setting" is the body of a recipe entry:
// {"weights": {...} | null, "activations": ..., "kv_cache": ..., "skip": true}; the sections it
// names replace the entry's, the others are kept.
#include <QStringList>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace quench::gui {

// Applies `setting` to the layers `match` names (globs or exact names): the override with exactly
// this match is updated in place, otherwise a new one is appended (later overrides win).
nlohmann::json withOverride(const nlohmann::json& recipe, const std::vector<std::string>& match, const nlohmann::json& setting);
// Applies `setting` to the recipe's default (the layers the default reaches).
nlohmann::json withDefault(const nlohmann::json& recipe, const nlohmann::json& setting);
nlohmann::json withoutOverride(const nlohmann::json& recipe, size_t index);
// Moves override `index` by `delta` places (clamped).
nlohmann::json withOverrideMoved(const nlohmann::json& recipe, size_t index, int delta);
nlohmann::json withIgnore(const nlohmann::json& recipe, const std::vector<std::string>& globs);
nlohmann::json withName(const nlohmann::json& recipe, const std::string& name);
// Sets a model-wide step ("smoothquant", "structured") to `value`, or removes it when `value` is null.
nlohmann::json withModelWide(const nlohmann::json& recipe, const std::string& key, const nlohmann::json& value);

// The presets the editor offers: schemes (W8A8, W4A16-G128, ...) and the core's presets (quamba).
QStringList presetNames();
// A whole recipe for a preset name; throws quench::UsageError for an unknown one.
nlohmann::json presetRecipe(const QString& name);

// The override's match as a list of globs (a recipe may write one string or a list).
std::vector<std::string> matchList(const nlohmann::json& entry);
// A one-line summary of an entry's setting for the rules list: "weights W4 g128 gptq; activations off".
QString entrySummary(const nlohmann::json& entry);

}  // namespace quench::gui
