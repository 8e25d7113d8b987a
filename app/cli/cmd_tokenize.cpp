#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "app/cli/format.h"
#include "core/export/gguf_import.h"
#include "core/io/safetensors.h"
#include "core/text/tokenizer.h"
#include "core/text/unicode.h"
#include "core/util/error.h"
#include "core/util/read_file.h"

namespace quench::cli {

namespace {
constexpr size_t kShown = 32;

std::string read_text(const std::string& path) { return read_file(path, kMaxTextBytes, "text"); }

// Control characters and backslashes escaped, so each token fits on its line.
std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (c == '\\') out += "\\\\";
    else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}
}  // namespace

int cmd_tokenize(const Argv& argv) {
  Args a("tokenize",
         "Tokenizes a UTF-8 text file with the model's tokenizer.json, giving the ids the Hugging Face tokenizers library\n"
         "gives. Without --count or --out: the first ids and their tokens, and the total.");
  a.positional("MODEL_DIR", "the model folder, or its tokenizer.json itself");
  a.option("text", "FILE", "the text to tokenize")->required();
  a.flag("count", "print the number of tokens and the speed");
  a.option("out", "IDS.safetensors", "write int64 'ids' [1, N] to a safetensors file");
  a.one_of({"count", "out"}, false);
  a.flag("add-special-tokens", "add what the tokenizer's post-processor adds (BOS, ...)");
  if (!a.parse(argv)) return 0;
  const std::string text_path = a.require("text");

  const std::string where = resolve_model_path(a.positional()[0]);
  const Tokenizer tok = std::filesystem::is_directory(where) ? Tokenizer::from_model_dir(where) : Tokenizer::from_file(where);
  const std::string text = read_text(text_path);

  if (const size_t bad = text::find_invalid_utf8(text); bad != std::string::npos)
    fail(text_path, ": not valid UTF-8 at byte ", bad);

  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<int32_t> ids = tok.encode(text, a.flag("add-special-tokens"));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  if (a.flag("count")) {
    std::cout << ids.size() << " tokens\n"
              << text_path << ": " << human_bytes(text.size()) << " in " << fixed(secs, 3) << " s, "
              << with_commas(static_cast<int64_t>(static_cast<double>(ids.size()) / std::max(secs, 1e-9))) << " tokens/s, "
              << fixed(static_cast<double>(text.size()) / 1e6 / std::max(secs, 1e-9), 1) << " MB/s\n";
    return 0;
  }
  if (auto out = a.get("out")) {
    at::Tensor t = at::empty({1, static_cast<int64_t>(ids.size())}, at::kLong);
    auto* p = t.data_ptr<int64_t>();
    for (size_t i = 0; i < ids.size(); ++i) p[i] = ids[i];
    save_safetensors(*out, {{"ids", t}}, {{"tokenizer", tok.source()}, {"text", text_path}});
    std::cout << "wrote " << with_commas(static_cast<int64_t>(ids.size())) << " ids to " << *out << "\n";
    return 0;
  }
  Table table({"#", "id", "token", "text"}, {true, true, false, false});
  for (size_t i = 0; i < ids.size() && i < kShown; ++i)
    table.add({std::to_string(i), std::to_string(ids[i]), printable(tok.id_to_token(ids[i]).value_or("?")), "\"" + printable(tok.decode({ids[i]})) + "\""});
  std::cout << table.str();
  if (ids.size() > kShown) std::cout << "... ";
  std::cout << with_commas(static_cast<int64_t>(ids.size())) << " tokens in total\n";
  return 0;
}

}  // namespace quench::cli
