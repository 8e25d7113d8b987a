#include "core/text/normalizer.h"

#include <vector>

#include "core/text/pattern.h"
#include "core/text/unicode.h"
#include "core/text/unicode_norm.h"

namespace quench::text {

namespace {

class Nfc : public Normalizer {
 public:
  std::string normalize(std::string s) const override { return may_change_under_nfc(s) ? nfc(s) : s; }
};

class Nfd : public Normalizer {
 public:
  std::string normalize(std::string s) const override { return nfd(s); }
};

class Lowercase : public Normalizer {
 public:
  std::string normalize(std::string s) const override { return to_lower(s); }
};

class Prepend : public Normalizer {
 public:
  explicit Prepend(std::string p) : prepend_(std::move(p)) {}
  std::string normalize(std::string s) const override { return s.empty() ? s : prepend_ + s; }

 private:
  std::string prepend_;
};

// Replace every match of a pattern (a literal or a regex) by a fixed string.
class Replace : public Normalizer {
 public:
  Replace(Pattern p, std::string content) : pattern_(std::move(p)), content_(std::move(content)) {}
  std::string normalize(std::string s) const override { return pattern_.replace_all(s, content_); }

 private:
  Pattern pattern_;
  std::string content_;
};

// Strips White_Space (Rust's char::is_whitespace) from either end.
class Strip : public Normalizer {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}
  std::string normalize(std::string s) const override {
    size_t b = 0, e = s.size();
    if (left_) {
      while (b < e) {
        size_t len = 0;
        if (!is_space(decode_utf8(s.data() + b, &len))) break;
        b += len;
      }
    }
    if (right_) {
      while (e > b) {
        size_t k = e - 1;
        while (k > b && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
        size_t len = 0;
        if (!is_space(decode_utf8(s.data() + k, &len))) break;
        e = k;
      }
    }
    return s.substr(b, e - b);
  }

 private:
  bool left_, right_;
};

class Sequence : public Normalizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<const Normalizer>> parts) : parts_(std::move(parts)) {}
  std::string normalize(std::string s) const override {
    for (const auto& p : parts_) s = p->normalize(std::move(s));
    return s;
  }

 private:
  std::vector<std::unique_ptr<const Normalizer>> parts_;
};

}  // namespace

std::unique_ptr<const Normalizer> load_normalizer(const JsonNode& n) {
  const std::string type = n.type();
  if (type == "NFC") return std::make_unique<Nfc>();
  if (type == "NFD") return std::make_unique<Nfd>();
  if (type == "Lowercase") return std::make_unique<Lowercase>();
  if (type == "Prepend") return std::make_unique<Prepend>(n.str("prepend"));
  if (type == "Replace") return std::make_unique<Replace>(load_pattern(n.at("pattern")), n.str("content"));
  if (type == "Strip") return std::make_unique<Strip>(n.boolean("strip_left", true), n.boolean("strip_right", true));
  if (type == "Sequence") {
    const JsonNode list = n.at("normalizers");
    std::vector<std::unique_ptr<const Normalizer>> parts;
    for (size_t i = 0; i < list.size(); ++i) parts.push_back(load_normalizer(list.at(i)));
    return std::make_unique<Sequence>(std::move(parts));
  }
  n.fail("unsupported normalizer type '" + type + "' (Quench supports NFC, NFD, Lowercase, Prepend, Replace, Strip, Sequence)");
}

}  // namespace quench::text
