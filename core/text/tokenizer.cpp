#include "core/text/tokenizer.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/text/added_tokens.h"
#include "core/text/bpe.h"
#include "core/text/decoder.h"
#include "core/text/normalizer.h"
#include "core/text/post_processor.h"
#include "core/text/pretokenizer.h"
#include "core/text/tokenizer_json.h"
#include "core/text/unicode.h"
#include "core/util/error.h"
#include "core/util/read_file.h"

namespace quench {

using namespace text;

struct Tokenizer::Impl {
  std::string source;
  std::unique_ptr<const Normalizer> normalizer;
  std::unique_ptr<const PreTokenizer> pre_tokenizer;
  std::unique_ptr<const Bpe> model;
  std::unique_ptr<const PostProcessor> post_processor;
  std::unique_ptr<const Decoder> decoder;
  AddedTokens added;
};

namespace {

void load_added_tokens(const JsonNode& list, Tokenizer::Impl& t) {
  // Ids as the library assigns them: the model's id when the content is in the vocabulary,
  // else the next free id after the model's vocabulary, in file order.
  auto next_id = static_cast<int64_t>(t.model->vocab_size());
  auto normalize = [&t](const std::string& s) { return t.normalizer ? t.normalizer->normalize(s) : s; };
  for (size_t i = 0; i < list.size(); ++i) {
    const JsonNode e = list.at(i);
    AddedToken a;
    a.content = e.str("content");
    a.single_word = e.boolean("single_word", false);
    a.lstrip = e.boolean("lstrip", false);
    a.rstrip = e.boolean("rstrip", false);
    a.special = e.boolean("special", false);
    a.normalized = e.boolean("normalized", !a.special);
    if (find_invalid_utf8(a.content) != std::string::npos) e.fail("content is not valid UTF-8");
    if (a.content.empty() || t.added.find_content(a.content)) continue;
    if (auto id = t.model->token_to_id(a.content)) a.id = *id;
    else a.id = static_cast<int32_t>(next_id++);
    t.added.add(std::move(a), normalize);
  }
}

std::shared_ptr<const Tokenizer::Impl> load(const TokenizerJson& parsed, const std::string& name) {
  const JsonNode top(parsed.root, name);
  top.expect_object();
  auto t = std::make_shared<Tokenizer::Impl>();
  t->source = name;
  if (top.has("version") && top.str("version") != "1.0") top.at("version").fail("unknown tokenizer.json version '" + top.str("version") + "'");

  const JsonNode model = top.at("model");
  model.expect_object();
  const std::string type = model.has("type") ? model.type() : (model.has("merges") ? "BPE" : "");
  if (type.empty()) model.fail("no 'type' and no 'merges': cannot tell what model this is");
  if (type != "BPE")
    model.at("type").fail("unsupported model type '" + type + "' (Quench supports BPE tokenizers; WordPiece, Unigram and WordLevel are not implemented)");

  if (top.has("normalizer")) t->normalizer = load_normalizer(top.at("normalizer"));
  bool raw_bytes = false;
  if (top.has("pre_tokenizer")) t->pre_tokenizer = load_pre_tokenizer(top.at("pre_tokenizer"), &raw_bytes);
  t->model = std::make_unique<Bpe>(model, parsed.bpe, raw_bytes);
  if (top.has("post_processor")) t->post_processor = load_post_processor(top.at("post_processor"));
  if (top.has("decoder")) t->decoder = load_decoder(top.at("decoder"));
  if (top.has("added_tokens")) load_added_tokens(top.at("added_tokens"), *t);
  return t;
}

}  // namespace

Tokenizer Tokenizer::from_json(std::string_view json, const std::string& name) {
  return Tokenizer(load(parse_tokenizer_json(json, name), name));
}

Tokenizer Tokenizer::from_file(const std::string& path) {
  return from_json(read_file(path, kMaxTokenizerBytes, "tokenizer"), path);
}

Tokenizer Tokenizer::from_model_dir(const std::string& dir) {
  const std::string path = dir + "/tokenizer.json";
  // exists() only stats: opening a FIFO named tokenizer.json here would block; from_file refuses it.
  QUENCH_CHECK(std::filesystem::exists(path), dir, ": no tokenizer.json (Quench reads the Hugging Face tokenizers format; tokenizer.model, "
               "vocab.json + merges.txt alone are not supported)");
  return from_file(path);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  return encode(text, add_special_tokens, nullptr);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens, const EncodeProgress& progress) const {
  const Impl& t = *impl_;
  if (const size_t bad = find_invalid_utf8(text); bad != std::string_view::npos)
    fail("text is not valid UTF-8 at byte ", bad);
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 8);

