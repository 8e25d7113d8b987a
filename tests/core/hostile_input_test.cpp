// Hostile inputs other than config.json: non-finite weights, decompression bombs, devices and
// pipes named as files, absurd thread counts, contexts beyond a position table, recipes with
// duplicate keys, leftovers of killed saves. Each refused with one message naming what is wrong.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/compress/recipe.h"
#include "core/compress/save_model.h"
#include "core/data/image_decode.h"
#include "core/data/text_source.h"
#include "core/io/atomic_file.h"
#include "core/io/safetensors.h"
#include "core/models/registry.h"
#include "core/store/store.h"
#include "core/util/error.h"
#include "core/util/read_file.h"
#include "core/util/threads.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace quench {
namespace {

// The message of the Error that f throws ("" and a test failure when it throws none).
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// A copy of a fixture checkpoint whose tensor `name` has `value` at element 3, stored as `dtype`.
void copy_with_value(const std::string& fixture, const std::string& out, const std::string& name, float value,
                     at::ScalarType dtype = at::kFloat) {
  fs::create_directories(out);
  for (const auto& e : fs::directory_iterator(fixture))
    if (e.path().extension() != ".safetensors") fs::copy(e.path(), out + "/" + e.path().filename().string());
  SafetensorsFile in(fixture + "/model.safetensors");
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& t : in.tensors()) {
    at::Tensor x = in.load(t.name).to(dtype).clone();
    if (t.name == name) x.view({-1})[3] = value;
    tensors.emplace_back(t.name, x);
  }
  save_safetensors(out + "/model.safetensors", tensors);
}

TEST(NonFinite, NaNOrInfWeightsAreRefusedAtLoadNamingTheTensor) {
  test::TempDir tmp;
  const std::string name = "model.layers.1.mlp.down_proj.weight";
  for (float v : {NAN, INFINITY, -INFINITY}) {
    const std::string dir = tmp.file("m" + std::to_string(static_cast<int>(std::isnan(v) ? 0 : v > 0 ? 1 : 2)));
    copy_with_value(test::fixture("hf-tiny/llama-tiny"), dir, name, v);
    const std::string msg = error_of([&] { load_model(dir); });
    EXPECT_TRUE(has(msg, dir) && has(msg, name) && has(msg, "non-finite")) << msg;
  }
  // Headers only (inspect) does not read weights and still opens.
  LoadOptions headers;
  headers.materialize = false;
  EXPECT_NO_THROW(load_model(tmp.file("m0"), headers));
}

// An integer weight in a plain checkpoint (no scale to read it with) is refused when the model is
// built, headers-only opens included, naming the tensor and its stored dtype — not deep inside
// the first matmul.
TEST(BadDtype, IntegerWeightIsRefusedNamingTheTensorAndDtype) {
  test::TempDir tmp;
  const std::string fixture = test::fixture("hf-tiny/llama-tiny"), dir = tmp.file("i16");
  const std::string name = "model.layers.0.mlp.up_proj.weight";
  copy_with_value(fixture, dir, name, 1.0f);
  SafetensorsFile in(dir + "/model.safetensors");
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& t : in.tensors()) {
    at::Tensor x = in.load(t.name).clone();
    tensors.emplace_back(t.name, t.name == name ? x.mul(100).to(at::kShort) : x);
  }
  save_safetensors(dir + "/model.safetensors", tensors);
  for (const bool materialize : {true, false}) {
    LoadOptions o;
    o.materialize = materialize;
    const std::string msg = error_of([&] { load_model(dir, o); });
    EXPECT_TRUE(has(msg, dir) && has(msg, "'" + name + "' is stored as I16")) << msg;
  }
}

TEST(NonFinite, AFloat16OverflowIsToldApartFromACorruptFile) {
  test::TempDir tmp;
  const std::string name = "model.layers.0.self_attn.q_proj.weight";
  copy_with_value(test::fixture("hf-tiny/llama-tiny"), tmp.file("m"), name, 1e6f, at::kBFloat16);
  LoadOptions half;
  half.dtype = at::kHalf;
  try {
    load_model(tmp.file("m"), half);
  } catch (const UsageError&) {
    GTEST_SKIP() << "this libtorch has no float16 matmul on the CPU";
  } catch (const Error& e) {
    EXPECT_TRUE(has(e.what(), name) && has(e.what(), "overflow")) << e.what();
    return;
  }
  ADD_FAILURE() << "a weight of 1e6 loaded as float16 without an error";
}

TEST(NonFinite, ANonFiniteMetricFailsTheRunInsteadOfRecordingIt) {
  test::TempDir dir;
  Store s = Store::open(dir.file("q.db"));
  int64_t id;
  {
    auto w = s.begin({"nan run", RunKind::Evaluate});
    id = w.id();
    try {
      w.add_metric("perplexity", std::nan(""));
      w.finish();
    } catch (...) {
      w.finish_with(std::current_exception());
    }
  }
  const auto run = s.get(id);
  EXPECT_EQ(run.summary.status, RunStatus::Failed);
  EXPECT_TRUE(has(run.summary.error, "perplexity") && has(run.summary.error, "non-finite")) << run.summary.error;
  EXPECT_TRUE(run.metrics.empty());
}

