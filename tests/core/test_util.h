#pragma once
// Helpers shared by the core tests.
#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cmath>

#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/store/records.h"

namespace quench {
class Model;
struct MemoryPlan;
}  // namespace quench

namespace quench::test {

// The RecipeError of a recipe whose default is {"weights": weights} on `model`, as "key: message";
// "" when it resolves.
std::string weights_recipe_error(const Model& model, const nlohmann::json& weights);

inline std::string fixture(const std::string& rel) { return std::string(QUENCH_FIXTURES) + "/" + rel; }
inline std::string demo(const std::string& rel) { return std::string(QUENCH_DEMO) + "/" + rel; }

// The hf-tiny fixture folders that carry transformers' reference outputs, sorted: one test
// instance per architecture variant.
std::vector<std::string> reference_fixtures();
// A fixture name as a gtest parameter name ("llama-tiny" → "llama_tiny").
std::string param_name(const std::string& s);
// The model at dir loaded streamed (--max-memory): the budget is exactly what streaming needs,
// below the whole model. plan: what the loader decided.
std::unique_ptr<Model> streamed_model(const std::string& dir, MemoryPlan* plan = nullptr);

// A whole file as bytes.
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A Linear layer's recorded result (for store tests): `bits` everywhere, 4096 parameters, this output error.
inline LayerResult linear_result(const std::string& name, double bits, double rel_mse) {
  LayerResult r;
  r.layer = name;
  r.kind = "linear";
  r.settings = {{"bits", bits}};
  r.bits = bits;
  r.params_before = r.params_after = 4096;
  r.output_rel_mse = rel_mse;
  r.output_sqnr_db = -10 * std::log10(rel_mse);
  return r;
}

// max |a − b| / max |b|: the relative error the parity tests bound.
inline double rel_error(const at::Tensor& a, const at::Tensor& b) {
  auto d = (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
  auto s = b.to(at::kDouble).abs().max().item<double>();
  return d / (s > 0 ? s : 1.0);
}

// A fresh temporary directory, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace quench::test
