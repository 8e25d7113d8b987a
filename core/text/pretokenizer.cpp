#include "core/text/pretokenizer.h"

#include <algorithm>
#include <string>
#include <vector>

#include "core/text/byte_level.h"
#include "core/text/pattern.h"
#include "core/text/unicode.h"

namespace quench::text {

namespace {

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

Behavior parse_behavior(const JsonNode& n) {
  const std::string b = n.str();
  if (b == "Removed") return Behavior::Removed;
  if (b == "Isolated") return Behavior::Isolated;
  if (b == "MergedWithPrevious") return Behavior::MergedWithPrevious;
  if (b == "MergedWithNext") return Behavior::MergedWithNext;
  if (b == "Contiguous") return Behavior::Contiguous;
  n.fail("unknown split behavior '" + b + "'");
}

struct Chunk {
  size_t b, e;
  bool match;
};

// The tokenizers library's NormalizedString::split: chunks alternate between matches and the
// text between them; the behavior decides what happens to the matches.
void emit_split(std::string_view s, bool at_origin, std::vector<Chunk> chunks, Behavior behavior, const PieceSink& sink) {
  std::vector<Chunk> out;  // match = "remove"
  out.reserve(chunks.size());
  switch (behavior) {
    case Behavior::Isolated:
      for (auto c : chunks) out.push_back({c.b, c.e, false});
      break;
    case Behavior::Removed:
      out = chunks;
      break;
    case Behavior::Contiguous: {
      bool prev = false;
      for (auto c : chunks) {
        if (c.match == prev && !out.empty()) out.back().e = c.e;
        else out.push_back({c.b, c.e, false});
        prev = c.match;
      }
      break;
    }
    case Behavior::MergedWithPrevious: {
      bool prev = false;
      for (auto c : chunks) {
        if (c.match && !prev && !out.empty()) out.back().e = c.e;
        else out.push_back({c.b, c.e, false});
        prev = c.match;
      }
      break;
    }
    case Behavior::MergedWithNext: {
      bool prev = false;
      for (auto it = chunks.rbegin(); it != chunks.rend(); ++it) {
        if (it->match && !prev && !out.empty()) out.back().b = it->b;
        else out.push_back({it->b, it->e, false});
        prev = it->match;
      }
      std::reverse(out.begin(), out.end());
      break;
    }
  }
  for (const auto& c : out)
    if (!c.match && c.e > c.b) sink(s.substr(c.b, c.e - c.b), at_origin && c.b == 0);
}

std::vector<Chunk> find_chunks(const Pattern& p, std::string_view s, bool invert) {
  std::vector<Chunk> chunks;
  size_t prev = 0;
  p.for_each_match(s, [&](size_t b, size_t e) {
    if (prev != b) chunks.push_back({prev, b, invert});
    chunks.push_back({b, e, !invert});
    prev = e;
  });
  if (prev != s.size()) chunks.push_back({prev, s.size(), invert});
  return chunks;
}

class Split : public PreTokenizer {
 public:
  Split(Pattern p, Behavior b, bool invert) : pattern_(std::move(p)), behavior_(b), invert_(invert) {}
  void split(std::string_view s, bool at_origin, const PieceSink& sink) const override {
    if (behavior_ == Behavior::Isolated) {
      // Every chunk is kept as it is: stream them without building the chunk list.
      size_t prev = 0;
      pattern_.for_each_match(s, [&](size_t b, size_t e) {
        if (prev != b) sink(s.substr(prev, b - prev), at_origin && prev == 0);
        if (e > b) sink(s.substr(b, e - b), at_origin && b == 0);
        prev = e;
      });
      if (prev != s.size()) sink(s.substr(prev), at_origin && prev == 0);
      return;
    }
    emit_split(s, at_origin, find_chunks(pattern_, s, invert_), behavior_, sink);
  }

 private:
  Pattern pattern_;
  Behavior behavior_;
  bool invert_;
};

class ByteLevel : public PreTokenizer {
 public:
  ByteLevel(bool add_prefix_space, bool use_regex, bool raw_output)
      : add_prefix_space_(add_prefix_space), use_regex_(use_regex), raw_output_(raw_output) {}
  void split(std::string_view s, bool at_origin, const PieceSink& sink) const override {
    std::string prefixed;
    if (add_prefix_space_ && s.front() != ' ') {
      prefixed.reserve(s.size() + 1);
      prefixed = " ";
      prefixed += s;
      s = prefixed;
    }
    if (!use_regex_) {
      emit(s, at_origin, sink);
      return;
    }
    for (size_t i = 0; i < s.size();) {
      const size_t e = split_match_end(SplitScheme::Gpt2, s, i);
      emit(s.substr(i, e - i), at_origin && i == 0, sink);
      i = e;
    }
  }

