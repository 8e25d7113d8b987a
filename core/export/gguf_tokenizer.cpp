#include "core/export/gguf_tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <vector>

#include "core/text/unicode.h"
#include "core/util/error.h"
#include "core/util/read_file.h"

namespace quench {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::string kSpace = "\xE2\x96\x81";  // "▁", SentencePiece's space

// Longest piece the import makes merges for (see tokenizer_json_from_gguf).
constexpr size_t kMaxMergedPieceBytes = 64;

// llama.cpp's token types
constexpr int32_t kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6;

// GPT-2's byte-level alphabet: the printable character each byte is written as in a vocabulary.
std::string byte_char(int b) {
  const auto printable = [](int x) { return (x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255); };
  int cp = b;
  if (!printable(b)) {
    int n = 0;
    for (int x = 0; x < b; ++x) n += !printable(x);
    cp = 256 + n;
  }
  std::string s;
  if (cp < 0x80) s += static_cast<char>(cp);
  else {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

// The pre-tokenizer llama.cpp names by tokenizer.ggml.pre; nullopt for one Quench cannot rebuild.
std::optional<json> pre_tokenizer(const std::string& pre) {
  if (pre == "gpt-2" || pre == "default" || pre.empty())
    return json{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  std::string pattern;
  if (pre == "llama-bpe" || pre == "llama3" || pre == "smaug-bpe")
    pattern = R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  else if (pre == "qwen2")
    pattern = R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  else
    return std::nullopt;
  return json{{"type", "Sequence"},
              {"pretokenizers",
               json::array({json{{"type", "Split"}, {"pattern", json{{"Regex", pattern}}}, {"behavior", "Isolated"}, {"invert", false}},
                            json{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}}})}};
}

// What a byte-level pre-tokenizer does to text: its Split regexes in order, then ByteLevel's own
// GPT-2 regex or not. nullopt when it holds a step llama.cpp has no counterpart for.
struct Splitting {
  std::vector<std::string> regexes;
  bool byte_level = false, prefix_space = false, gpt2_regex = false;
  bool operator==(const Splitting& o) const {
    return regexes == o.regexes && byte_level == o.byte_level && prefix_space == o.prefix_space && gpt2_regex == o.gpt2_regex;
  }
};

std::optional<Splitting> splitting(const json& pt) {
  Splitting s;
  // Nested Sequences are walked by reference, 16 deep at most (a hostile file could nest thousands).
  std::function<bool(const json&, int)> walk = [&](const json& n, int depth) {
    if (n.is_null()) return true;
    if (!n.is_object() || depth > 16) return false;
    const auto type = n.find("type");
    if (type == n.end() || !type->is_string()) return false;
    if (*type == "Sequence") {
      const auto items = n.find("pretokenizers");
      if (items == n.end() || !items->is_array()) return false;
      for (const auto& c : *items)
        if (!walk(c, depth + 1)) return false;
      return true;
    }
    if (*type == "Split") {
      const auto p = n.find("pattern");
      if (p == n.end() || !p->is_object() || !p->contains("Regex") || !(*p)["Regex"].is_string() ||
          n.value("behavior", std::string()) != "Isolated" || n.value("invert", false))
        return false;
      s.regexes.push_back((*p)["Regex"].get<std::string>());
      return true;
    }
    if (*type == "ByteLevel") {
      s.byte_level = true;
      s.prefix_space = n.value("add_prefix_space", true);
      s.gpt2_regex = n.value("use_regex", true);
      return true;
    }
    return false;
  };
  try {
    if (!walk(pt, 0)) return std::nullopt;
  } catch (const json::exception&) {  // a field of the wrong type
    return std::nullopt;
  }
  return s;
}

// How a tokenizer.json is written as GGUF, or why it cannot be.
struct Style {
  std::string model;  // "gpt2" or "llama"
  std::string pre;    // gpt2: llama.cpp's pre-tokenizer name
  bool space_prefix = false;  // llama: "▁" before the text
  std::string problem;
};

// Each merge is "a b" or ["a", "b"]; "" when it is, else what is wrong.
std::string merge_problem(const json& mg) {
  if (mg.is_string()) return mg.get<std::string>().find(' ') == std::string::npos ? "a string without a space" : "";
  if (mg.is_array() && mg.size() == 2 && mg[0].is_string() && mg[1].is_string()) return "";
  return "neither \"a b\" nor a pair of strings";
}

Style style_of(const json& j, const std::string& file) {
  Style st;
  const json& model = j.at("model");
  if (model.contains("merges")) {
    const json& merges = model.at("merges");
    if (!merges.is_array()) return st.problem = file + ": model.merges is not an array", st;
    for (size_t i = 0; i < merges.size(); ++i)
      if (const std::string why = merge_problem(merges[i]); !why.empty())
        return st.problem = file + ": model.merges[" + std::to_string(i) + "] is " + why, st;
  }
  if (!model.contains("vocab") || !model.at("vocab").is_object()) return st.problem = file + ": model.vocab is not an object", st;
  if (model.value("type", "") != "BPE") return st.problem = file + ": model.type \"" + model.value("type", "") + "\": GGUF export writes BPE tokenizers only", st;
  const json norm = j.value("normalizer", json());
  const json pt = j.value("pre_tokenizer", json());
  if (model.value("byte_fallback", false)) {
    st.model = "llama";
    // Llama 2's legacy form: the normalizer prepends "▁" and turns spaces into it.
    const bool legacy = norm.is_object() && norm.value("type", "") == "Sequence" && norm.value("normalizers", json::array()).size() == 2 &&
                        norm["normalizers"][0].value("type", "") == "Prepend" && norm["normalizers"][0].value("prepend", "") == kSpace &&
                        norm["normalizers"][1].value("type", "") == "Replace" && norm["normalizers"][1].value("content", "") == kSpace &&
                        norm["normalizers"][1].value("pattern", json::object()).value("String", "") == " ";
    if (legacy && pt.is_null()) return st.space_prefix = true, st;
    // The same without the prefix (what Quench's importer writes for add_space_prefix false).
    const bool replace_only = norm.is_object() && norm.value("type", "") == "Replace" && norm.value("content", "") == kSpace &&
                              norm.value("pattern", json::object()).value("String", "") == " ";
    if (replace_only && pt.is_null()) return st.space_prefix = false, st;
    if (norm.is_null() && pt.is_object() && pt.value("type", "") == "Metaspace" && pt.value("replacement", "") == kSpace) {
      const std::string scheme = pt.value("prepend_scheme", pt.value("add_prefix_space", true) ? "always" : "never");
      st.space_prefix = scheme != "never";
      return st;
    }
    return st.problem = file + ": a byte-fallback BPE whose normalizer and pre_tokenizer are neither Llama 2's (Prepend and Replace " +
                        kSpace + ") nor Metaspace; llama.cpp's SentencePiece tokenizer would split text differently",
           st;
  }
  st.model = "gpt2";
  if (!norm.is_null() && norm.value("type", "") != "NFC")
    return st.problem = file + ": normalizer \"" + norm.value("type", "") + "\": llama.cpp's byte-level BPE normalizes nothing", st;
  const auto mine = splitting(pt);
  for (const char* name : {"gpt-2", "llama-bpe", "qwen2"})
    if (mine && *mine == *splitting(*pre_tokenizer(name))) return st.pre = name, st;
  return st.problem = file + ": pre_tokenizer " + pt.dump().substr(0, 160) +
                      " is none of llama.cpp's gpt-2, llama-bpe and qwen2; llama.cpp would split text differently",
         st;
}

json read_tokenizer_json(const fs::path& tj) {
  const std::string text = read_file(tj.string(), kMaxTokenizerBytes, "tokenizer");
  try {
    json j = json::parse(text);
    if (!j.is_object() || !j.contains("model") || !j.at("model").is_object()) fail(tj.string(), ": no \"model\" object");
    return j;
  } catch (const json::exception& e) {
    fail(tj.string(), ": not valid JSON (", e.what(), ")");
  }
}

std::string merge_text(const json& mg) { return mg.is_array() ? mg[0].get<std::string>() + " " + mg[1].get<std::string>() : mg.get<std::string>(); }

// llama.cpp's SentencePiece tokenizer merges the adjacent pair whose joined piece scores highest;
// transformers' BPE applies the lowest-ranked merge: a piece's score is minus its first merge's rank.
std::vector<float> merge_scores(const json& model, const std::vector<std::string>& tokens) {
  std::map<std::string, size_t> id;
  for (size_t i = 0; i < tokens.size(); ++i) id.emplace(tokens[i], i);
  const auto& merges = model.value("merges", json::array());
  // Pieces no merge makes (characters, bytes, specials) are never the product of a pair.
  std::vector<float> scores(tokens.size(), -static_cast<float>(merges.size() + 1));
  std::vector<bool> set(tokens.size(), false);
  for (size_t r = 0; r < merges.size(); ++r) {
    std::string joined = merge_text(merges[r]);
    if (merges[r].is_array()) joined = merges[r][0].get<std::string>() + merges[r][1].get<std::string>();
    else if (const size_t sp = joined.find(' '); sp != std::string::npos) joined.erase(sp, 1);
    const auto it = id.find(joined);
    if (it != id.end() && !set[it->second]) scores[it->second] = -static_cast<float>(r), set[it->second] = true;
  }
  for (size_t i = 0; i < tokens.size(); ++i)
    if (!set[i] && !tokens[i].empty() && tokens[i].size() == text::utf8_len(static_cast<unsigned char>(tokens[i][0]))) scores[i] = 0;
  return scores;
}

bool is_byte_token(const std::string& t) {
  return t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' && std::isxdigit(static_cast<unsigned char>(t[3])) &&
         std::isxdigit(static_cast<unsigned char>(t[4]));
}

// add_bos_token/add_eos_token: whether transformers' post-processor puts a special token before
// (after) a single sequence, as tokenizer_config.json's flags say for the converter.
std::pair<bool, bool> template_adds(const json& j) {
  if (!j.is_object()) return {false, false};
  const auto pp = j.find("post_processor");
  if (pp == j.end() || !pp->is_object()) return {false, false};
  // Llama 3 wraps it: Sequence[ByteLevel, TemplateProcessing].
  const json* t = &*pp;
  if (pp->value("type", std::string()) == "Sequence" && pp->contains("processors") && (*pp)["processors"].is_array()) {
    t = nullptr;
    for (const auto& p : (*pp)["processors"])
      if (p.is_object() && p.value("type", std::string()) == "TemplateProcessing") t = &p;
  }
  if (!t || t->value("type", std::string()) != "TemplateProcessing") return {false, false};
  const auto single = t->find("single");
  if (single == t->end() || !single->is_array() || single->empty()) return {false, false};
  auto special = [](const json& e) { return e.is_object() && e.contains("SpecialToken"); };
  return {special(single->front()), single->size() > 1 && special(single->back())};
}

}  // namespace

std::string gguf_tokenizer_problem(const std::string& model_dir) {
  const fs::path tj = fs::path(model_dir) / "tokenizer.json";
  std::error_code ec;
  if (!fs::exists(tj, ec)) return "";
  // The export dialog asks on every keystroke: a Llama 3 tokenizer.json is 9 MB of JSON, parsed
  // once per version of the file.
  static std::mutex mutex;
  static std::map<std::string, std::pair<std::string, std::string>> verdicts;  // path → (size:mtime, problem)
  const auto mtime = fs::last_write_time(tj, ec).time_since_epoch().count();
  const std::string version = std::to_string(fs::file_size(tj, ec)) + ":" + std::to_string(mtime);
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (const auto it = verdicts.find(tj.string()); it != verdicts.end() && it->second.first == version) return it->second.second;
  }
  std::string problem;
  try {
    problem = style_of(read_tokenizer_json(tj), tj.string()).problem;
  } catch (const std::exception& e) {  // unreadable, too large, not JSON, a field of the wrong type
    const std::string what = e.what();
    problem = what.rfind(tj.string(), 0) == 0 ? what : tj.string() + ": " + what;
  }
  std::lock_guard<std::mutex> lock(mutex);
  verdicts[tj.string()] = {version, problem};
  return problem;
}

void add_gguf_tokenizer(GgufWriter& w, const Model& m, int64_t vocab) {
  const fs::path tj = fs::path(m.checkpoint().dir()) / "tokenizer.json";
  std::vector<std::string> tokens(static_cast<size_t>(vocab));
  std::vector<int32_t> types(static_cast<size_t>(vocab), kNormal);
  std::vector<std::string> merges;
  Style st{"gpt2", "gpt-2", false, ""};
  json j;
  if (fs::exists(tj)) {
    j = read_tokenizer_json(tj);
    try {
      st = style_of(j, tj.string());
      if (!st.problem.empty()) throw UsageError(st.problem);
      const json& model = j.at("model");
      for (const auto& [tok, id] : model.at("vocab").items()) {
        const int64_t i = id.get<int64_t>();
        QUENCH_CHECK(i >= 0 && i < vocab, tj.string(), ": token \"", tok, "\" has id ", i, " outside the model's vocabulary of ", vocab);
        tokens[static_cast<size_t>(i)] = tok;
        if (st.model == "llama" && is_byte_token(tok)) types[static_cast<size_t>(i)] = kByte;
      }
      if (st.model == "gpt2")
        for (const auto& mg : model.value("merges", json::array())) merges.push_back(merge_text(mg));
      if (model.contains("unk_token") && model.at("unk_token").is_string())
        if (const auto& v = model.at("vocab"); v.contains(model.at("unk_token").get<std::string>()))
          types[v.at(model.at("unk_token").get<std::string>()).get<size_t>()] = kUnknown;
      for (const auto& a : j.value("added_tokens", json::array())) {
        const int64_t i = a.at("id").get<int64_t>();
        QUENCH_CHECK(i >= 0 && i < vocab, tj.string(), ": added token ", i, " outside the vocabulary of ", vocab);
        tokens[static_cast<size_t>(i)] = a.at("content").get<std::string>();
        if (types[static_cast<size_t>(i)] != kUnknown) types[static_cast<size_t>(i)] = a.value("special", false) ? kControl : kUserDefined;
      }
    } catch (const json::exception& e) {
      fail(tj.string(), ": ", e.what());
    }
  }
  for (int64_t i = 0; i < vocab; ++i)
    if (tokens[static_cast<size_t>(i)].empty()) {
      if (i < 256 && !fs::exists(tj)) {
        tokens[static_cast<size_t>(i)] = byte_char(static_cast<int>(i));
      } else {
        tokens[static_cast<size_t>(i)] = "[PAD" + std::to_string(i) + "]";
        types[static_cast<size_t>(i)] = kUnused;  // as llama.cpp's converter marks padding rows
      }
    }
  w.set("tokenizer.ggml.model", GgufValue::str(st.model));
  if (st.model == "gpt2") w.set("tokenizer.ggml.pre", GgufValue::str(st.pre));
  w.set("tokenizer.ggml.tokens", GgufValue::strings(tokens));
  if (st.model == "llama") w.set("tokenizer.ggml.scores", GgufValue::f32s(merge_scores(j.at("model"), tokens)));
  w.set("tokenizer.ggml.token_type", GgufValue::i32s(types));
  if (st.model == "gpt2") w.set("tokenizer.ggml.merges", GgufValue::strings(merges));
  const auto& c = m.config().json();
  auto id = [&](const char* k) -> std::optional<int64_t> {
    if (c.contains(k) && c.at(k).is_number_integer()) return c.at(k).get<int64_t>();
    return std::nullopt;
  };
  if (auto b = id("bos_token_id")) w.set("tokenizer.ggml.bos_token_id", GgufValue::u32(static_cast<uint32_t>(*b)));
  if (auto e = id("eos_token_id")) w.set("tokenizer.ggml.eos_token_id", GgufValue::u32(static_cast<uint32_t>(*e)));
  for (size_t i = 0; i < types.size(); ++i)
    if (types[i] == kUnknown) {
      w.set("tokenizer.ggml.unknown_token_id", GgufValue::u32(static_cast<uint32_t>(i)));
      break;
    }
  if (auto p = id("pad_token_id")) w.set("tokenizer.ggml.padding_token_id", GgufValue::u32(static_cast<uint32_t>(*p)));
  // What transformers adds around a prompt, llama.cpp adds too (llama-cli, llama-server).
  const auto [bos, eos] = template_adds(j);
  w.set("tokenizer.ggml.add_bos_token", GgufValue::boolean(bos));
  w.set("tokenizer.ggml.add_eos_token", GgufValue::boolean(eos));
  if (st.model == "llama") w.set("tokenizer.ggml.add_space_prefix", GgufValue::boolean(st.space_prefix));
}

std::optional<json> tokenizer_json_from_gguf(const GgufFile& f, std::string& why) {
  const auto str = [&](const std::string& k) { return f.key(k).as_string(f.path() + ": " + k); };
  if (!f.find_key("tokenizer.ggml.model")) return why = "no tokenizer.ggml.model", std::nullopt;
  const std::string model = str("tokenizer.ggml.model");
  if (model != "gpt2" && model != "llama")
    return why = "tokenizer.ggml.model \"" + model + "\" (Quench rebuilds byte-level BPE, \"gpt2\", and SentencePiece BPE, \"llama\")", std::nullopt;
  std::optional<json> pt;
  const bool spm = model == "llama";
  if (!spm) {
    const std::string pre = f.find_key("tokenizer.ggml.pre") ? str("tokenizer.ggml.pre") : "default";
    pt = pre_tokenizer(pre);
    if (!pt) return why = "tokenizer.ggml.pre \"" + pre + "\" (Quench rebuilds gpt-2, llama-bpe and qwen2)", std::nullopt;
  }
  const std::string tk = "tokenizer.ggml.tokens";
  const GgufArray& tokens = f.key(tk).as_array(f.path() + ": " + tk);
  const GgufArray* types = f.find_key("tokenizer.ggml.token_type") ? &f.key("tokenizer.ggml.token_type").as_array(f.path() + ": tokenizer.ggml.token_type") : nullptr;
  QUENCH_CHECK(!types || types->items.size() == tokens.items.size(), f.path(), ": tokenizer.ggml.token_type has ", types ? types->items.size() : 0,
               " entries for ", tokens.items.size(), " tokens");
  const GgufArray* scores = spm ? &f.key("tokenizer.ggml.scores").as_array(f.path() + ": tokenizer.ggml.scores") : nullptr;
  QUENCH_CHECK(!scores || scores->items.size() == tokens.items.size(), f.path(), ": tokenizer.ggml.scores has ", scores ? scores->items.size() : 0,
               " entries for ", tokens.items.size(), " tokens");
  json vocab = json::object(), added = json::array(), merges = json::array();
  std::vector<std::string> text(tokens.items.size());
  std::vector<int64_t> type(tokens.items.size(), kNormal);
  std::string unk;
  for (size_t i = 0; i < tokens.items.size(); ++i) {
    const std::string ctx = f.path() + ": " + tk + "[" + std::to_string(i) + "]";
    const std::string& t = tokens.items[i].as_string(ctx);
    // tokenizer.json is JSON text: a token that is not UTF-8 cannot be written into it.
    if (const size_t bad = text::find_invalid_utf8(t); bad != std::string::npos) fail(ctx, ": not valid UTF-8 at byte ", bad);
    text[i] = t;
    if (!vocab.contains(t)) vocab[t] = static_cast<int64_t>(i);
    type[i] = types ? types->items[i].as_int(f.path() + ": tokenizer.ggml.token_type[" + std::to_string(i) + "]") : kNormal;
    if (type[i] == kUnknown && unk.empty()) unk = t;
    if (type[i] == kControl || type[i] == kUserDefined || (spm && type[i] == kUnknown))  // cut out of the text before BPE
      added.push_back({{"id", i}, {"content", t}, {"single_word", false}, {"lstrip", false}, {"rstrip", false}, {"normalized", false},
                       {"special", type[i] != kUserDefined}});
  }
  if (spm) {
    // transformers' SentencePiece conversion: every split of a piece into two pieces is a merge,
    // pieces in order of score (highest first), splits by their pieces' ids.
    std::vector<size_t> order;
    for (size_t i = 0; i < text.size(); ++i)
      if (type[i] == kNormal || type[i] == kUserDefined) order.push_back(i);
    std::vector<float> score(text.size());
    for (size_t i = 0; i < text.size(); ++i) score[i] = static_cast<float>(scores->items[i].as_float(f.path() + ": tokenizer.ggml.scores"));
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] > score[b]; });
    for (size_t i : order) {
      const std::string& t = text[i];
      // Every split of a piece whose halves are pieces is a merge: a hostile file's long tokens
      // (a, aa, aaa, …) would make gigabytes of them. SentencePiece's own pieces are at most 16
      // characters; longer ones get no merges (and are reached by no BPE step either).
      if (t.size() > kMaxMergedPieceBytes) continue;
      std::vector<std::pair<int64_t, int64_t>> splits;
      for (size_t k = 1; k < t.size(); ++k) {
        if ((static_cast<unsigned char>(t[k]) & 0xC0) == 0x80) continue;  // inside a UTF-8 character
        const std::string a = t.substr(0, k), b = t.substr(k);
        if (vocab.contains(a) && vocab.contains(b)) splits.emplace_back(vocab[a].get<int64_t>(), vocab[b].get<int64_t>());
      }
      std::sort(splits.begin(), splits.end());
      for (const auto& [a, b] : splits) merges.push_back(json::array({text[static_cast<size_t>(a)], text[static_cast<size_t>(b)]}));
    }
  } else if (const GgufValue* mv = f.find_key("tokenizer.ggml.merges")) {
    const GgufArray& ms = mv->as_array(f.path() + ": tokenizer.ggml.merges");
    for (size_t i = 0; i < ms.items.size(); ++i) {
      const std::string ctx = f.path() + ": tokenizer.ggml.merges[" + std::to_string(i) + "]";
      const std::string& m = ms.items[i].as_string(ctx);
      if (const size_t bad = text::find_invalid_utf8(m); bad != std::string::npos) fail(ctx, ": not valid UTF-8 at byte ", bad);
      merges.push_back(m);
    }
  }
  json j;
  j["version"] = "1.0";
  j["truncation"] = nullptr;
  j["padding"] = nullptr;
  j["added_tokens"] = added;
  if (spm) {
    // llama.cpp's SentencePiece tokenizer turns spaces into "▁" and puts one before the text (and
    // after each special token) whatever the text starts with: Llama 2's legacy normalizer.
    const bool prefix = f.find_key("tokenizer.ggml.add_space_prefix") ? f.key("tokenizer.ggml.add_space_prefix").as_bool(f.path() + ": tokenizer.ggml.add_space_prefix")
                                                                       : true;
    const json replace = {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSpace}};
    j["normalizer"] = prefix ? json{{"type", "Sequence"}, {"normalizers", json::array({json{{"type", "Prepend"}, {"prepend", kSpace}}, replace})}}
                             : replace;
    j["pre_tokenizer"] = nullptr;
    j["post_processor"] = nullptr;
    json decoders = json::array({json{{"type", "Replace"}, {"pattern", {{"String", kSpace}}}, {"content", " "}}, json{{"type", "ByteFallback"}},
                                 json{{"type", "Fuse"}}});
    if (prefix) decoders.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
    j["decoder"] = {{"type", "Sequence"}, {"decoders", decoders}};
  } else {
    j["normalizer"] = nullptr;
    j["pre_tokenizer"] = *pt;
    j["post_processor"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}};
    j["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  }
  j["model"] = {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", unk.empty() ? json() : json(unk)}, {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr}, {"fuse_unk", spm}, {"byte_fallback", spm}, {"ignore_merges", false},
                {"vocab", vocab}, {"merges", merges}};
  return j;
}

}  // namespace quench