  constexpr size_t kReportEvery = size_t{1} << 20;
  size_t done = 0, next_report = kReportEvery;
  const PieceSink to_model = [&](std::string_view piece, bool) {
    t.model->encode(piece, ids);
    if (progress && (done += piece.size()) >= next_report) {
      next_report = done + kReportEvery;
      if (!progress(std::min(done, text.size()), text.size())) throw Cancelled();
    }
  };
  auto pre_tokenize = [&](std::string_view s, bool at_origin) {
    if (t.pre_tokenizer) t.pre_tokenizer->split(s, at_origin, to_model);
    else to_model(s, at_origin);
  };
  t.added.split(text, AddedTokens::Set::Raw, [&](std::string_view seg, std::optional<int32_t> id) {
    if (id) {
      ids.push_back(*id);
      return;
    }
    const bool seg_at_origin = seg.data() == text.data();
    std::string normalized;
    std::string_view s = seg;
    if (t.normalizer) {
      normalized = t.normalizer->normalize(std::string(seg));
      s = normalized;
    }
    t.added.split(s, AddedTokens::Set::Normalized, [&](std::string_view part, std::optional<int32_t> id2) {
      if (id2) ids.push_back(*id2);
      else pre_tokenize(part, seg_at_origin && part.data() == s.data());
    });
  });
  if (progress && !progress(text.size(), text.size())) throw Cancelled();
  if (add_special_tokens && t.post_processor) ids = t.post_processor->process(std::move(ids));
  return ids;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  const Impl& t = *impl_;
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    const std::string* tok = t.added.decode_form(id);
    if (!tok) tok = t.model->id_to_token(id);
    if (!tok) continue;
    if (skip_special_tokens && t.added.is_special_content(*tok)) continue;
    tokens.push_back(*tok);
  }
  if (t.decoder) {
    t.decoder->decode_chain(tokens);
    std::string out;
    for (const auto& s : tokens) out += s;
    return out;
  }
  std::string out;
  for (size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
  return out;
}

int64_t Tokenizer::vocab_size() const {
  int64_t n = static_cast<int64_t>(impl_->model->vocab_size());
  for (const auto& a : impl_->added.tokens())
    if (!impl_->model->token_to_id(a.content)) ++n;
  return n;
}

int32_t Tokenizer::max_id() const {
  int32_t m = impl_->model->max_id();
  for (const auto& a : impl_->added.tokens()) m = std::max(m, a.id);
  if (impl_->post_processor) m = std::max(m, impl_->post_processor->max_id());
  return m;
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  if (auto id = impl_->added.find_content(token)) return id;
  return impl_->model->token_to_id(token);
}

std::optional<std::string> Tokenizer::id_to_token(int32_t id) const {
  if (const std::string* s = impl_->added.decode_form(id)) return *s;
  if (const std::string* s = impl_->model->id_to_token(id)) return *s;
  return std::nullopt;
}

bool Tokenizer::is_special(int32_t id) const {
  const auto* a = impl_->added.find_id(id);
  return a && a->special;
}

const std::string& Tokenizer::source() const { return impl_->source; }

}  // namespace quench