 private:
  void emit(std::string_view piece, bool at_origin, const PieceSink& sink) const {
    if (raw_output_) sink(piece, at_origin);
    else sink(bytes_to_chars(piece), at_origin);
  }
  bool add_prefix_space_, use_regex_, raw_output_;
};

class Metaspace : public PreTokenizer {
 public:
  enum class Prepend { Always, First, Never };
  Metaspace(std::string replacement, Prepend prepend, bool split)
      : rep_(std::move(replacement)), prepend_(prepend), split_(split), rep_pattern_(Pattern::literal(rep_)) {}
  void split(std::string_view s, bool at_origin, const PieceSink& sink) const override {
    std::string t;
    t.reserve(s.size() + rep_.size());
    const bool starts_with_rep = s.front() == ' ' || s.substr(0, rep_.size()) == rep_;
    if (!starts_with_rep && (prepend_ == Prepend::Always || (prepend_ == Prepend::First && at_origin))) t += rep_;
    for (char c : s) {
      if (c == ' ') t += rep_;
      else t.push_back(c);
    }
    if (!split_) {
      sink(t, at_origin);
      return;
    }
    emit_split(t, at_origin, find_chunks(rep_pattern_, t, false), Behavior::MergedWithNext, sink);
  }

 private:
  std::string rep_;
  Prepend prepend_;
  bool split_;
  Pattern rep_pattern_;
};

class Sequence : public PreTokenizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<const PreTokenizer>> parts) : parts_(std::move(parts)) {}
  void split(std::string_view s, bool at_origin, const PieceSink& sink) const override { run(0, s, at_origin, sink); }

 private:
  struct Level {
    const Sequence* self;
    size_t next;
    const PieceSink* sink;
  };
  void run(size_t k, std::string_view s, bool at_origin, const PieceSink& sink) const {
    if (k == parts_.size()) {
      sink(s, at_origin);
      return;
    }
    // One pointer captured: std::function keeps it inline instead of allocating per piece.
    const Level level{this, k + 1, &sink};
    const Level* lp = &level;
    parts_[k]->split(s, at_origin, [lp](std::string_view p, bool o) { lp->self->run(lp->next, p, o, *lp->sink); });
  }
  std::vector<std::unique_ptr<const PreTokenizer>> parts_;
};

std::unique_ptr<const PreTokenizer> load(const JsonNode& n, bool last, bool* raw_bytes) {
  const std::string type = n.type();
  if (type == "ByteLevel") {
    if (last) *raw_bytes = true;
    return std::make_unique<ByteLevel>(n.boolean("add_prefix_space", true), n.boolean("use_regex", true), last);
  }
  if (type == "Split") {
    return std::make_unique<Split>(load_pattern(n.at("pattern")), parse_behavior(n.at("behavior")), n.boolean("invert", false));
  }
  if (type == "Metaspace") {
    const std::string rep = n.str("replacement", "\xE2\x96\x81");
    if (count_chars(rep) != 1) n.at("replacement").fail("expected a single character");
    Metaspace::Prepend prepend = Metaspace::Prepend::Always;
    if (n.has("prepend_scheme")) {
      const std::string p = n.str("prepend_scheme");
      if (p == "always") prepend = Metaspace::Prepend::Always;
      else if (p == "first") prepend = Metaspace::Prepend::First;
      else if (p == "never") prepend = Metaspace::Prepend::Never;
      else n.at("prepend_scheme").fail("expected first, always or never, got '" + p + "'");
    }
    // Files from before prepend_scheme existed say add_prefix_space: false for "never".
    if (n.has("add_prefix_space") && !n.boolean("add_prefix_space", true)) {
      if (n.has("prepend_scheme") && prepend != Metaspace::Prepend::Never)
        n.fail("add_prefix_space does not match declared prepend_scheme");
      prepend = Metaspace::Prepend::Never;
    }
    return std::make_unique<Metaspace>(rep, prepend, n.boolean("split", true));
  }
  if (type == "Sequence") {
    const JsonNode list = n.at("pretokenizers");
    std::vector<std::unique_ptr<const PreTokenizer>> parts;
    for (size_t i = 0; i < list.size(); ++i) parts.push_back(load(list.at(i), last && i + 1 == list.size(), raw_bytes));
    return std::make_unique<Sequence>(std::move(parts));
  }
  n.fail("unsupported pre_tokenizer type '" + type + "' (Quench supports ByteLevel, Split, Metaspace, Sequence)");
}

}  // namespace

std::unique_ptr<const PreTokenizer> load_pre_tokenizer(const JsonNode& n, bool* raw_bytes) {
  *raw_bytes = false;
  return load(n, true, raw_bytes);
}

}  // namespace quench::text
