#include "core/compress/save_model.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "core/io/atomic_file.h"
#include "core/io/safetensors.h"
#include "core/io/safetensors_stream.h"
#include "core/store/process.h"
#include "core/util/error.h"
#include "core/util/remove_tree.h"

namespace quench {

namespace fs = std::filesystem;

std::string saveable_reason(const ResolvedRecipe& plan) {
  const char* why = "exists only in the forward pass; a saved checkpoint cannot hold it";
  for (const auto& l : plan.layers) {
    if (l.input || l.output) return l.layer + ": activation quantization " + why;
    if (l.hadamard) return l.layer + ": the online Hadamard rotation " + why;
    if (l.lowrank) return l.layer + ": low-rank factors have no Hugging Face layout (the layer would be saved dense)";
  }
  if (!plan.kv.empty()) return plan.kv.front().module + ": KV-cache quantization " + why;
  if (!plan.points.empty()) return plan.points.front().point + ": activation quantization " + why;
  return "";
}

void check_save_target(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    const fs::path parent = fs::absolute(dir).parent_path();
    QUENCH_CHECK(fs::is_directory(parent, ec), dir, ": cannot save the model there, ", parent.string(), " is not a directory");
    return;
  }
  QUENCH_CHECK(fs::is_directory(dir, ec), dir, ": exists and is not a directory; choose a new directory for the saved model");
  QUENCH_CHECK(fs::is_empty(dir, ec), dir, ": is not empty; choose a new directory for the saved model (nothing is overwritten)");
}

namespace {

bool copied_from_source(const fs::path& p) {
  const std::string name = p.filename().string();
  auto ends = [&](const std::string& suffix) { return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0; };
  return name != "config.json" && !ends(".safetensors") && !ends(".safetensors.index.json") && !ends(".bin") && !ends(".pt") &&
         !ends(".pth") && name.rfind('.', 0) != 0;
}

}  // namespace

void copy_source_files(const Model& model, const std::string& dir) {
  for (const auto& e : fs::directory_iterator(model.checkpoint().dir()))
    if (e.is_regular_file() && copied_from_source(e.path())) fs::copy_file(e.path(), fs::path(dir) / e.path().filename());
}

fs::path save_temp_dir(const fs::path& target, const std::string& prefix) {
  const std::string stem = "." + prefix + "-" + target.filename().string() + "-";
  std::error_code ec;
  for (fs::directory_iterator it(target.parent_path(), ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= stem.size() || name.compare(0, stem.size(), stem) != 0) continue;
    const std::string pid = name.substr(stem.size());
    if (pid.find_first_not_of("0123456789") != std::string::npos || pid.size() > 9) continue;
    if (!process_start_ticks(std::stoll(pid))) remove_tree(it->path().string());
  }
  const fs::path tmp = target.parent_path() / (stem + std::to_string(::getpid()));
  remove_tree(tmp.string());
  return tmp;
}

void save_model(const Model& model, const std::string& dir) {
  check_save_target(dir);
  // Floating tensors are written in the source checkpoint's dtype (a bf16 checkpoint stays bf16,
  // whatever dtype the model ran in); integer buffers keep theirs.
  const std::string stored = model.checkpoint().dtype();
  const at::ScalarType dtype = stored == "F16" ? at::kHalf : stored == "BF16" ? at::kBFloat16 : at::kFloat;
  // Collected as references first and converted one at a time while written: a streamed model's
  // weights are views of mapped files, and only one converted tensor exists at once.
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  std::set<std::string> names;
  bool untied = false;
  auto add = [&](const std::string& name, const at::Tensor& t) {
    if (names.insert(name).second) tensors.emplace_back(name, t);
  };
  for (const auto& lp : model.layers()) {
    const Layer& l = *lp;
    QUENCH_CHECK(!l.kernel(), l.name(), ": computed by ", l.kernel()->describe(), ", which a checkpoint cannot hold; save the model without it");
    // A tied head (lm_head sharing the embedding) is not a checkpoint tensor of its own, unless
    // compression changed it apart from the embedding (a rotated residual stream, a quantized
    // head): then it is written and the saved config unties it.
    if (model.checkpoint().has(l.name() + ".weight")) {
      add(l.name() + ".weight", l.weight());
    } else if (l.modified()) {
      add(l.name() + ".weight", l.weight());
      untied = true;
    }
    if (l.bias().defined()) add(l.name() + ".bias", l.bias());
  }
  for (const auto& [name, t] : model.params()) add(name, t);

  nlohmann::json config = model.config().json();
  const nlohmann::json shapes = model.shape_config();
  for (const auto& [k, v] : shapes.items()) config[k] = v;
  if (untied) config["tie_word_embeddings"] = false;
  config["dtype"] = dtype == at::kHalf ? "float16" : dtype == at::kBFloat16 ? "bfloat16" : "float32";

  const fs::path target = fs::absolute(dir);
  const fs::path tmp = save_temp_dir(target, "quench-save");
  try {
    fs::create_directories(tmp);
    std::vector<std::string> all;
    for (const auto& [name, t] : tensors) all.push_back(name);
    SafetensorsStreamWriter out((tmp / "model.safetensors").string(), all, {{"format", "pt"}});
    for (const auto& [name, t] : tensors) {
      const at::Tensor c = t.detach().to(at::kCPU);
      out.add(name, at::isFloatingType(c.scalar_type()) ? c.to(dtype) : c);
      if (model.streaming()) model.release_pages();
    }
    out.commit();
    write_file_atomic((tmp / "config.json").string(), config.dump(2) + "\n");
    copy_source_files(model, tmp.string());
    std::error_code ec;
    if (fs::exists(target, ec)) fs::remove(target);  // empty (checked above)
    fs::rename(tmp, target);
  } catch (const fs::filesystem_error& e) {
    remove_tree(tmp.string());
    throw Error(dir + ": cannot save the model (" + e.what() + ")");
  } catch (...) {
    remove_tree(tmp.string());
    throw;
  }
}

}  // namespace quench
