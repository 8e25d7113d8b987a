#include "core/io/checkpoint.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/io/ct_decode.h"
#include "core/util/error.h"
#include "core/util/read_file.h"

namespace fs = std::filesystem;

namespace quench {

namespace {
[[noreturn]] void refuse_pickle(const fs::path& p) {
  fail(p.string(),
       ": PyTorch pickle checkpoints are not loaded (unpickling can run arbitrary code). Convert it to "
       "safetensors first, e.g. in Python: `from transformers import AutoModel; "
       "AutoModel.from_pretrained(DIR).save_pretrained(OUT, safe_serialization=True)`, or the safetensors "
       "project's convert.py");
}
}  // namespace

Checkpoint::Checkpoint(const std::string& dir_in) : dir_(dir_in) {
  fs::path dir(dir_in);
  std::error_code ec;
  if (fs::is_regular_file(dir, ec)) {
    const auto ext = dir.extension().string();
    if (ext == ".bin" || ext == ".pt" || ext == ".pth" || ext == ".pkl") refuse_pickle(dir);
    fail(dir_in, ": expected a model directory (with config.json and *.safetensors), got a file");
  }
  QUENCH_CHECK(fs::is_directory(dir, ec), dir_in, ": no such model directory");
  const fs::path cfg = dir / "config.json";
  QUENCH_CHECK(fs::exists(cfg), cfg.string(), ": missing (every Hugging Face model directory has a config.json)");
  config_ = Config::load(cfg.string());

  const fs::path single = dir / "model.safetensors";
  const fs::path index = dir / "model.safetensors.index.json";
  std::vector<fs::path> shard_paths;
  if (fs::exists(index)) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(read_file(index.string(), kMaxJsonBytes, "shard index"));
    } catch (const nlohmann::json::exception& e) {
      fail(index.string(), ": not valid JSON: ", e.what());
    }
    QUENCH_CHECK(j.is_object() && j.contains("weight_map") && j["weight_map"].is_object(), index.string(),
                 ": missing the 'weight_map' object");
    std::map<std::string, std::string> wm;
    std::set<std::string> files;
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      QUENCH_CHECK(it.value().is_string(), index.string(), ": weight_map['", it.key(), "'] is not a file name");
      const auto f = it.value().get<std::string>();
      QUENCH_CHECK(f.find('/') == std::string::npos && f != ".." && !f.empty(), index.string(), ": weight_map['",
                   it.key(), "'] names '", f, "', which is not a file in this directory");
      wm[it.key()] = f;
      files.insert(f);
    }
    for (const auto& f : files) {
      const fs::path p = dir / f;
      QUENCH_CHECK(fs::exists(p), p.string(), ": shard listed in ", index.filename().string(), " is missing");
      shard_paths.push_back(p);
    }
    std::map<std::string, size_t> file_idx;
    for (const auto& p : shard_paths) {
      file_idx[p.filename().string()] = shards_.size();
      shards_.push_back(std::make_unique<SafetensorsFile>(p.string()));
    }
    for (const auto& [name, f] : wm) {
      const size_t s = file_idx[f];
      QUENCH_CHECK(shards_[s]->contains(name), shards_[s]->path(), ": tensor '", name, "' listed in ",
                   index.filename().string(), " is not in this shard");
      where_[name] = s;
    }
    // Tensors present in shards but not in the map are still usable; the map is authoritative when both.
    for (size_t s = 0; s < shards_.size(); ++s)
      for (const auto& t : shards_[s]->tensors())
        if (!where_.count(t.name)) where_[t.name] = s;
  } else if (fs::exists(single)) {
    shard_paths.push_back(single);
    shards_.push_back(std::make_unique<SafetensorsFile>(single.string()));
    for (const auto& t : shards_[0]->tensors()) where_[t.name] = 0;
  } else {
    for (const char* pk : {"pytorch_model.bin", "pytorch_model.bin.index.json", "model.pt", "model.pth"})
      if (fs::exists(dir / pk)) refuse_pickle(dir / pk);
    // Some exporters use other single-file names; accept exactly one *.safetensors.
    std::vector<fs::path> found;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().extension() == ".safetensors" && e.path().filename() != "reference.safetensors") found.push_back(e.path());
    QUENCH_CHECK(found.size() == 1, dir_in, ": no model.safetensors or model.safetensors.index.json",
                 found.empty() ? "" : " (and several other .safetensors files; which one is the model is ambiguous)");
    shard_paths.push_back(found[0]);
    shards_.push_back(std::make_unique<SafetensorsFile>(found[0].string()));
    for (const auto& t : shards_[0]->tensors()) where_[t.name] = 0;
  }
  for (const auto& p : shard_paths) {
    files_.push_back(p.string());
    bytes_on_disk_ += fs::file_size(p);
  }
  std::vector<std::string> stored;
  for (const auto& [n, s] : where_) stored.push_back(n);
  ct_ = CtDecoder::open(*this, stored);
  int64_t largest = 1;
  std::string largest_name;
  for (const auto& n : names()) {
    const int64_t numel = info(n).numel();
    if (numel > largest) largest = numel, largest_name = n;
  }
  config_.set_size_bound(largest, largest_name.empty() ? std::string("the checkpoint holds no tensor larger than one element")
                                                       : "the element count of the checkpoint's largest tensor, '" + largest_name + "'");
}