uint32_t crc32_of(const std::string& s) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : s) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

// A PNG of a valid signature and IHDR claiming w×h, then an empty IDAT: 69 bytes.
std::string png_header(uint32_t w, uint32_t h) {
  auto be32 = [](uint32_t v) { return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; };
  std::string ihdr = "IHDR" + be32(w) + be32(h) + std::string{8, 2, 0, 0, 0};  // 8-bit RGB
  const uint32_t crc = crc32_of(ihdr);
  const std::string idat = "IDAT", iend = "IEND";
  return std::string("\x89PNG\r\n\x1a\n", 8) + be32(13) + ihdr + be32(crc) + be32(0) + idat + be32(crc32_of(idat)) +
         be32(0) + iend + be32(crc32_of(iend));
}

TEST(ResourceBounds, APngBombIsRefusedFromItsHeaderBeforeAnyAllocation) {
  test::TempDir tmp;
  const std::string path = tmp.file("bomb.png");
  std::ofstream(path, std::ios::binary) << png_header(100000, 100000);
  const std::string msg = error_of([&] { decode_image(path); });
  EXPECT_TRUE(has(msg, path) && has(msg, "100000×100000")) << msg;
  // A small header with no pixel data is a corrupt PNG, said in one line with libpng's reason.
  std::ofstream(tmp.file("empty.png"), std::ios::binary) << png_header(4, 4);
  const std::string corrupt = error_of([&] { decode_image(tmp.file("empty.png")); });
  EXPECT_TRUE(has(corrupt, "empty.png") && has(corrupt, "corrupt PNG (")) << corrupt;
}

TEST(ResourceBounds, DevicesPipesDirectoriesAndHugeFilesAreRefusedByName) {
  test::TempDir tmp;
  EXPECT_TRUE(has(error_of([] { read_file("/dev/zero", kMaxJsonBytes, "config"); }), "character device"));
  EXPECT_TRUE(has(error_of([&] { read_text_source("/dev/zero"); }), "/dev/zero"));
  ASSERT_EQ(::mkfifo(tmp.file("fifo").c_str(), 0600), 0);
  EXPECT_TRUE(has(error_of([&] { read_file(tmp.file("fifo"), kMaxJsonBytes, "text"); }), "a pipe"));
  EXPECT_TRUE(has(error_of([&] { read_file(tmp.path(), kMaxJsonBytes, "text"); }), "a directory"));
  {
    std::ofstream big(tmp.file("big.json"));
  }
  fs::resize_file(tmp.file("big.json"), kMaxRecipeBytes + 1);  // sparse: costs no disk
  const std::string msg = error_of([&] { Recipe::load(tmp.file("big.json")); });
  EXPECT_TRUE(has(msg, "big.json") && has(msg, "at most")) << msg;
  // A config.json that is a link to /dev/zero.
  fs::create_directories(tmp.file("m"));
  fs::create_symlink("/dev/zero", tmp.file("m/config.json"));
  EXPECT_TRUE(has(error_of([&] { load_model(tmp.file("m")); }), "config.json"));
}

TEST(ResourceBounds, ThreadCountsAreClampedToTheCoresAndSaidSo) {
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  ::setenv("QUENCH_THREADS", "100000", 1);
  std::string warning;
  EXPECT_LE(configure_threads(0, &warning), cores);
  EXPECT_TRUE(has(warning, "100000") && has(warning, "cores")) << warning;
  ::setenv("QUENCH_THREADS", "lots", 1);
  warning.clear();
  EXPECT_GE(configure_threads(0, &warning), 1);
  EXPECT_TRUE(has(warning, "lots")) << warning;
  ::unsetenv("QUENCH_THREADS");
  warning.clear();
  configure_threads(0, &warning);
  EXPECT_EQ(warning, "");
}

TEST(ResourceBounds, AContextBeyondALearnedPositionTableIsRefusedBeforeRunning) {
  auto gpt2 = load_model(test::fixture("hf-tiny/gpt2-tiny"));
  const int64_t n = gpt2->max_positions();
  ASSERT_GT(n, 0);
  EXPECT_NO_THROW(gpt2->check_context(n, "--ctx"));
  const std::string msg = error_of([&] { gpt2->check_context(n + 1, "--ctx"); });
  EXPECT_TRUE(has(msg, "--ctx") && has(msg, "n_positions") && has(msg, "config.json")) << msg;
  ModelInputs in;
  in.input_ids = at::zeros({1, n + 1}, at::kLong);
  EXPECT_TRUE(has(error_of([&] { gpt2->forward(in); }), "n_positions"));
  // RoPE and state-space models have no table to run past.
  EXPECT_EQ(load_model(test::fixture("hf-tiny/llama-tiny"))->max_positions(), 0);
}

