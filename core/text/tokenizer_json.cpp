#include "core/text/tokenizer_json.h"

#include "core/util/error.h"

namespace quench::text {

namespace {

using json = nlohmann::json;

class Handler : public nlohmann::json_sax<json> {
 public:
  Handler(TokenizerJson& out, const std::string& name) : out_(out), name_(name) {}
  std::string error;

  bool null() override { return scalar(json(nullptr), "null"); }
  bool boolean(bool v) override { return scalar(json(v), "boolean"); }
  bool number_integer(number_integer_t v) override {
    if (mode_ == Mode::Vocab) return vocab_id(v);
    return scalar(json(v), "number");
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (mode_ == Mode::Vocab) {
      if (v > static_cast<number_unsigned_t>(INT64_MAX)) bad_vocab("out of range");
      return vocab_id(static_cast<int64_t>(v));
    }
    return scalar(json(v), "number");
  }
  bool number_float(number_float_t v, const string_t&) override { return scalar(json(v), "number"); }
  bool string(string_t& v) override {
    if (mode_ == Mode::Merges) {
      out_.bpe.merges.push_back({std::move(v), {}, MergeEntry::Line});
      return true;
    }
    if (mode_ == Mode::MergePair) {
      pair_.push_back(std::move(v));
      return true;
    }
    return scalar(json(std::move(v)), "string");
  }
  bool binary(binary_t&) override { return scalar(json(), "binary"); }

  bool key(string_t& k) override {
    if (mode_ == Mode::Vocab) token_ = std::move(k);
    else if (mode_ == Mode::Dom) key_ = std::move(k);
    return true;
  }

  bool start_object(std::size_t) override { return open(true); }
  bool start_array(std::size_t) override { return open(false); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) override {
    error = ex.what();
    return false;
  }

 private:
  // Dom: building the tree. Vocab/Merges: inside model.vocab / model.merges. MergePair: inside
  // one ["a", "b"] merge. Skip: inside something nested where it does not belong (counted).
  enum class Mode { Dom, Vocab, Merges, MergePair, Skip };

  [[noreturn]] void bad_vocab(const std::string& what) {
    fail(name_, ": model.vocab: token '", token_, "': id must be an integer (", what, ")");
  }
  bool vocab_id(int64_t v) {
    out_.bpe.vocab.emplace_back(std::move(token_), v);
    return true;
  }

  bool scalar(json v, const char* type) {
    switch (mode_) {
      case Mode::Dom: place(std::move(v)); return true;
      case Mode::Vocab: bad_vocab(std::string("got ") + type);
      case Mode::Merges: out_.bpe.merges.push_back({type, {}, MergeEntry::BadType}); return true;
      case Mode::MergePair: pair_bad_ = true; return true;
      case Mode::Skip: return true;
    }
    return true;
  }

  json* place(json v) {
    if (stack_.empty()) {
      out_.root = std::move(v);
      return &out_.root;
    }
    json& parent = *stack_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(v));
      return &parent.back();
    }
    json& slot = parent[key_];
    slot = std::move(v);
    return &slot;
  }

  bool at_model_key(const char* k) const {
    return stack_.size() == 2 && names_[1] == "model" && key_ == k && stack_.back()->is_object();
  }

  bool open(bool object) {
    switch (mode_) {
      case Mode::Dom:
        if (object && at_model_key("vocab")) {
          place(json::object());
          out_.bpe.has_vocab = true;
          mode_ = Mode::Vocab;
          return true;
        }
        if (!object && at_model_key("merges")) {
          place(json::array());
          out_.bpe.has_merges = true;
          mode_ = Mode::Merges;
          return true;
        }
        {
          const std::string name = !stack_.empty() && stack_.back()->is_object() ? key_ : std::string();
          stack_.push_back(place(object ? json::object() : json::array()));
          names_.push_back(name);
        }
        return true;
      case Mode::Vocab:
        bad_vocab(object ? "got an object" : "got an array");
      case Mode::Merges:
        if (object) {
          out_.bpe.merges.push_back({"object", {}, MergeEntry::BadType});
          enter_skip(Mode::Merges);
        } else {
          pair_.clear();
          pair_bad_ = false;
          mode_ = Mode::MergePair;
        }
        return true;
      case Mode::MergePair:
        pair_bad_ = true;
        enter_skip(Mode::MergePair);
        return true;
      case Mode::Skip:
        ++skip_depth_;
        return true;
    }
    return true;
  }

  bool close() {
    switch (mode_) {
      case Mode::Dom:
        stack_.pop_back();
        names_.pop_back();
        return true;
      case Mode::Vocab:
      case Mode::Merges:
        mode_ = Mode::Dom;
        return true;
      case Mode::MergePair:
        if (!pair_bad_ && pair_.size() == 2) out_.bpe.merges.push_back({std::move(pair_[0]), std::move(pair_[1]), MergeEntry::Pair});
        else out_.bpe.merges.push_back({std::to_string(pair_.size()), {}, MergeEntry::BadPair});
        mode_ = Mode::Merges;
        return true;
      case Mode::Skip:
        if (--skip_depth_ == 0) mode_ = skip_return_;
        return true;
    }
    return true;
  }

  void enter_skip(Mode back) {
    skip_return_ = back;
    skip_depth_ = 1;
    mode_ = Mode::Skip;
  }

  TokenizerJson& out_;
  const std::string& name_;
  Mode mode_ = Mode::Dom, skip_return_ = Mode::Dom;
  int skip_depth_ = 0;
  std::vector<json*> stack_;         // open containers of the tree
  std::vector<std::string> names_;   // the key each open container sits under ("" in arrays)
  std::string key_, token_;
  std::vector<std::string> pair_;
  bool pair_bad_ = false;
};

}  // namespace

TokenizerJson parse_tokenizer_json(std::string_view text, const std::string& name) {
  TokenizerJson out;
  Handler h(out, name);
  const bool ok = json::sax_parse(text.begin(), text.end(), &h);
  if (!ok) fail(name, ": invalid JSON: ", h.error.empty() ? std::string("parse failed") : h.error);
  return out;
}

}  // namespace quench::text
