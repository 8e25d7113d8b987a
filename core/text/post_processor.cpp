#include "core/text/post_processor.h"

#include <algorithm>
#include <map>
#include <sstream>

namespace quench::text {

namespace {

class Identity : public PostProcessor {
 public:
  std::vector<int32_t> process(std::vector<int32_t> ids) const override { return ids; }
};

// The "single" template: a list of special-token id runs and the sequence itself.
class Template : public PostProcessor {
 public:
  struct Piece {
    bool is_sequence;
    std::vector<int32_t> ids;  // of a special token
  };
  explicit Template(std::vector<Piece> pieces) : pieces_(std::move(pieces)) {}
  std::vector<int32_t> process(std::vector<int32_t> ids) const override {
    std::vector<int32_t> out;
    out.reserve(ids.size() + 8);
    for (const auto& p : pieces_) {
      if (p.is_sequence) out.insert(out.end(), ids.begin(), ids.end());
      else out.insert(out.end(), p.ids.begin(), p.ids.end());
    }
    return out;
  }
  int32_t max_id() const override {
    int32_t m = -1;
    for (const auto& p : pieces_)
      for (int32_t id : p.ids) m = std::max(m, id);
    return m;
  }

 private:
  std::vector<Piece> pieces_;
};

// cls + sequence + sep (Roberta and Bert agree for a single sequence).
class Wrap : public PostProcessor {
 public:
  Wrap(int32_t cls, int32_t sep) : cls_(cls), sep_(sep) {}
  std::vector<int32_t> process(std::vector<int32_t> ids) const override {
    ids.insert(ids.begin(), cls_);
    ids.push_back(sep_);
    return ids;
  }
  int32_t max_id() const override { return std::max(cls_, sep_); }

 private:
  int32_t cls_, sep_;
};

class Sequence : public PostProcessor {
 public:
  explicit Sequence(std::vector<std::unique_ptr<const PostProcessor>> parts) : parts_(std::move(parts)) {}
  std::vector<int32_t> process(std::vector<int32_t> ids) const override {
    for (const auto& p : parts_) ids = p->process(std::move(ids));
    return ids;
  }
  int32_t max_id() const override {
    int32_t m = -1;
    for (const auto& p : parts_) m = std::max(m, p->max_id());
    return m;
  }

 private:
  std::vector<std::unique_ptr<const PostProcessor>> parts_;
};

int32_t to_id(const JsonNode& n) {
  const int64_t v = n.integer();
  if (v < 0 || v > INT32_MAX) n.fail("id out of range");
  return static_cast<int32_t>(v);
}

std::unique_ptr<const PostProcessor> load_template(const JsonNode& n) {
  // special_tokens: {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}, ...}
  std::map<std::string, std::vector<int32_t>> specials;
  if (n.has("special_tokens")) {
    const JsonNode st = n.at("special_tokens");
    st.expect_object();
    for (const auto& [key, v] : st.json().items()) {
      const JsonNode entry = st.at(key);
      const JsonNode ids = entry.at("ids");
      std::vector<int32_t> list;
      for (size_t i = 0; i < ids.size(); ++i) list.push_back(to_id(ids.at(i)));
      specials[entry.str("id", key)] = list;
    }
  }
  const JsonNode single = n.at("single");
  std::vector<Template::Piece> pieces;
  auto special = [&](const std::string& id, const JsonNode& where) {
    auto it = specials.find(id);
    if (it == specials.end()) where.fail("special token '" + id + "' is not in special_tokens");
    pieces.push_back({false, it->second});
  };
  if (single.json().is_string()) {
    // The short form "<s> $A </s>" ("$A:1", "$0", "$B" select sequences and type ids).
    std::istringstream words(single.str());
    for (std::string w; words >> w;) {
      const std::string name = w.substr(0, w.find(':'));
      if (name == "$A" || name == "$" || name == "$0") pieces.push_back({true, {}});
      else if (name == "$B" || name == "$1") continue;  // the pair's second sequence: absent for a single text
      else special(name, single);
    }
  } else {
    for (size_t i = 0; i < single.size(); ++i) {
      const JsonNode p = single.at(i);
      if (p.has("Sequence")) {
        if (p.at("Sequence").str("id", "A") == "A") pieces.push_back({true, {}});
      } else if (p.has("SpecialToken")) {
        special(p.at("SpecialToken").str("id"), p.at("SpecialToken"));
      } else {
        p.fail("expected {\"Sequence\": ...} or {\"SpecialToken\": ...}");
      }
    }
  }
  return std::make_unique<Template>(std::move(pieces));
}

}  // namespace

std::unique_ptr<const PostProcessor> load_post_processor(const JsonNode& n) {
  const std::string type = n.type();
  if (type == "TemplateProcessing") return load_template(n);
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    // "cls": ["<s>", 0], "sep": ["</s>", 2]
    return std::make_unique<Wrap>(to_id(n.at("cls").at(1)), to_id(n.at("sep").at(1)));
  }
  if (type == "ByteLevel") return std::make_unique<Identity>();
  if (type == "Sequence") {
    const JsonNode list = n.at("processors");
    std::vector<std::unique_ptr<const PostProcessor>> parts;
    for (size_t i = 0; i < list.size(); ++i) parts.push_back(load_post_processor(list.at(i)));
    return std::make_unique<Sequence>(std::move(parts));
  }
  n.fail("unsupported post_processor type '" + type +
         "' (Quench supports TemplateProcessing, RobertaProcessing, BertProcessing, ByteLevel, Sequence)");
}

}  // namespace quench::text