TEST(HostileRecipes, DuplicateKeysAndHugeIntegersAreNamed) {
  test::TempDir tmp;
  std::ofstream(tmp.file("dup.json")) << R"({"name": "x", "default": {"weights": {"bits": 4, "bits": 8}}})";
  const std::string dup = error_of([&] { Recipe::load(tmp.file("dup.json")); });
  EXPECT_TRUE(has(dup, "dup.json") && has(dup, "'bits' appears twice")) << dup;
  std::ofstream(tmp.file("big.json")) << R"({"name": "x", "default": {"weights": {"bits": 9223372036854775808}}})";
  const std::string big = error_of([&] { Recipe::load(tmp.file("big.json")); });
  EXPECT_TRUE(has(big, "9223372036854775808") && !has(big, "-9223372036854775808")) << big;
}

// Found by fuzz_recipe (fuzz/corpus/recipe/HostileRecipes.NumberOverflowIsInvalidJsonNamingTheFile.json):
// nlohmann reports a number beyond double as out_of_range, not parse_error, and it escaped.
TEST(HostileRecipes, NumberOverflowIsInvalidJsonNamingTheFile) {
  test::TempDir tmp;
  std::ofstream(tmp.file("huge.json")) << R"({"name": "x", "default": {"weights": {"bits": 1e3084}}})";
  const std::string huge = error_of([&] { Recipe::load(tmp.file("huge.json")); });
  EXPECT_TRUE(has(huge, "huge.json: not valid JSON") && has(huge, "number overflow")) << huge;
}

TEST(Leftovers, AKilledSavesTemporaryFolderIsRemovedByTheNextSave) {
  test::TempDir tmp;
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ::waitpid(child, nullptr, 0);  // a pid that no longer runs, as after kill -9
  const fs::path target = tmp.file("out");
  const fs::path stale = tmp.file(".quench-save-out-" + std::to_string(child));
  const fs::path live = tmp.file(".quench-save-out-1");  // pid 1 runs: another save in progress
  const fs::path other = tmp.file(".quench-save-other-" + std::to_string(child));
  for (const auto& d : {stale, live, other}) fs::create_directories(d / "x");
  const fs::path mine = save_temp_dir(target, "quench-save");
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(live));
  EXPECT_TRUE(fs::exists(other));  // another target's: left to its own next save
  EXPECT_EQ(mine.filename().string(), ".quench-save-out-" + std::to_string(::getpid()));
}

// A GGUF (or any atomically written file) whose writer was killed leaves "<file>.tmp-<pid>-XXXXXX";
// the next write of the same file removes it when that pid no longer runs.
TEST(Leftovers, AKilledWritersTemporaryFileIsRemovedByTheNextWrite) {
  test::TempDir tmp;
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ::waitpid(child, nullptr, 0);
  const std::string target = tmp.file("m.gguf");
  const std::string stale = target + ".tmp-" + std::to_string(child) + "-a1b2c3";
  const std::string live = target + ".tmp-1-a1b2c3";  // pid 1 runs: a write in progress
  const std::string other = tmp.file("n.gguf.tmp-" + std::to_string(child) + "-a1b2c3");
  for (const auto& f : {stale, live, other}) std::ofstream(f) << "partial";
  write_file_atomic(target, "done");
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(live));
  EXPECT_TRUE(fs::exists(other));
  EXPECT_EQ(test::read_file(target), "done");
}

TEST(ReadOnlyStore, ListsShowsAndExportsWithoutWritingAndRefusesToRecord) {
  test::TempDir tmp;
  const std::string db = tmp.file("q.db");
  int64_t id;
  {
    Store s = Store::open(db);
    auto w = s.begin({"done", RunKind::Evaluate});
    id = w.id();
    w.add_metric("perplexity", 12.5);
    w.finish();
  }
  Store ro = Store::open_read_only(db);
  ASSERT_EQ(ro.list().size(), 1u);
  EXPECT_EQ(ro.get(id).metrics.at(0).value, 12.5);
  EXPECT_FALSE(ro.export_csv(id).empty());
  EXPECT_THROW(ro.begin({"new", RunKind::Evaluate}), Error);
  EXPECT_EQ(Store::open(db).list().size(), 1u);  // nothing was added by the refused begin
  EXPECT_TRUE(has(error_of([&] { Store::open_read_only(tmp.file("none.db")); }), "none.db"));
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores file permissions; the read-only folder case needs a normal user";
  fs::permissions(tmp.path(), fs::perms::owner_read | fs::perms::owner_exec);
  fs::permissions(db, fs::perms::owner_read);
  EXPECT_EQ(Store::open_read_only(db).list().size(), 1u);
  const std::string msg = error_of([&] { Store::open(db); });
  EXPECT_TRUE(has(msg, "read-only") && has(msg, db)) << msg;
  fs::permissions(tmp.path(), fs::perms::owner_all);
}

}  // namespace
}  // namespace quench
