#include "core/store/fingerprint.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/io/checkpoint.h"
#include "core/models/model.h"
#include "core/store/sha256.h"
#include "core/util/error.h"

namespace fs = std::filesystem;

namespace quench {

namespace {
constexpr uint64_t kSampleBytes = 4096;

// The first bytes of every tensor of one safetensors file, by name.
void sample_tensors(const std::string& file, std::map<std::string, std::string>& out) {
  const SafetensorsFile st(file);
  std::ifstream in(file, std::ios::binary);
  QUENCH_CHECK(in, file, ": cannot open for hashing");
  uint8_t len[8] = {};
  in.read(reinterpret_cast<char*>(len), 8);
  uint64_t header = 0;
  for (int i = 7; i >= 0; --i) header = header << 8 | len[i];
  const uint64_t data_start = 8 + header;
  std::string buf;
  for (const auto& t : st.tensors()) {
    buf.resize(static_cast<size_t>(std::min(kSampleBytes, t.end - t.begin)));
    in.seekg(static_cast<std::streamoff>(data_start + t.begin));
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    QUENCH_CHECK(in, file, ": tensor '", t.name, "' could not be read for hashing");
    out[t.name] = sha256_hex(buf);
  }
}
}  // namespace

std::string model_content_hash(const Checkpoint& ckpt) {
  nlohmann::json cfg = ckpt.config().json();
  if (cfg.is_object()) {
    cfg.erase("_name_or_path");
    cfg.erase("transformers_version");
  }
  std::map<std::string, std::string> samples;
  for (const auto& f : ckpt.files()) sample_tensors(f, samples);
  Sha256 h;
  h.update("quench-model-hash-v1\n" + cfg.dump() + "\n");
  for (const auto& name : ckpt.names()) {  // sorted
    const TensorInfo& t = ckpt.info(name);
    std::string shape;
    for (auto d : t.shape) shape += std::to_string(d) + ",";
    const auto it = samples.find(name);
    h.update(name + "\t" + t.dtype_name + "\t" + shape + "\t" + (it == samples.end() ? "" : it->second) + "\n");
  }
  // A compressed-tensors checkpoint's packed parts stand behind its decoded weights: hash them too
  // (no other checkpoint has stored tensors outside names(), so their hashes are unchanged).
  const auto shown = ckpt.names();
  for (const auto& [name, sample] : samples)
    if (!std::binary_search(shown.begin(), shown.end(), name)) h.update("stored\t" + name + "\t" + sample + "\n");
  return h.hex();
}

ModelRecord model_record(const Model& model) {
  const Checkpoint& ckpt = model.checkpoint();
  ModelRecord m;
  m.path = fs::absolute(ckpt.dir()).lexically_normal().string();
  m.architecture = model.architecture();
  m.content_hash = model_content_hash(ckpt);
  m.parameters = model.parameter_count();
  m.bytes = static_cast<int64_t>(ckpt.bytes_on_disk());
  m.dtype = ckpt.dtype();
  return m;
}

DatasetRecord dataset_record(const std::string& path, const std::string& kind) {
  std::error_code ec;
  const auto st = fs::status(path, ec);
  QUENCH_CHECK(fs::exists(st), path, ": no such dataset file or directory");
  DatasetRecord d;
  d.path = fs::absolute(path).lexically_normal().string();
  d.kind = kind;
  if (fs::is_regular_file(st)) {
    d.content_hash = sha256_file(path);
    d.bytes = static_cast<int64_t>(fs::file_size(path));
    return d;
  }
  QUENCH_CHECK(fs::is_directory(st), path, ": a dataset is a file or a directory");
  std::vector<fs::path> files;
  for (fs::recursive_directory_iterator it(path, ec), end; it != end; it.increment(ec)) {
    QUENCH_CHECK(!ec, path, ": cannot list the dataset directory (", ec.message(), ")");
    if (it->is_regular_file()) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  Sha256 h;
  h.update("quench-dataset-tree-v1\n");
  for (const auto& f : files) {
    const auto size = fs::file_size(f);
    h.update(fs::relative(f, path).generic_string() + "\t" + std::to_string(size) + "\t" + sha256_file(f.string()) + "\n");
    d.bytes += static_cast<int64_t>(size);
  }
  d.content_hash = h.hex();
  return d;
}

}  // namespace quench
