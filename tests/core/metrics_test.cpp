// The metric table: every metric that code records by name has a row (a missed row fails here, not
// as an uncoloured delta in the compare window), and directions and labels follow the table.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "core/store/metrics.h"

namespace quench {
namespace {

TEST(MetricTable, EveryMetricRecordedByNameHasARow) {
  const std::filesystem::path root = QUENCH_SOURCE_DIR;
  const std::regex recorded(R"re(\badd(?:_metric)?\("([a-z0-9_]+)")re");
  int found = 0;
  for (const char* dir : {"core", "app", "widgets"})
    for (const auto& e : std::filesystem::recursive_directory_iterator(root / dir)) {
      if (e.path().extension() != ".cpp") continue;
      std::ifstream in(e.path());
      std::stringstream ss;
      ss << in.rdbuf();
      const std::string text = ss.str();
      if (text.find("add_metric") == std::string::npos) continue;  // a file that records (its local add() lambdas too)
      for (std::sregex_iterator it(text.begin(), text.end(), recorded), end; it != end; ++it) {
        ++found;
        EXPECT_NE(find_metric((*it)[1]), nullptr) << (*it)[1] << " (recorded in " << e.path().lexically_relative(root).string()
                                                  << ") has no row in core/store/metrics.cpp";
      }
    }
  EXPECT_GT(found, 20);  // the scan saw the recording code
  for (const char* n : {metric_names::kSizeBytes, metric_names::kBitsPerWeight, metric_names::kPerplexity, metric_names::kTop1})
    EXPECT_NE(find_metric(n), nullptr) << n;
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
