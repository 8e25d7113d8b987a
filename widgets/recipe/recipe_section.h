#pragma once
// One section of a recipe setting in the editor (weights, activations, KV cache, pruning, low
// rank): a mode — leave as inherited, off, or set — and the fields of
// "set". A new section is one subclass and one line in makeRecipeSections().
#include <QGroupBox>

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <vector>

#include "widgets/recipe/method_option_field.h"

class QCheckBox;
class QDoubleSpinBox;
class QSpinBox;
class QComboBox;
class QFormLayout;

namespace quench::gui {

class RecipeSection : public QGroupBox {
  Q_OBJECT

 public:
  enum class Mode { Inherit, Off, Set };

  RecipeSection(const QString& title, const char* key, QWidget* parent = nullptr);

  const char* key() const { return key_; }  // the recipe key: "weights"
  // nullopt: leave the entry's section as it is; null: switch it off; an object: the fields.
  std::optional<nlohmann::json> value() const;
  // Shows an entry's section: absent (nullptr) → inherit, null → off, an object → its fields.
  void setValue(const nlohmann::json* section);
  Mode mode() const;
  void setMode(Mode m);

 Q_SIGNALS:
  void edited();

 protected:
  virtual nlohmann::json fields() const = 0;
  // Fields missing from j keep the control's default.
  virtual void setFields(const nlohmann::json& j) = 0;
  // Enables the fields that apply (group size only for groups, ...).
  virtual void updateEnabled() {}
  QFormLayout* form() const { return form_; }
  // Adds a row and wires its control's changes to edited().
  void addRow(const QString& label, QWidget* control);
  QWidget* fieldBox() const { return fields_; }

 private:
  const char* key_;
  QComboBox* mode_;
  QWidget* fields_;
  QFormLayout* form_;
};

// Weights: bits, symmetric, strategy (tensor, channel, group), group size, method (rtn, gptq, awq).
class WeightsSection : public RecipeSection {
  Q_OBJECT
 public:
  explicit WeightsSection(QWidget* parent = nullptr);

 protected:
  nlohmann::json fields() const override;
  void setFields(const nlohmann::json& j) override;
  void updateEnabled() override;

 private:
  QComboBox* format_;  // Quench's integer grid, FP8, or a block format that fixes bits and grouping
  QSpinBox* bits_;
  QCheckBox* symmetric_;
  QComboBox* strategy_;
  QSpinBox* group_;
  QCheckBox* group_fallback_;
  QComboBox* method_;
  // The methods' own options, one field per key, made from their declarations; enabled for the
  // method that owns them and written into the rule only where they differ from the defaults.
  std::vector<MethodOptionField> options_;
};

// Input activations: bits, strategy (tensor, token), static or dynamic, observer.
class ActivationsSection : public RecipeSection {
  Q_OBJECT
 public:
  explicit ActivationsSection(QWidget* parent = nullptr);

 protected:
  nlohmann::json fields() const override;
  void setFields(const nlohmann::json& j) override;
  void updateEnabled() override;

 private:
  QComboBox* type_;  // integers, FP8 E4M3 (8 bits, symmetric), or the E2M1 block formats MXFP4 / NVFP4
  QSpinBox* bits_;
  QComboBox* strategy_;
  QCheckBox* dynamic_;
  QComboBox* observer_;
  QDoubleSpinBox* percentile_;
};

// The KV cache of attention modules: KIVI (bits, group size, residual tokens), ZipCache, or a
// fixed format with nothing to set: FP8 E4M3 with static per-tensor scales, MXFP4, NVFP4.
class KvCacheSection : public RecipeSection {
  Q_OBJECT
 public:
  explicit KvCacheSection(QWidget* parent = nullptr);

 protected:
  nlohmann::json fields() const override;
  void setFields(const nlohmann::json& j) override;
  void updateEnabled() override;

 private:
  QComboBox* method_;
  QSpinBox* bits_;
  QSpinBox* group_;
  QSpinBox* residual_;
  QSpinBox* high_bits_;        // ZipCache
  QDoubleSpinBox* salient_;    // ZipCache
};

// Pruning: magnitude, Wanda or SparseGPT, to an unstructured sparsity or an N:M pattern.
class PruneSection : public RecipeSection {
  Q_OBJECT
 public:
  explicit PruneSection(QWidget* parent = nullptr);

 protected:
  nlohmann::json fields() const override;
  void setFields(const nlohmann::json& j) override;
  void updateEnabled() override;

 private:
  QComboBox* method_;
  QComboBox* kind_;  // "pattern" (N:M) or "sparsity" (unstructured)
  QSpinBox* n_;
  QSpinBox* m_;
  QDoubleSpinBox* sparsity_;
  std::vector<MethodOptionField> options_;  // every pruning method's, one field per key
};

// Low rank: W ≈ A·B by a registered method (SVD, ASVD, SVD-LLM, Palu), sized by rank,
// kept-parameter ratio or energy.
class LowRankSection : public RecipeSection {
  Q_OBJECT
 public:
  explicit LowRankSection(QWidget* parent = nullptr);

 protected:
  nlohmann::json fields() const override;
  void setFields(const nlohmann::json& j) override;
  void updateEnabled() override;

 private:
  QComboBox* method_;
  QComboBox* by_;  // "rank", "ratio" or "energy"
  QSpinBox* rank_;
  QDoubleSpinBox* ratio_;
  QDoubleSpinBox* energy_;
  std::vector<MethodOptionField> options_;  // every low-rank method's, one field per key
};

// Every section the editor shows, in order.
std::vector<RecipeSection*> makeRecipeSections(QWidget* parent);

}  // namespace quench::gui
