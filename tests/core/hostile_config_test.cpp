// Every numeric key of every family's config.json set to 0, −1 and 2^40 (floats also to 0.0 and
// −1.0): loading and running the model either refuses with one Quench error naming the file and
// the key, or runs to finite logits (keys Quench does not read: bos_token_id, initializer_range).
// Never a signal, a libtorch error, std::bad_alloc or NaN logits.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/io/safetensors.h"
#include "core/models/registry.h"
#include "core/util/error.h"
#include "test_util.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace quench {
namespace {

// Dotted paths of the numeric (not boolean) values, nested objects included.
void numeric_keys(const json& j, const std::string& prefix, std::vector<std::string>& out) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    const auto& v = it.value();
    if (v.is_number()) out.push_back(prefix + it.key());
    else if (v.is_object()) numeric_keys(v, prefix + it.key() + ".", out);
  }
}

json& at_path(json& j, const std::string& path) {
  json* cur = &j;
  size_t from = 0;
  for (size_t dot; (dot = path.find('.', from)) != std::string::npos; from = dot + 1) cur = &(*cur)[path.substr(from, dot - from)];
  return (*cur)[path.substr(from)];
}

ModelInputs small_inputs(const std::string& fixture_dir) {
  SafetensorsFile ref(fixture_dir + "/reference.safetensors");
  ModelInputs in;
  if (ref.contains("pixel_values")) in.pixel_values = ref.load("pixel_values").to(at::kFloat).narrow(0, 0, 1);
  else in.input_ids = at::arange(1, 9, at::kLong).unsqueeze(0);  // 8 tokens, inside every tiny vocabulary
  return in;
}

class HostileConfig : public ::testing::TestWithParam<std::string> {};

TEST_P(HostileConfig, EveryNumericKeyAtZeroMinusOneAndHugeRefusedByNameOrHarmless) {
  const std::string src = test::fixture("hf-tiny/" + GetParam());
  const json base = json::parse(test::read_file(src + "/config.json"));
  std::vector<std::string> keys;
  numeric_keys(base, "", keys);
  ASSERT_GT(keys.size(), 3u);
  const ModelInputs inputs = small_inputs(src);

  test::TempDir tmp;
  for (const auto& e : fs::directory_iterator(src))
    if (e.path().filename() != "config.json") fs::create_symlink(e.path(), tmp.file(e.path().filename().string()));
  const std::string cfg_path = tmp.file("config.json");

  int refused = 0, harmless = 0;
  for (const auto& key : keys) {
    std::vector<json> values = {0, -1, int64_t{1} << 40};
    json probe = base;
    if (at_path(probe, key).is_number_float()) values.insert(values.end(), {0.0, -1.0});
    const std::string leaf = key.substr(key.rfind('.') == std::string::npos ? 0 : key.rfind('.') + 1);
    for (const auto& v : values) {
      json cfg = base;
      at_path(cfg, key) = v;
      std::ofstream(cfg_path) << cfg.dump();
      SCOPED_TRACE(GetParam() + ": " + key + " = " + v.dump());
      try {
        auto model = load_model(tmp.path());
        at::NoGradGuard ng;
        const auto logits = model->forward(inputs).logits;
        EXPECT_TRUE(at::isfinite(logits).all().item<bool>()) << "accepted, and the logits are not finite";
        ++harmless;
      } catch (const Error& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find(leaf), std::string::npos) << "the message does not name the key: " << msg;
        EXPECT_NE(msg.find(cfg_path), std::string::npos) << "the message does not name the file: " << msg;
        EXPECT_EQ(msg.find('\n'), std::string::npos) << "not one line: " << msg;
        ++refused;
      } catch (const std::exception& e) {
        ADD_FAILURE() << "not a Quench error: " << e.what();
      }
    }
  }
  EXPECT_GT(refused, 0);
  // The sweep never came near the 1 GB a hostile config could once make Quench allocate.
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  EXPECT_LT(ru.ru_maxrss, 1024 * 1024) << "peak RSS " << ru.ru_maxrss << " kB";
  std::cout << GetParam() << ": " << keys.size() << " keys, " << refused << " refused by name, " << harmless
            << " harmless\n";
}

INSTANTIATE_TEST_SUITE_P(Families, HostileConfig,
                         ::testing::Values("llama-tiny", "qwen2-tiny", "qwen3-tiny", "mistral-tiny", "gpt2-tiny", "mamba-tiny",
                                           "mamba2-tiny", "vit-tiny", "resnet-tiny", "resnet-bottleneck-tiny"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (auto& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

}  // namespace
}  // namespace quench