bool Checkpoint::has(const std::string& name) const {
  if (ct_ && ct_->find(name)) return true;
  return where_.count(name) != 0 && !(ct_ && ct_->hides(name));
}

const TensorInfo& Checkpoint::info(const std::string& name) const {
  if (ct_)
    if (const TensorInfo* t = ct_->find(name)) return *t;
  QUENCH_CHECK(has(name), dir_, ": checkpoint has no tensor '", name, "'");
  return stored_info(name);
}

at::Tensor Checkpoint::load(const std::string& name) const {
  if (ct_ && ct_->find(name)) return ct_->decode(*this, name);
  QUENCH_CHECK(has(name), dir_, ": checkpoint has no tensor '", name, "'");
  return load_stored(name);
}

const TensorInfo& Checkpoint::stored_info(const std::string& name) const {
  auto it = where_.find(name);
  QUENCH_CHECK(it != where_.end(), dir_, ": checkpoint has no tensor '", name, "'");
  return *shards_[it->second]->find(name);
}

at::Tensor Checkpoint::load_stored(const std::string& name) const {
  auto it = where_.find(name);
  QUENCH_CHECK(it != where_.end(), dir_, ": checkpoint has no tensor '", name, "'");
  return shards_[it->second]->load(name);
}

at::Tensor Checkpoint::load_stored_bytes(const std::string& name) const {
  auto it = where_.find(name);
  QUENCH_CHECK(it != where_.end(), dir_, ": checkpoint has no tensor '", name, "'");
  return shards_[it->second]->load_bytes(name);
}

void Checkpoint::release_pages() const {
  for (const auto& s : shards_) s->release_pages();
}

std::vector<std::string> Checkpoint::names() const {
  std::set<std::string> out;
  for (const auto& [n, s] : where_)
    if (!(ct_ && ct_->hides(n))) out.insert(n);
  if (ct_)
    for (const auto& [n, t] : ct_->decoded()) out.insert(n);
  return {out.begin(), out.end()};
}

std::string Checkpoint::compressed_tensors_format() const { return ct_ ? ct_->format() : std::string(); }

std::optional<StoredIntGrid> Checkpoint::stored_int_grid(const std::string& name) const {
  return ct_ ? ct_->int_grid(*this, name) : std::nullopt;
}

std::string Checkpoint::dtype() const {
  std::map<std::string, uint64_t> bytes;
  for (const auto& [n, s] : where_) {
    const auto* t = shards_[s]->find(n);
    if (t->dtype == StDtype::F32 || t->dtype == StDtype::F16 || t->dtype == StDtype::BF16 || t->dtype == StDtype::F64 ||
        t->dtype == StDtype::F8_E4M3 || t->dtype == StDtype::F8_E5M2)
      bytes[t->dtype_name] += t->end - t->begin;
  }
  std::string best = "F32";
  uint64_t most = 0;
  for (const auto& [d, b] : bytes)
    if (b > most) most = b, best = d;
  return best;
}

}  // namespace quench
