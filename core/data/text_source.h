#pragma once
// Text corpora as users keep them: one file, a folder of .txt files, or JSON Lines with a
// "text" field. Returned as one UTF-8 string; documents are joined by a blank line.
#include <string>

namespace quench {

struct TextSource {
  std::string text;
  std::string kind;    // "file", "folder", "jsonl"
  int64_t files = 0;   // files read
  int64_t documents = 0;
};

// Throws naming the file (and line, for JSON Lines) when unreadable, malformed or empty.
TextSource read_text_source(const std::string& path);

}  // namespace quench
