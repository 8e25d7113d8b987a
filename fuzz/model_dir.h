#pragma once
// Shared by the targets that open model directories (fuzz_config, fuzz_checkpoint): a scratch
// folder on tmpfs rewritten for each input, and running what was loaded.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/data/image_dataset.h"
#include "core/models/model.h"
#include "core/util/remove_tree.h"

namespace quench::fuzz {

// The repository's tiny checkpoints, one per family (tests/fixtures/hf-tiny). New ones go at the
// end: the first byte of every config seed in fuzz/corpus/config is an index into this list.
inline const std::vector<std::string>& fixture_names() {
  static const std::vector<std::string> names{"llama-tiny", "llama-bias-tiny", "mistral-tiny", "qwen2-tiny",
                                              "gpt2-tiny",  "mamba-tiny",      "mamba2-tiny",  "mamba2-untied-tiny",
                                              "vit-tiny",   "resnet-tiny",     "resnet-bottleneck-tiny", "qwen3-tiny"};
  return names;
}

inline std::string fixture_dir(const std::string& name) {
  return std::string(QUENCH_SOURCE_DIR) + "/tests/fixtures/hf-tiny/" + name;
}

// A folder of this process's own, removed at exit. /dev/shm when there is one: no disk writes.
inline const std::filesystem::path& scratch_root() {
  static const std::filesystem::path root = [] {
    const std::filesystem::path base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
    auto p = base / ("quench-fuzz-" + std::to_string(::getpid()));
    quench::remove_tree(p.string());
    std::filesystem::create_directories(p);
    // The handler runs after `root` itself is destroyed (it was registered while `root` was being
    // built): it removes a leaked copy of the path, never the destroyed static (ASan: use after free).
    static const std::string* const leaked = new std::string(p.string());
    std::atexit([] { quench::remove_tree(*leaked); });
    return p;
  }();
  return root;
}

inline void write_file(const std::filesystem::path& p, std::string_view bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) std::abort();
}

// Runs a loaded model on the smallest input it takes. With require_finite (the fixtures' own
// tensors under a config that loading accepted) the logits must be finite: a config that makes
// them NaN (rms_norm_eps -1, rope_theta 0) must be refused when it is read. Arbitrary weights may
// overflow legitimately (1e38 is finite), so other callers leave the check to the run's policy.
inline void run_model(Model& model, bool require_finite) {
  ModelInputs in;
  if (model.modality() == Modality::Image) {
    const auto pre = ImagePreprocessor::from_model_dir(model.checkpoint().dir());
    const int64_t h = pre.height > 0 ? pre.height : 8, w = pre.width > 0 ? pre.width : 8;
    in.pixel_values = at::rand({1, pre.channels, h, w});
  } else {
    const int64_t t = model.max_positions() > 0 ? std::min<int64_t>(model.max_positions(), 3) : 3;
    model.check_context(t, "fuzz");
    in.input_ids = at::zeros({1, t}, at::kLong);
  }
  const at::Tensor logits = model.forward(in).logits;
  if (require_finite && !logits.isfinite().all().item<bool>()) std::abort();
}

}  // namespace quench::fuzz
