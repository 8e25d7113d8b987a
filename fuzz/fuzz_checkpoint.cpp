// libFuzzer target: a whole model directory — config.json (with a compressed-tensors
// quantization_config or not), safetensors shards and their index — as Checkpoint and the
// architectures read it. One input packs several files:
//   repeated: name (1–64 bytes of [A-Za-z0-9._-], then NUL), length (4 bytes little-endian), bytes
// (a length past the end takes what is left). Every stored and decoded tensor is read, then the
// model is loaded and run on one short input.
// quench::Error is the orderly refusal; anything else is a finding. fuzz/make_seeds.py packs the
// fixtures' folders into seeds this way.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <cctype>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/io/checkpoint.h"
#include "core/models/registry.h"
#include "core/util/error.h"
#include "fuzz/model_dir.h"

namespace fs = std::filesystem;

namespace {

bool safe_name(std::string_view n) {
  if (n.empty() || n.size() > 64 || n == "." || n == "..") return false;
  for (char c : n)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
  return true;
}

// Writes the input's files into dir; returns how many.
int unpack(const uint8_t* data, size_t size, const fs::path& dir) {
  int files = 0;
  size_t at = 0;
  while (at < size && files < 16) {
    const auto* nul = static_cast<const uint8_t*>(std::memchr(data + at, 0, size - at));
    if (!nul) break;
    const std::string_view name(reinterpret_cast<const char*>(data + at), nul - (data + at));
    at = nul - data + 1;
    if (size - at < 4) break;
    const uint32_t len = data[at] | data[at + 1] << 8 | data[at + 2] << 16 | uint32_t(data[at + 3]) << 24;
    at += 4;
    const size_t n = std::min<size_t>(len, size - at);
    if (safe_name(name)) {
      quench::fuzz::write_file(dir / std::string(name), std::string_view(reinterpret_cast<const char*>(data + at), n));
      ++files;
    }
    at += n;
  }
  return files;
}

void read_everything(const quench::Checkpoint& ck) {
  for (const auto& name : ck.names()) {
    try {
      const at::Tensor t = ck.load(name);
      // Touching every value: a decoded view past its source, or a packed read out of range, shows here.
      (void)t.to(at::kDouble).sum().item<double>();
    } catch (const quench::Error&) {
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fs::path dir = quench::fuzz::scratch_root() / "model";
  quench::remove_tree(dir.string());
  fs::create_directories(dir);
  if (unpack(data, size, dir) == 0) return 0;
  try {
    quench::Checkpoint ck(dir.string());
    read_everything(ck);
  } catch (const quench::Error&) {
    return 0;
  }
  try {
    auto model = quench::load_model(dir.string());
    quench::fuzz::run_model(*model, false);
  } catch (const quench::Error&) {
  }
  return 0;
}
