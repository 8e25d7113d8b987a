#include "core/data/text_source.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "core/text/unicode.h"
#include "core/util/error.h"
#include "core/util/read_file.h"

namespace fs = std::filesystem;

namespace quench {

namespace {
// Checked here, where the file is known: the tokenizer sees only the joined text.
std::string slurp(const fs::path& p) {
  std::string text = read_file(p.string(), kMaxTextBytes, "text");
  if (const size_t bad = text::find_invalid_utf8(text); bad != std::string::npos)
    fail(p.string(), ": not valid UTF-8 at byte ", bad, " (Quench reads text files as UTF-8)");
  return text;
}

bool is_blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
}

TextSource read_jsonl(const fs::path& p) {
  std::istringstream in(slurp(p));
  TextSource src;
  src.kind = "jsonl";
  src.files = 1;
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (is_blank(line)) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      fail(p.string(), ":", lineno, ": not valid JSON: ", e.what());
    }
    QUENCH_CHECK(j.is_object() && j.contains("text"), p.string(), ":", lineno, ": no \"text\" field");
    QUENCH_CHECK(j["text"].is_string(), p.string(), ":", lineno, ": \"text\" is not a string");
    if (src.documents++) src.text += "\n\n";
    src.text += j["text"].get<std::string>();
  }
  return src;
}
}  // namespace

TextSource read_text_source(const std::string& path) {
  const fs::path p(path);
  std::error_code ec;
  TextSource src;
  if (fs::is_directory(p, ec)) {
    std::vector<fs::path> files;
    uint64_t total = 0;
    for (const auto& e : fs::directory_iterator(p))
      if (e.is_regular_file() && e.path().extension() == ".txt") {
        files.push_back(e.path());
        total += e.file_size();
      }
    QUENCH_CHECK(total <= kMaxTextBytes, path, ": the folder's .txt files hold ", total, " bytes; Quench reads at most ",
                 kMaxTextBytes, " bytes of text");
    QUENCH_CHECK(!files.empty(), path, ": folder has no .txt files");
    std::sort(files.begin(), files.end());
    src.kind = "folder";
    for (const auto& f : files) {
      if (src.files++) src.text += "\n\n";
      src.text += slurp(f);
      ++src.documents;
    }
  } else {
    QUENCH_CHECK(fs::exists(p, ec), path, ": no such file or folder");
    if (p.extension() == ".jsonl") {
      src = read_jsonl(p);
    } else {
      src.kind = "file";
      src.files = 1;
      src.documents = 1;
      src.text = slurp(p);
    }
  }
  QUENCH_CHECK(!is_blank(src.text), path, ": no text (empty or whitespace only)");
  return src;
}

}  // namespace quench
