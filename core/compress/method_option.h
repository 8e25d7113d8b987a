#pragma once
// One option a method owns in its recipe section ("damp" of GPTQ's weights, "block_size" of
// SparseGPT's prune): declared once in the method's file, then read and range-checked by the
// parser, defaulted when unset, written back by to_json(), and made into a recipe-editor field
// (widgets/recipe/method_option_field.h) from this declaration alone. The weight, pruning and
// low-rank method registries (weight_method.h, prune_method.h, lowrank_method.h) share it.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace quench {

namespace recipe_json {
class Fields;
}

// The grids a weights section can describe, for the options that apply to some only.
enum GridKind : unsigned { kIntGrid = 1, kFp8Grid = 2, kOliveGrid = 4, kGgmlGrid = 8, kAnyGrid = 15 };

// An unset option takes `fallback`; the editor's field is a check box, spin box or list named by
// the key in camelCase.
struct MethodOption {
  enum class Kind { Flag, Integer, Number, Choice };
  std::string key;
  Kind kind;
  nlohmann::json fallback;
  double min = 0, max = 0;     // Integer and Number: the accepted range
  bool min_open = false;       // Number: min itself is refused
  std::vector<std::pair<std::string, std::string>> choices;  // Choice: each value and what the editor shows for it
  std::string label;           // the editor's row label; a Flag's check box text
  std::string help;            // the editor's tooltip
  // WeightQuant::describe() adds it when the value is not the default ("act-order");
  // LowRankSetting::describe() always adds "<value> <tag>" ("4 heads per group").
  std::string tag;
  double step = 1;             // Number: the editor's step
  unsigned grids = kAnyGrid;   // the editor offers it for these grids only

  static MethodOption flag(std::string key, bool fallback, std::string label, std::string help);
  // max 0: no upper bound
  static MethodOption integer(std::string key, int64_t fallback, int64_t min, int64_t max, std::string label, std::string help);
  static MethodOption number(std::string key, double fallback, double min, double max, double step, std::string label, std::string help);
  static MethodOption choice(std::string key, std::string fallback, std::vector<std::pair<std::string, std::string>> choices,
                             std::string label, std::string help);
  MethodOption& tagged(std::string t) { tag = std::move(t); return *this; }
  MethodOption& for_grids(unsigned g) { grids = g; return *this; }
  MethodOption& above_min() { min_open = true; return *this; }
};

// The option's value in a recipe section as its declaration says to read it (fails naming the key).
nlohmann::json read_method_option(const recipe_json::Fields& f, const MethodOption& o);

// The declaration of `key` among `options`, or nullptr.
const MethodOption* find_method_option(const std::vector<MethodOption>& options, const std::string& key);

}  // namespace quench
