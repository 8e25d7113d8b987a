#include "core/text/decoder.h"

#include "core/text/byte_level.h"
#include "core/text/pattern.h"
#include "core/text/unicode.h"

namespace quench::text {

namespace {

// Tokens spelled in byte characters become their bytes (others stay as they are), then the
// whole byte string is read as UTF-8 with invalid sequences replaced by U+FFFD.
class ByteLevelDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const auto& t : tokens) {
      const size_t mark = bytes.size();
      if (!chars_to_bytes(t, bytes)) {
        bytes.resize(mark);
        bytes += t;
      }
    }
    tokens.assign(1, from_utf8_lossy(bytes));
  }
};

// The replacement character becomes a space, except in the first token when a prefix was
// prepended at encoding time (it is dropped there).
class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(std::string rep, bool prepended) : rep_(std::move(rep)), prepended_(prepended) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string out;
      const std::string& t = tokens[i];
      for (size_t k = 0; k < t.size();) {
        if (t.compare(k, rep_.size(), rep_) == 0) {
          if (!(i == 0 && prepended_)) out += ' ';
          k += rep_.size();
        } else {
          out += t[k++];
        }
      }
      tokens[i] = std::move(out);
    }
  }

 private:
  std::string rep_;
  bool prepended_;
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(Pattern p, std::string content) : pattern_(std::move(p)), content_(std::move(content)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) t = pattern_.replace_all(t, content_);
  }

 private:
  Pattern pattern_;
  std::string content_;
};

// Runs of "<0xHH>" tokens become the string they spell, or one U+FFFD per byte when that is
// not valid UTF-8.
class ByteFallbackDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    std::string run;
    size_t run_len = 0;
    auto flush = [&]() {
      if (!run_len) return;
      if (find_invalid_utf8(run) == std::string::npos) {
        out.push_back(run);
      } else {
        for (size_t k = 0; k < run_len; ++k) out.emplace_back("\xEF\xBF\xBD");
      }
      run.clear();
      run_len = 0;
    };
    for (auto& t : tokens) {
      int byte = -1;
      if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>') {
        auto hex = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1; };
        const int hi = hex(t[3]), lo = hex(t[4]);
        if (hi >= 0 && lo >= 0) byte = hi * 16 + lo;
      }
      if (byte >= 0) {
        run.push_back(static_cast<char>(byte));
        ++run_len;
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens = std::move(out);
  }
};

class FuseDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string all;
    for (const auto& t : tokens) all += t;
    tokens.assign(1, all);
  }
};

// Removes up to `start` leading and `stop` trailing copies of one character from each token.
class StripDecoder : public Decoder {
 public:
  StripDecoder(std::string content, size_t start, size_t stop) : content_(std::move(content)), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) {
      size_t b = 0, e = t.size();
      for (size_t k = 0; k < start_ && t.compare(b, content_.size(), content_) == 0 && b < e; ++k) b += content_.size();
      for (size_t k = 0; k < stop_ && e >= b + content_.size() && t.compare(e - content_.size(), content_.size(), content_) == 0; ++k)
        e -= content_.size();
      t = t.substr(b, e - b);
    }
  }

 private:
  std::string content_;
  size_t start_, stop_;
};

// The suffix that ends words becomes a space, except in the last token where it is dropped.
class BpeDecoder : public Decoder {
 public:
  explicit BpeDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    if (suffix_.empty()) return;
    for (size_t i = 0; i < tokens.size(); ++i) {
      const std::string rep = i + 1 == tokens.size() ? "" : " ";
      std::string out;
      const std::string& t = tokens[i];
      size_t last = 0;
      for (size_t k = t.find(suffix_); k != std::string::npos; k = t.find(suffix_, k + suffix_.size())) {
        out.append(t, last, k - last);
        out += rep;
        last = k + suffix_.size();
      }
      out.append(t, last, std::string::npos);
      tokens[i] = std::move(out);
    }
  }

 private:
  std::string suffix_;
};

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<const Decoder>> parts) : parts_(std::move(parts)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& p : parts_) p->decode_chain(tokens);
  }

 private:
  std::vector<std::unique_ptr<const Decoder>> parts_;
};

size_t non_negative(const JsonNode& n, const std::string& key) {
  const int64_t v = n.integer(key);
  if (v < 0) n.at(key).fail("must not be negative");
  return static_cast<size_t>(v);
}

}  // namespace

std::unique_ptr<const Decoder> load_decoder(const JsonNode& n) {
  const std::string type = n.type();
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "Metaspace") {
    std::string scheme = n.str("prepend_scheme", "always");
    if (n.has("add_prefix_space") && !n.boolean("add_prefix_space", true)) scheme = "never";
    return std::make_unique<MetaspaceDecoder>(n.str("replacement", "\xE2\x96\x81"), scheme != "never");
  }
  if (type == "Replace") return std::make_unique<ReplaceDecoder>(load_pattern(n.at("pattern")), n.str("content"));
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip") return std::make_unique<StripDecoder>(n.str("content"), non_negative(n, "start"), non_negative(n, "stop"));
  if (type == "BPEDecoder") return std::make_unique<BpeDecoder>(n.str("suffix", "</w>"));
  if (type == "Sequence") {
    const JsonNode list = n.at("decoders");
    std::vector<std::unique_ptr<const Decoder>> parts;
    for (size_t i = 0; i < list.size(); ++i) parts.push_back(load_decoder(list.at(i)));
    return std::make_unique<SequenceDecoder>(std::move(parts));
  }
  n.fail("unsupported decoder type '" + type +
         "' (Quench supports ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, BPEDecoder, Sequence)");
}

}  // namespace quench::text
