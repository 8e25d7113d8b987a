// Content hashes that identify models and datasets in the store.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/io/checkpoint.h"
#include "core/models/registry.h"
#include "core/store/fingerprint.h"
#include "core/util/error.h"
#include "test_util.h"

using namespace quench;
namespace fs = std::filesystem;

namespace {
void copy_dir(const std::string& from, const std::string& to) {
  fs::create_directories(to);
  for (const auto& e : fs::directory_iterator(from)) fs::copy_file(e.path(), fs::path(to) / e.path().filename());
}

// Flips one byte at `offset` from the end of the file.
void flip_byte_from_end(const std::string& path, std::streamoff offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(-offset, std::ios::end);
  char c;
  f.get(c);
  f.seekp(-offset, std::ios::end);
  f.put(static_cast<char>(c ^ 0x5a));
}
}  // namespace

TEST(Fingerprint, ModelHashFollowsContentNotPlace) {
  const std::string src = test::fixture("hf-tiny/gpt2-tiny");
  LoadOptions opts;
  opts.materialize = false;
  const auto model = load_model(src, opts);
  const ModelRecord rec = model_record(*model);
  EXPECT_EQ(rec.architecture, "GPT2LMHeadModel");
  EXPECT_EQ(rec.parameters, model->parameter_count());
  EXPECT_EQ(rec.bytes, static_cast<int64_t>(model->checkpoint().bytes_on_disk()));
  EXPECT_EQ(rec.content_hash.size(), 64u);
  EXPECT_TRUE(fs::path(rec.path).is_absolute());

  test::TempDir dir;
  copy_dir(src, dir.file("moved"));
  EXPECT_EQ(model_content_hash(Checkpoint(dir.file("moved"))), rec.content_hash);

  // The same index with other weights (a fine-tune) is another model: the last tensor's first bytes change.
  copy_dir(src, dir.file("tuned"));
  const Checkpoint orig(src);
  const TensorInfo* last = nullptr;
  for (const auto& n : orig.names())
    if (!last || orig.info(n).end > last->end) last = &orig.info(n);
  flip_byte_from_end(dir.file("tuned/model.safetensors"), static_cast<std::streamoff>(last->end - last->begin));
  EXPECT_NE(model_content_hash(Checkpoint(dir.file("tuned"))), rec.content_hash);

  // A cosmetic config key does not matter; a real one does.
  copy_dir(src, dir.file("renamed"));
  auto cfg = nlohmann::json::parse(std::ifstream(dir.file("renamed/config.json")));
  cfg["_name_or_path"] = "someone/else";
  std::ofstream(dir.file("renamed/config.json")) << cfg.dump(2);
  EXPECT_EQ(model_content_hash(Checkpoint(dir.file("renamed"))), rec.content_hash);
  cfg["layer_norm_epsilon"] = 1e-3;
  std::ofstream(dir.file("renamed/config.json")) << cfg.dump(2);
  EXPECT_NE(model_content_hash(Checkpoint(dir.file("renamed"))), rec.content_hash);
}

TEST(Fingerprint, DatasetHashCoversFilesAndTrees) {
  test::TempDir dir;
  std::ofstream(dir.file("a.txt")) << "hello";
  const DatasetRecord file = dataset_record(dir.file("a.txt"), "text");
  EXPECT_EQ(file.kind, "text");
  EXPECT_EQ(file.bytes, 5);
  EXPECT_EQ(file.content_hash, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");  // sha256("hello")

  fs::create_directories(dir.file("imgs/cat"));
  std::ofstream(dir.file("imgs/cat/1.png")) << "png-one";
  std::ofstream(dir.file("imgs/cat/2.png")) << "png-two";
  const DatasetRecord tree = dataset_record(dir.file("imgs"), "images");
  EXPECT_EQ(tree.bytes, 14);
  EXPECT_EQ(tree.content_hash, dataset_record(dir.file("imgs"), "images").content_hash);
  std::ofstream(dir.file("imgs/cat/2.png")) << "png-2wo";
  EXPECT_NE(dataset_record(dir.file("imgs"), "images").content_hash, tree.content_hash);
  fs::rename(dir.file("imgs/cat/2.png"), dir.file("imgs/cat/3.png"));
  EXPECT_NE(dataset_record(dir.file("imgs"), "images").content_hash, tree.content_hash);
  EXPECT_THROW(dataset_record(dir.file("missing"), "text"), Error);
}
