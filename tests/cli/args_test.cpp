// The option layer every quench-cli command declares its options with (app/cli/args.h): CLI11
// parses, Quench's messages name the option.
#include "app/cli/args.h"

#include <gtest/gtest.h>

#include "core/util/error.h"

namespace quench::cli {
namespace {

// An eval-like command: a positional, a defaulted option, a required one, a flag, a repeatable
// option, a group of which exactly one is needed, and an option that needs another.
struct Declared {
  Args a{"demo", "what the demo does"};
  Declared() {
    a.positional("MODEL_DIR", "the model");
    a.option("out", "FILE", "where to write")->required();
    a.option("ctx", "N", "tokens per window", "256");
    a.flag("json", "one JSON object");
    a.repeated("candidate", "SPEC", "a setting to try");
    a.option("text", "FILE", "text");
    a.option("images", "IDX", "images");
    a.option("labels", "IDX", "labels");
    a.declared("images")->needs(a.declared("labels"));
    a.one_of({"text", "images"}, true);
  }
};

std::string usage_error(const std::vector<std::string>& argv) {
  Declared d;
  try {
    d.a.parse(argv);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(CliArgs, ValuesDefaultsAndRepeatsComeBackByName) {
  Declared d;
  ASSERT_TRUE(d.a.parse({"m", "--out", "o.json", "--text", "t.txt", "--candidate", "W4", "--candidate=W8", "--json"}));
  EXPECT_EQ(d.a.positional(), std::vector<std::string>{"m"});
  EXPECT_EQ(d.a.require("out"), "o.json");
  EXPECT_EQ(d.a.get_int("ctx"), 256);  // the declared default
  EXPECT_FALSE(d.a.given("ctx"));
  EXPECT_TRUE(d.a.flag("json"));
  EXPECT_EQ(d.a.get_all("candidate"), (std::vector<std::string>{"W4", "W8"}));
  EXPECT_FALSE(d.a.get("images").has_value());
  Declared e;
  ASSERT_TRUE(e.a.parse({"m", "--out=o", "--images", "i", "--labels", "l", "--ctx", "-1"}));
  EXPECT_EQ(e.a.get_int("ctx"), -1);  // a negative number is a value, left to the command to refuse
  EXPECT_TRUE(e.a.given("ctx"));
  Declared f;  // after --, an argument that looks like an option is a positional
  ASSERT_TRUE(f.a.parse({"--out", "o", "--text", "t", "--", "-model"}));
  EXPECT_EQ(f.a.positional(), std::vector<std::string>{"-model"});
}

TEST(CliArgs, UsageErrorsNameTheOptionInQuenchsWords) {
  EXPECT_EQ(usage_error({"--out", "o", "--text", "t"}), "missing argument MODEL_DIR");
  EXPECT_EQ(usage_error({"m", "--text", "t"}), "missing required option --out");
  EXPECT_EQ(usage_error({"m", "--out", "o", "--text", "t", "--bogus"}), "unknown option --bogus");
  EXPECT_EQ(usage_error({"m", "--out", "o", "--text", "t", "extra"}), "unexpected argument 'extra'");
  EXPECT_EQ(usage_error({"m", "--out", "o", "--text", "t", "--ctx"}), "option --ctx needs a value");
  EXPECT_EQ(usage_error({"m", "--out", "o", "--text", "t", "--ctx", "1", "--ctx", "2"}), "option --ctx given twice");
  EXPECT_EQ(usage_error({"m", "--out", "o", "--text", "t", "--json=1"}), "option --json takes no value");
  EXPECT_EQ(usage_error({"m", "--out", "o", "--text", "t", "--images", "i", "--labels", "l"}), "--text and --images exclude each other");
  EXPECT_EQ(usage_error({"m", "--out", "o", "--images", "i"}), "--images needs --labels");
  EXPECT_EQ(usage_error({"m", "--out", "o"}), "give exactly one of --text or --images");
  Declared d;
  ASSERT_TRUE(d.a.parse({"m", "--out", "o", "--text", "t", "--ctx", "12x"}));
  try {
    d.a.get_int("ctx");
    FAIL() << "12x read as an integer";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "option --ctx expects an integer, got '12x'");
  }
}

TEST(CliArgs, HelpIsWrittenFromTheDeclarations) {
  Declared d;
  testing::internal::CaptureStdout();
  EXPECT_FALSE(d.a.parse({"--help"}));  // help asked for: printed, nothing else checked
  const std::string help = testing::internal::GetCapturedStdout();
  EXPECT_NE(help.find("usage: quench-cli demo MODEL_DIR --out FILE [OPTIONS]"), std::string::npos) << help;
  EXPECT_NE(help.find("what the demo does"), std::string::npos);
  EXPECT_NE(help.find("--ctx N"), std::string::npos);
  EXPECT_NE(help.find("tokens per window (default 256)"), std::string::npos);
  EXPECT_NE(help.find("a setting to try (repeatable)"), std::string::npos);
  EXPECT_EQ(help, d.a.help());
}

TEST(CliArgs, AnUndeclaredNameIsABugNotAUsageError) {
  Declared d;
  ASSERT_TRUE(d.a.parse({"m", "--out", "o", "--text", "t"}));
  EXPECT_THROW(d.a.get("no-such-option"), std::logic_error);
}

}  // namespace
}  // namespace quench::cli
