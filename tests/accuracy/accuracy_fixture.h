#pragma once
// What the accuracy tests share: a scratch directory, and runs of the real `quench-cli` (compress,
// eval, sensitivity) on the bundled demo models with the small window counts CI affords.
#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "../cli/cli_util.h"
#include "core/util/remove_tree.h"

namespace quench::test {

using nlohmann::json;

// A scratch directory for recipes, suggestions and the database, removed afterwards.
class Scratch {
 public:
  Scratch() {
    char tmpl[] = "/tmp/quench-accuracy-XXXXXX";
    const char* d = mkdtemp(tmpl);
    if (!d) throw std::runtime_error("mkdtemp failed");
    path_ = d;
  }
  ~Scratch() {
    remove_tree(path_);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

class CliAccuracyTest : public ::testing::Test {
 protected:
  // Writes a recipe file, or passes a scheme/preset name through.
  std::string recipe(const json& j) {
    const std::string path = tmp_.file("r" + std::to_string(n_++) + ".json");
    std::ofstream(path) << j.dump();
    return path;
  }

  json run(std::vector<std::string> args) {
    args.push_back("--json");
    args.push_back("--db");
    args.push_back(tmp_.file("q.db"));
    const auto r = run_cli(args);
    EXPECT_EQ(r.code, 0) << r.err;
    return r.code == 0 ? json::parse(r.out) : json::object();
  }

  // Perplexity of sotu-llama / sotu-mamba2 compressed as `recipe` says.
  double text_ppl(const std::string& model, const std::string& recipe_arg, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> a = {"compress", demo(model),       "--recipe", recipe_arg, "--calib", demo("sotu-calib.txt"), "--samples", "32",
                                  "--seq",    "256",             "--eval",   demo("sotu-2000-2023.txt"), "--max-windows", "64"};
    a.insert(a.end(), extra.begin(), extra.end());
    const json j = run(a);
    const double v = j.value("metrics", json::object()).value("perplexity", -1.0);
    RecordProperty(model + " " + recipe_arg, std::to_string(v));
    std::cerr << model << " " << recipe_arg << ": perplexity " << v << "\n";
    return v;
  }

  double float_ppl(const std::string& model) {
    const auto r = run_cli({"eval", demo(model), "--text", demo("sotu-2000-2023.txt"), "--max-windows", "64", "--json"});
    EXPECT_EQ(r.code, 0) << r.err;
    const double v = r.code == 0 ? json::parse(r.out)["value"].get<double>() : -1.0;
    std::cerr << model << " float: perplexity " << v << "\n";
    return v;
  }

  double image_top1(const std::string& model, const std::string& recipe_arg) {
    const json j = run({"compress", demo(model), "--recipe", recipe_arg, "--calib-images", demo("mnist/calib-images-idx3-ubyte.gz"), "--samples",
                        "256", "--eval-images", demo("mnist/test-images-idx3-ubyte.gz"), "--eval-labels", demo("mnist/test-labels-idx1-ubyte.gz")});
    const double v = j.value("metrics", json::object()).value("top1", -1.0);
    std::cerr << model << " " << recipe_arg << ": top-1 " << v << "\n";
    return v;
  }

  double float_top1(const std::string& model) {
    const auto r = run_cli({"eval", demo(model), "--images", demo("mnist/test-images-idx3-ubyte.gz"), "--labels",
                            demo("mnist/test-labels-idx1-ubyte.gz"), "--json"});
    EXPECT_EQ(r.code, 0) << r.err;
    return r.code == 0 ? json::parse(r.out)["value"].get<double>() : -1.0;
  }

 protected:
  Scratch tmp_;
  int n_ = 0;
};

}  // namespace quench::test
