// Hostile inputs through the real binary, as the tester met them: each ends with exit 1 or 2 and
// one line naming the file and the key, option or tensor — never a signal, a NaN result or a hang.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "cli_util.h"

namespace fs = std::filesystem;
using namespace quench::test;

namespace {

// A copy of a fixture model (tensors linked) whose config.json has `key` set to `value`.
std::string model_with(const TempDir& tmp, const std::string& fixture_name, const std::string& key, const nlohmann::json& value) {
  const std::string src = fixture("hf-tiny/" + fixture_name), dir = tmp.file(fixture_name + "-" + key);
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(src))
    if (e.path().filename() != "config.json") fs::create_symlink(e.path(), dir + "/" + e.path().filename().string());
  auto cfg = nlohmann::json::parse(read_file(src + "/config.json"));
  cfg[key] = value;
  std::ofstream(dir + "/config.json") << cfg.dump();
  return dir;
}

size_t lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

TEST(HostileCli, ZeroHeadsOnceKilledEveryCommandNowOneLineNamingTheKey) {
  TempDir tmp;
  const std::string dir = model_with(tmp, "llama-tiny", "num_attention_heads", 0);
  for (const auto& cmd : {std::vector<std::string>{"inspect", dir},
                          {"forward", dir, "--inputs", fixture("hf-tiny/llama-tiny/reference.safetensors"), "--out", tmp.file("o.st")}}) {
    const auto r = run_cli(cmd);
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_TRUE(contains(r.err, "num_attention_heads") && contains(r.err, dir + "/config.json")) << r.err;
  }
  EXPECT_FALSE(fs::exists(tmp.file("o.st")));
}

TEST(HostileCli, NonPositiveEpsilonAndRopeThetaAreRefusedInsteadOfNaNLogits) {
  TempDir tmp;
  for (const auto& [key, value] : std::vector<std::pair<std::string, nlohmann::json>>{{"rms_norm_eps", -1}, {"rope_theta", 0}}) {
    const std::string dir = model_with(tmp, "qwen2-tiny", key, value);
    const auto r = run_cli({"forward", dir, "--inputs", fixture("hf-tiny/qwen2-tiny/reference.safetensors"), "--out", tmp.file("o.st")});
    EXPECT_EQ(r.code, 1) << key << ": " << r.err;
    EXPECT_TRUE(contains(r.err, key) && contains(r.err, "config.json")) << r.err;
  }
}

TEST(HostileCli, AbsurdThreadCountsAreClampedWithAWarning) {
  const auto r = run_cli({"inspect", fixture("hf-tiny/llama-tiny")}, {{"QUENCH_THREADS", "100000"}});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "warning: QUENCH_THREADS 100000 is more than the")) << r.err;
}

TEST(HostileCli, CharacterDevicesAndFoldersAsTextAreRefusedAtOnce) {
  const auto dev = run_cli({"eval", demo("sotu-llama"), "--text", "/dev/zero", "--no-record"});
  EXPECT_EQ(dev.code, 1) << dev.err;
  EXPECT_TRUE(contains(dev.err, "/dev/zero") && contains(dev.err, "character device")) << dev.err;
  TempDir tmp;
  const auto folder = run_cli({"tokenize", demo("sotu-llama"), "--text", tmp.path()});
  EXPECT_EQ(folder.code, 1) << folder.out << folder.err;
  EXPECT_TRUE(contains(folder.err, tmp.path()) && contains(folder.err, "directory")) << folder.err;
}

TEST(HostileCli, ContextBeyondThePositionTableIsRefusedBeforeReadingText) {
  const auto r = run_cli({"eval", fixture("hf-tiny/gpt2-tiny"), "--text", demo("sotu-calib.txt"), "--ctx", "100000", "--no-record"});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "--ctx 100000") && contains(r.err, "n_positions")) << r.err;
}

TEST(HostileCli, NegativeWindowCountsAndUnreadableDatesAreUsageErrors) {
  const auto w = run_cli({"eval", fixture("hf-tiny/llama-tiny"), "--text", demo("sotu-calib.txt"), "--max-windows", "-1", "--no-record"});
  EXPECT_EQ(w.code, 2) << w.err;
  EXPECT_TRUE(contains(w.err, "--max-windows")) << w.err;
  TempDir tmp;
  const auto d = run_cli({"experiments", "list", "--db", tmp.file("q.db"), "--since", "yesterday"});
  EXPECT_EQ(d.code, 2) << d.err;
  EXPECT_TRUE(contains(d.err, "--since") && contains(d.err, "yesterday")) << d.err;
}

}  // namespace
