#include "widgets/recipe/recipe_edits.h"

#include <algorithm>

#include "core/compress/recipe.h"
#include "core/compress/schemes.h"
#include "core/util/error.h"

namespace quench::gui {

namespace {
// Sections an entry sets; "skip" and "rotation" are entry flags handled alongside.
const char* const kSectionKeys[] = {"weights", "activations", "output_activations", "kv_cache", "prune", "lowrank", "rotation", "skip"};

// Writes a "scheme" shorthand out as the sections it stands for, so that a later edit of one
// section keeps the other (editing the weights of a W8A8 default keeps its A8 activations).
void expandScheme(nlohmann::json& entry) {
  if (!entry.is_object() || !entry.contains("scheme") || !entry["scheme"].is_string()) return;
  const auto sections = expand_scheme(entry["scheme"].get<std::string>());
  if (!sections) return;  // unknown: leave it for the parser to name
  if (!entry.contains("weights")) entry["weights"] = sections->weights;
  if (!entry.contains("activations")) entry["activations"] = sections->activations;
  entry.erase("scheme");
}

// The default entry, with the recipe's top-level shorthands (scheme, activations, kv_cache,
// which mean the same as the default's) moved into it.
nlohmann::json& defaultEntry(nlohmann::json& r) {
  if (!r.contains("default") || !r["default"].is_object()) r["default"] = nlohmann::json::object();
  nlohmann::json& d = r["default"];
  if (r.contains("scheme") && !d.contains("scheme")) {
    d["scheme"] = r["scheme"];
    r.erase("scheme");
  }
  for (const char* key : {"activations", "kv_cache"})
    if (r.contains(key) && !d.contains(key)) {
      d[key] = r[key];
      r.erase(key);
    }
  expandScheme(d);
  return d;
}

void applySetting(nlohmann::json& entry, const nlohmann::json& setting) {
  expandScheme(entry);
  if (setting.value("skip", false)) {
    for (const char* key : kSectionKeys) entry.erase(key);
    entry["skip"] = true;
    return;
  }
  entry.erase("skip");
  for (auto it = setting.begin(); it != setting.end(); ++it)
    if (it.key() != "skip") entry[it.key()] = it.value();
}

nlohmann::json matchJson(const std::vector<std::string>& match) {
  return match.size() == 1 ? nlohmann::json(match.front()) : nlohmann::json(match);
}

QString sectionSummary(const nlohmann::json& v) {
  if (v.is_null()) return QObject::tr("off");
  if (!v.is_object()) return QString::fromStdString(v.dump());
  QStringList parts;
  for (auto it = v.begin(); it != v.end(); ++it) {
    const QString value = it.value().is_string() ? QString::fromStdString(it.value().get<std::string>())
                                                 : QString::fromStdString(it.value().dump());
    parts << (it.key() == "bits" ? value + QStringLiteral("-bit") : QStringLiteral("%1 %2").arg(QString::fromStdString(it.key()), value));
  }
  return parts.join(QLatin1Char(' '));
}
}  // namespace

std::vector<std::string> matchList(const nlohmann::json& entry) {
  if (!entry.is_object() || !entry.contains("match")) return {};
  const auto& m = entry["match"];
  if (m.is_string()) return {m.get<std::string>()};
  std::vector<std::string> out;
  if (m.is_array())
    for (const auto& g : m)
      if (g.is_string()) out.push_back(g.get<std::string>());
  return out;
}

nlohmann::json withOverride(const nlohmann::json& recipe, const std::vector<std::string>& match, const nlohmann::json& setting) {
  QUENCH_CHECK(!match.empty(), "an override needs at least one layer or glob to match");
  nlohmann::json r = recipe;
  if (!r.contains("overrides") || !r["overrides"].is_array()) r["overrides"] = nlohmann::json::array();
  for (auto& o : r["overrides"]) {
    if (matchList(o) == match) {
      applySetting(o, setting);
      return r;
    }
  }
  nlohmann::json o = {{"match", matchJson(match)}};
  applySetting(o, setting);
  r["overrides"].push_back(o);
  return r;
}

nlohmann::json withDefault(const nlohmann::json& recipe, const nlohmann::json& setting) {
  nlohmann::json r = recipe;
  applySetting(defaultEntry(r), setting);
  return r;
}

nlohmann::json withoutOverride(const nlohmann::json& recipe, size_t index) {
  nlohmann::json r = recipe;
  QUENCH_CHECK(r.contains("overrides") && r["overrides"].is_array() && index < r["overrides"].size(), "the recipe has no overrides[",
               index, "]");
  r["overrides"].erase(index);
  if (r["overrides"].empty()) r.erase("overrides");
  return r;
}

nlohmann::json withOverrideMoved(const nlohmann::json& recipe, size_t index, int delta) {
  nlohmann::json r = recipe;
  QUENCH_CHECK(r.contains("overrides") && r["overrides"].is_array() && index < r["overrides"].size(), "the recipe has no overrides[",
               index, "]");
  auto& list = r["overrides"];
  const auto to = static_cast<size_t>(std::clamp<int64_t>(static_cast<int64_t>(index) + delta, 0, static_cast<int64_t>(list.size()) - 1));
  nlohmann::json moved = list[index];
  list.erase(index);
  list.insert(list.begin() + static_cast<std::ptrdiff_t>(to), moved);
  return r;
}

nlohmann::json withIgnore(const nlohmann::json& recipe, const std::vector<std::string>& globs) {
  nlohmann::json r = recipe;
  if (globs.empty()) r.erase("ignore");
  else r["ignore"] = globs;
  return r;
}

nlohmann::json withName(const nlohmann::json& recipe, const std::string& name) {
  nlohmann::json r = recipe;
  r["name"] = name;
  return r;
}

nlohmann::json withModelWide(const nlohmann::json& recipe, const std::string& key, const nlohmann::json& value) {
  QUENCH_CHECK(key == "smoothquant" || key == "structured" || key == "repq" || key == "quamba2", key,
               ": not a model-wide recipe step (smoothquant, structured, repq, quamba2)");
  nlohmann::json r = recipe;
  if (value.is_null()) r.erase(key);
  else r[key] = value;
  return r;
}

QStringList presetNames() {
  QStringList names = {QStringLiteral("W8A8"), QStringLiteral("W8A16"), QStringLiteral("W4A16-G128"), QStringLiteral("W4A16-G64"),
                       QStringLiteral("W4A8"), QStringLiteral("W3A16-G128"), QStringLiteral("FP8_DYNAMIC"), QStringLiteral("FP8"),
                       QStringLiteral("NVFP4A16"), QStringLiteral("MXFP4A16"), QStringLiteral("NVFP4"), QStringLiteral("MXFP4"),
                       QStringLiteral("Q8_0"), QStringLiteral("Q6_K"), QStringLiteral("Q4_K"), QStringLiteral("Q4_0")};
  for (const auto& p : preset_names()) names << QString::fromStdString(p);
  return names;
}

nlohmann::json presetRecipe(const QString& name) {
  const std::string n = name.toStdString();
  for (const auto& p : preset_names())
    if (p == n) return {{"name", n}, {"preset", n}};
  if (expand_scheme(n)) return {{"name", name.toLower().toStdString()}, {"default", {{"scheme", n}}}};
  throw UsageError(n + ": not a scheme (" + scheme_examples() + ") or preset");
}

QString entrySummary(const nlohmann::json& entry) {
  if (!entry.is_object()) return {};
  if (entry.value("skip", false)) return QObject::tr("kept in full precision (skip)");
  QStringList parts;
  if (entry.contains("scheme") && entry["scheme"].is_string()) parts << QString::fromStdString(entry["scheme"].get<std::string>());
  for (const char* key : kSectionKeys) {
    if (!entry.contains(key) || std::string(key) == "skip") continue;
    parts << QStringLiteral("%1: %2").arg(QString::fromLatin1(key), sectionSummary(entry[key]));
  }
  return parts.isEmpty() ? QObject::tr("(nothing set)") : parts.join(QStringLiteral("; "));
}

}  // namespace quench::gui
