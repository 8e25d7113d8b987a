#include "test_util.h"
#include "core/util/remove_tree.h"

#include "core/util/threads.h"
#include "core/models/memory_plan.h"
#include "core/models/registry.h"
#include "core/compress/recipe.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace quench::test {

std::string weights_recipe_error(const Model& model, const nlohmann::json& weights) {
  try {
    resolve(Recipe::parse({{"default", {{"weights", weights}}}}, "r.json"), model);
  } catch (const RecipeError& e) {
    return e.key() + ": " + e.what();
  }
  return "";
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "quench-test-XXXXXX").string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
  path_ = buf.data();
}

TempDir::~TempDir() {
  remove_tree(path_);
}

std::unique_ptr<Model> streamed_model(const std::string& dir, MemoryPlan* plan) {
  LoadOptions probe;
  probe.materialize = false;
  const MemoryPlan need = plan_memory(*load_model(dir, probe), at::kFloat, 0);
  LoadOptions lo;
  lo.max_memory = need.streamed_peak();
  MemoryPlan got;
  lo.plan = &got;
  auto m = load_model(dir, lo);
  if (plan) *plan = got;
  return m;
}

}  // namespace quench::test

namespace {
// Tests run with the same runtime settings as the programs (threads from QUENCH_THREADS, malloc).
const int kThreads = quench::configure_threads();
}  // namespace

namespace quench::test {

std::vector<std::string> reference_fixtures() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(fixture("hf-tiny")))
    if (std::filesystem::exists(e.path() / "reference.safetensors")) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string param_name(const std::string& s) {
  std::string out = s;
  for (auto& c : out)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return out;
}

}  // namespace quench::test
