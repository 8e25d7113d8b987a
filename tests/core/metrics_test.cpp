// The metric table: every metric code records is named through it and has a row (a missed row fails
// here, not as an uncoloured delta in the compare window), and directions and labels follow the table.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "core/store/metrics.h"

namespace quench {
namespace {

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Code records and reads metrics through metric_names' constants; a name spelled out as a literal
// where a metric is written or looked up would escape the table, so none may remain.
TEST(MetricTable, NoMetricIsRecordedOrReadByALiteral) {
  const std::filesystem::path root = QUENCH_SOURCE_DIR;
  const std::regex literal(R"re(\b(?:add(?:_metric)?\(|metrics\[|metrics\.contains\(|metric_value\(\w+, )"([a-z0-9_]+)")re");
  EXPECT_TRUE(std::regex_search(std::string(R"(w.add_metric("perplexity", 1))"), literal));  // the scan can see one
  EXPECT_TRUE(std::regex_search(std::string(R"(run.metrics["export_kl"])"), literal));
  int files = 0;
  for (const char* dir : {"core", "app", "widgets"})
    for (const auto& e : std::filesystem::recursive_directory_iterator(root / dir)) {
      if (e.path().extension() != ".cpp" && e.path().extension() != ".h") continue;
      ++files;
      const std::string text = read(e.path());
      for (std::sregex_iterator it(text.begin(), text.end(), literal), end; it != end; ++it)
        if (find_metric((*it)[1]))  // other keys of a job's result, Slurm options: not metrics
          ADD_FAILURE() << "\"" << (*it)[1] << "\" in " << e.path().lexically_relative(root).string()
                        << ": name it through metric_names (core/store/metrics.h)";
    }
  EXPECT_GT(files, 100);  // the scan saw the tree
}

// Every constant in metric_names has its row (a missed row would leave a metric unlabelled and its
// deltas uncoloured in the compare window).
TEST(MetricTable, EveryNamedMetricHasARow) {
  const std::string header = read(std::filesystem::path(QUENCH_SOURCE_DIR) / "core/store/metrics.h");
  const std::regex constant(R"re(constexpr const char\* (k\w+) = "([a-z0-9_]+)")re");
  int found = 0;
  for (std::sregex_iterator it(header.begin(), header.end(), constant), end; it != end; ++it) {
    if ((*it)[1] == "kFloatSuffix") continue;
    ++found;
    EXPECT_NE(find_metric((*it)[2]), nullptr) << (*it)[1] << " = " << (*it)[2] << " has no row in core/store/metrics.cpp";
  }
  EXPECT_EQ(found, static_cast<int>(metric_table().size()));
  EXPECT_EQ(metric_names::float_of(metric_names::kPerplexity), "perplexity_float");
  EXPECT_EQ(metric_names::decode_tokens_per_second(1), "decode_tokens_per_second");
  EXPECT_EQ(metric_names::decode_tokens_per_second(16), metric_names::kDecodeTokensPerSecondB16);
}

TEST(MetricTable, DirectionsAndLabels) {
  EXPECT_EQ(better_direction("perplexity"), Better::Lower);
  EXPECT_EQ(better_direction("perplexity_float"), Better::Lower);
  EXPECT_EQ(better_direction("top1"), Better::Higher);
  EXPECT_EQ(better_direction("top1_float"), Better::Higher);
  EXPECT_EQ(better_direction("tokens"), Better::Neither);
  // Keys outside the table by their form: per-layer results and timings.
  EXPECT_EQ(better_direction("output_sqnr_db"), Better::Higher);
  EXPECT_EQ(better_direction("calibrate_seconds"), Better::Lower);
  EXPECT_EQ(better_direction("output_rel_mse"), Better::Lower);
  EXPECT_EQ(better_direction("something_else"), Better::Neither);
  EXPECT_EQ(metric_label("perplexity_float"), "perplexity of the float model");
  EXPECT_EQ(metric_label("top1"), "top-1 accuracy");
  EXPECT_EQ(metric_label("something_else"), "something_else");
  EXPECT_EQ(find_metric("perplexity_float_float"), nullptr);
}

}  // namespace
}  // namespace quench
