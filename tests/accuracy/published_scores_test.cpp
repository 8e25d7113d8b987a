// The bundled models reproduce their published scores through `quench-cli eval`, exactly as the
// README tells users to run it (the numbers come from the models' CARD.json / shared README).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../cli/cli_util.h"

namespace quench::test {
namespace {

nlohmann::json eval(const std::vector<std::string>& args) {
  std::vector<std::string> full = {"eval"};
  full.insert(full.end(), args.begin(), args.end());
  full.push_back("--json");
  auto r = run_cli(full);
  EXPECT_EQ(r.code, 0) << r.err;
  return r.code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object({{"value", -1.0}});
}

TEST(PublishedScores, SotuLlamaPerplexity) {
  auto j = eval({demo("sotu-llama"), "--text", demo("sotu-2000-2023.txt"), "--ctx", "256", "--max-windows", "400"});
  RecordProperty("perplexity", std::to_string(j["value"].get<double>()));
  RecordProperty("seconds", std::to_string(j.value("seconds", 0.0)));
  EXPECT_NEAR(j["value"].get<double>(), 76.20, 0.01 * 76.20);
  EXPECT_EQ(j["tokens"], 400 * 256);
}

TEST(PublishedScores, SotuMamba2Perplexity) {
  auto j = eval({demo("sotu-mamba2"), "--text", demo("sotu-2000-2023.txt"), "--ctx", "256", "--max-windows", "400"});
  RecordProperty("perplexity", std::to_string(j["value"].get<double>()));
  RecordProperty("seconds", std::to_string(j.value("seconds", 0.0)));
  EXPECT_NEAR(j["value"].get<double>(), 112.0, 0.01 * 112.0);
}

TEST(PublishedScores, MnistVitTop1) {
  auto j = eval({demo("mnist-vit"), "--images", demo("mnist/test-images-idx3-ubyte.gz"), "--labels",
                 demo("mnist/test-labels-idx1-ubyte.gz")});
  RecordProperty("top1", std::to_string(j["value"].get<double>()));
  EXPECT_NEAR(j["value"].get<double>(), 0.981, 0.002);
  EXPECT_EQ(j["n"], 1000);
}

TEST(PublishedScores, MnistResnetTop1) {
  auto j = eval({demo("mnist-resnet"), "--images", demo("mnist/test-images-idx3-ubyte.gz"), "--labels",
                 demo("mnist/test-labels-idx1-ubyte.gz")});
  RecordProperty("top1", std::to_string(j["value"].get<double>()));
  EXPECT_NEAR(j["value"].get<double>(), 0.993, 0.002);
}

TEST(PublishedScores, ImageFolderAgreesWithIdx) {
  // The same 60 digits as PNG files in a folder per class give the same accuracy as from IDX.
  auto folder = eval({demo("mnist-vit"), "--image-folder", fixture("images/mnist-folder")});
  auto idx = eval({demo("mnist-vit"), "--images", demo("mnist/test-images-idx3-ubyte.gz"), "--labels",
                   demo("mnist/test-labels-idx1-ubyte.gz"), "--max-images", "60"});
  EXPECT_EQ(folder["n"], 60);
  EXPECT_DOUBLE_EQ(folder["value"].get<double>(), idx["value"].get<double>());
}

}  // namespace
}  // namespace quench::test
