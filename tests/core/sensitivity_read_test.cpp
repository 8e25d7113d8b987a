// A recorded sensitivity run read back (read_sensitivity): what the window's heatmap suggests a
// mixed-precision recipe from. The numbers come back as recorded, the suggestion from them is the
// one the run itself made, and a row or recipe that is not as Quench records it is named.
#include <gtest/gtest.h>

#include "core/compress/mixed_precision.h"
#include "core/runs/sensitivity_merge.h"
#include "core/util/error.h"

namespace quench {
namespace {

ExperimentDetail run_of(const std::vector<std::pair<std::string, std::vector<double>>>& units) {
  ExperimentDetail d;
  d.summary.id = 7;
  d.summary.kind = RunKind::Sensitivity;
  d.recipe = {{"metric", "perplexity"},
              {"candidates", {{{"name", "W3"}, {"setting", {{"scheme", "W3A16-G16"}}}}, {{"name", "W8"}, {"setting", {{"scheme", "W8A16"}}}}}}};
  d.metrics.push_back({"perplexity_float", 70.0});
  for (const auto& [name, deltas] : units) {
    LayerResult r;
    r.layer = name;
    r.kind = "linear";
    r.params_before = r.params_after = 1000;
    r.settings = {{"layers", {name}},
                  {"candidate", "W3"},
                  {"sensitivity",
                   {{"W3", {{"metric", 70 + deltas[0]}, {"delta", deltas[0]}, {"bits", 4.0}, {"density", 1.0}}},
                    {"W8", {{"metric", 70 + deltas[1]}, {"delta", deltas[1]}, {"bits", 8.0}, {"density", 1.0}}}}}};
    d.layers.push_back(r);
  }
  return d;
}

TEST(ReadSensitivity, ReadsTheRecordedNumbersAndSuggestsFromThem) {
  const auto stored = read_sensitivity(run_of({{"a", {0.5, 0.01}}, {"b", {0.02, 0.01}}}), "run #7");
  ASSERT_EQ(stored.candidates.size(), 2u);
  EXPECT_EQ(stored.candidates[1].setting["scheme"], "W8A16");
  EXPECT_DOUBLE_EQ(stored.result.base, 70.0);
  ASSERT_EQ(stored.result.units.size(), 2u);
  EXPECT_DOUBLE_EQ(stored.result.units[0].entries[0].delta, 0.5);
  EXPECT_EQ(stored.result.units[1].weights, 1000);
  // Within 6 bits one unit can take 8 bits: the one that 3 bits would hurt most.
  const MixedPrecision mp = suggest_mixed_precision(stored.result, 6.0);
  EXPECT_EQ(mp.choice, (std::vector<size_t>{1, 0}));
  EXPECT_DOUBLE_EQ(mp.average_bits, 6.0);
}

TEST(ReadSensitivity, NamesWhatIsNotAsRecorded) {
  auto expect_error = [](const ExperimentDetail& d, const std::string& needle) {
    try {
      read_sensitivity(d, "run #7");
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("run #7"), std::string::npos) << m;
      EXPECT_NE(m.find(needle), std::string::npos) << m;
    }
  };
  ExperimentDetail compress = run_of({{"a", {0.5, 0.01}}});
  compress.summary.kind = RunKind::Compress;
  expect_error(compress, "compress run");
  ExperimentDetail no_candidates = run_of({{"a", {0.5, 0.01}}});
  no_candidates.recipe.erase("candidates");
  expect_error(no_candidates, "candidates");
  ExperimentDetail bad_row = run_of({{"a", {0.5, 0.01}}});
  bad_row.layers[0].settings["sensitivity"].erase("W8");
  expect_error(bad_row, "'W8'");
  ExperimentDetail text_delta = run_of({{"a", {0.5, 0.01}}});
  text_delta.layers[0].settings["sensitivity"]["W3"]["delta"] = "big";
  expect_error(text_delta, "'delta'");
}

}  // namespace
}  // namespace quench
