// libFuzzer target: config.json as every architecture reads it. The first byte picks one of the
// repository's tiny checkpoints; the rest replaces its config.json. The model is then loaded from
// the fixture's own tensors and run on one short input.
// quench::Error is the orderly refusal (a config the tensors contradict, a size out of range);
// a crash, a sanitizer report, any other exception or non-finite logits are findings.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string_view>

#include "core/models/registry.h"
#include "core/util/error.h"
#include "fuzz/model_dir.h"

namespace fs = std::filesystem;

namespace {

// One scratch folder per fixture: its files linked, config.json rewritten for each input.
const fs::path& fixture_copy(const std::string& name) {
  static std::map<std::string, fs::path> made;
  auto it = made.find(name);
  if (it != made.end()) return it->second;
  const fs::path dir = quench::fuzz::scratch_root() / name;
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(quench::fuzz::fixture_dir(name)))
    if (e.path().filename() != "config.json") fs::create_symlink(fs::absolute(e.path()), dir / e.path().filename());
  return made.emplace(name, dir).first->second;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto& names = quench::fuzz::fixture_names();
  const fs::path& dir = fixture_copy(names[data[0] % names.size()]);
  quench::fuzz::write_file(dir / "config.json", std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
  try {
    auto model = quench::load_model(dir.string());
    quench::fuzz::run_model(*model, true);
  } catch (const quench::Error&) {
  }
  return 0;
}
