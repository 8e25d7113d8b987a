#include "core/text/bpe.h"

#include <atomic>
#include <cstdio>
#include <queue>

#include "core/text/byte_level.h"
#include "core/text/unicode.h"
#include "core/util/error.h"

namespace quench::text {

namespace {
std::atomic<uint64_t> g_next_instance{1};

// Ids are int32 everywhere in Quench; a vocabulary this large would not fit an embedding anyway.
constexpr int64_t kMaxId = (int64_t{1} << 26) - 1;
constexpr int64_t kMaxIdGap = int64_t{1} << 20;

// Words seen before on this thread, for the model that cached them last. Per thread, so
// encoding never takes a lock; bounded, so a long run cannot grow it without limit.
struct WordCache {
  uint64_t owner = 0;
  StringMap<std::pair<uint32_t, uint32_t>> words;  // piece → (offset, count) in ids
  std::vector<int32_t> ids;
};
thread_local WordCache t_cache;
constexpr size_t kCacheMaxWords = 1 << 19;
constexpr size_t kCacheMaxPiece = 256;
const std::string kWordMarker = "\xE2\x96\x81";  // ▁ U+2581

bool only_markers(std::string_view t) {
  if (t.empty() || t.size() % kWordMarker.size()) return false;
  for (size_t i = 0; i < t.size(); i += kWordMarker.size())
    if (t.compare(i, kWordMarker.size(), kWordMarker) != 0) return false;
  return true;
}

std::string hex_byte_token(unsigned b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "<0x%02X>", b);
  return buf;
}
}  // namespace

struct Bpe::Word {
  std::vector<Symbol> symbols;
  std::optional<int32_t> pending_unk;  // an unknown-token run not yet added (fuse_unk)
  void add(int32_t id) {
    const auto n = static_cast<int32_t>(symbols.size());
    if (n) symbols.back().next = n;
    symbols.push_back({id, n - 1, -1, true});
  }
};

Bpe::Bpe(const JsonNode& model, const BpeSource& src, bool raw_bytes) : instance_(g_next_instance++), raw_bytes_(raw_bytes) {
  // Vocabulary.
  if (!src.has_vocab) model.at("vocab").expect_object();
  int64_t max_id = -1;
  for (const auto& [tok, id] : src.vocab) {
    if (id < 0 || id > kMaxId) model.at("vocab").fail("token '" + tok + "': id " + std::to_string(id) + " out of range");
    vocab_.insert(tok, static_cast<int32_t>(id));
    max_id = std::max(max_id, id);
  }
  // The id → token table has max_id + 1 slots: a few bytes of JSON giving one token the id 2^26
  // would cost 2 GB. Real vocabularies are dense; allow generous gaps, not arbitrary ones.
  const auto entries = static_cast<int64_t>(src.vocab.size());
  if (max_id >= entries + kMaxIdGap)
    model.at("vocab").fail("the largest id is " + std::to_string(max_id) + " but there are only " + std::to_string(entries) +
                           " tokens: more than " + std::to_string(kMaxIdGap) + " ids would be unused");
  tokens_.resize(static_cast<size_t>(max_id + 1));
  has_token_.resize(tokens_.size(), false);
  for (const auto& [tok, id] : src.vocab) {
    const auto i = static_cast<size_t>(id);
    if (!has_token_[i]) tokens_[i] = tok;
    has_token_[i] = true;
  }

  // Options.
  if (model.has("unk_token")) unk_token_ = model.str("unk_token");
  if (unk_token_) unk_id_ = token_to_id(*unk_token_);
  prefix_ = model.str("continuing_subword_prefix", "");
  suffix_ = model.str("end_of_word_suffix", "");
  fuse_unk_ = model.boolean("fuse_unk", false);
  byte_fallback_ = model.boolean("byte_fallback", false);
  ignore_merges_ = model.boolean("ignore_merges", false);
  if (model.has("dropout")) {
    const auto& d = model.at("dropout").json();
    if (!d.is_number() || d.get<double>() < 0.0 || d.get<double>() > 1.0) model.at("dropout").fail("must be a number between 0 and 1");
  }
  for (unsigned b = 0; b < 256; ++b) byte_fallback_id_[b] = token_to_id(hex_byte_token(b)).value_or(-1);

  // Merges: rank = position, skipping "#version" lines of the legacy string form.
  if (!src.has_merges) model.at("merges").expect_array();
  merges_.reserve(src.merges.size() * 2);
  int32_t rank = 0;
  for (size_t i = 0; i < src.merges.size(); ++i) {
    const MergeEntry& m = src.merges[i];
    auto bad = [&](const std::string& what) { quench::fail(model.where(), ".merges[", i, "]: ", what); };
    std::string a, b;
    switch (m.kind) {
      case MergeEntry::Line: {
        if (m.a.rfind("#version", 0) == 0) continue;
        const size_t sp = m.a.find(' ');
        if (sp == std::string::npos || m.a.find(' ', sp + 1) != std::string::npos)
          bad("malformed merge '" + m.a + "': expected two tokens separated by one space");
        a = m.a.substr(0, sp);
        b = m.a.substr(sp + 1);
        break;
      }
      case MergeEntry::Pair:
        a = m.a;
        b = m.b;
        break;
      case MergeEntry::BadPair:
        bad("malformed merge: expected a pair of two token strings");
        break;
      case MergeEntry::BadType:
        bad("malformed merge: expected a string or a pair, got " + m.a);
        break;
    }
    const auto ia = token_to_id(a), ib = token_to_id(b);
    if (!ia) bad("token '" + a + "' is not in the vocabulary");
    if (!ib) bad("token '" + b + "' is not in the vocabulary");
    if (b.size() < prefix_.size()) bad("token '" + b + "' is shorter than continuing_subword_prefix");
    const std::string merged = a + b.substr(prefix_.size());
    const auto im = token_to_id(merged);
    if (!im) bad("merged token '" + merged + "' is not in the vocabulary");
    // A pair listed twice keeps its last rank, as the tokenizers library's hash map does.
    merges_[(uint64_t(uint32_t(*ia)) << 32) | uint32_t(*ib)] = {rank, *im};
    ++rank;
  }

  if (!raw_bytes_ && prefix_.empty() && suffix_.empty() && token_to_id(kWordMarker)) {
    split_at_word_marker_ = true;
    for (size_t id = 0; id < tokens_.size() && split_at_word_marker_; ++id) {
      const std::string& t = tokens_[id];
      if (t.find(kWordMarker, 1) != std::string::npos && !only_markers(t)) split_at_word_marker_ = false;
    }
  }

  if (raw_bytes_) {
    for (unsigned b = 0; b < 256; ++b) {
      const std::string c = utf8(byte_to_char(static_cast<uint8_t>(b)));
      byte_id_[0][b] = token_to_id(c).value_or(-1);
      byte_id_[1][b] = token_to_id(prefix_ + c).value_or(-1);
      byte_id_[2][b] = token_to_id(c + suffix_).value_or(-1);
      byte_id_[3][b] = token_to_id(prefix_ + c + suffix_).value_or(-1);
    }
    if (ignore_merges_) {
      std::string raw;
      for (size_t id = 0; id < tokens_.size(); ++id) {
        raw.clear();
        if (has_token_[id] && chars_to_bytes(tokens_[id], raw)) raw_vocab_.insert(raw, static_cast<int32_t>(id));
      }
    }
  }
}

std::optional<int32_t> Bpe::token_to_id(std::string_view token) const {
  if (const int32_t* id = vocab_.find(token)) return *id;
  return std::nullopt;
}

const std::string* Bpe::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= tokens_.size() || !has_token_[static_cast<size_t>(id)]) return nullptr;
  return &tokens_[static_cast<size_t>(id)];
}

const Bpe::Merge* Bpe::find_merge(int32_t a, int32_t b) const {
  auto it = merges_.find((uint64_t(uint32_t(a)) << 32) | uint32_t(b));
  return it == merges_.end() ? nullptr : &it->second;
}

// A symbol the vocabulary lacks: its "<0xHH>" byte tokens when byte_fallback has them all,
// else the unknown token (runs fused with fuse_unk), else nothing, as the tokenizers library.
void Bpe::add_unknown(Word& w, std::string_view s) const {
  if (byte_fallback_) {
    bool all = true;
    for (unsigned char c : s) all = all && byte_fallback_id_[c] >= 0;
    if (all) {
      for (unsigned char c : s) w.add(byte_fallback_id_[c]);
      return;
    }
  }
  if (!unk_token_) return;
  if (!unk_id_) fail("BPE model: unk_token '", *unk_token_, "' is not in the vocabulary");
  if (w.pending_unk && fuse_unk_) return;  // extends the pending run
  if (w.pending_unk) w.add(*w.pending_unk);
  w.pending_unk = *unk_id_;
}

void Bpe::build_word(std::string_view piece, Word& w) const {
  auto known = [&](int32_t id) {
    if (w.pending_unk) {
      w.add(*w.pending_unk);
      w.pending_unk.reset();
    }
    w.add(id);
  };
  if (raw_bytes_) {
    for (size_t i = 0; i < piece.size(); ++i) {
      const auto b = static_cast<unsigned char>(piece[i]);
      const int form = (i > 0 && !prefix_.empty() ? 1 : 0) + (i + 1 == piece.size() && !suffix_.empty() ? 2 : 0);
      const int32_t id = byte_id_[form][b];
      if (id >= 0) {
        known(id);
      } else {
        std::string s = utf8(byte_to_char(b));
        if (form & 1) s = prefix_ + s;
        if (form & 2) s += suffix_;
        add_unknown(w, s);
      }
    }
  } else {
    std::string s;
    for (size_t i = 0; i < piece.size();) {
      const size_t len = utf8_len(static_cast<unsigned char>(piece[i]));
      s.clear();
      if (i > 0) s += prefix_;
      s.append(piece.data() + i, len);
      if (i + len == piece.size()) s += suffix_;
      if (auto id = token_to_id(s)) known(*id);
      else add_unknown(w, s);
      i += len;
    }
  }
  if (w.pending_unk) w.add(*w.pending_unk);
}

// The tokenizers library's Word::merge_all without dropout: pop the (lowest rank, leftmost)
// candidate pair, skip it when stale, merge, queue the pairs the new symbol forms.
void Bpe::merge_all(std::vector<Symbol>& sy) const {
  struct Cand {
    int32_t rank, pos, id;
    bool operator<(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Cand> queue;
  for (size_t i = 0; i + 1 < sy.size(); ++i)
    if (const Merge* m = find_merge(sy[i].id, sy[i + 1].id)) queue.push({m->rank, static_cast<int32_t>(i), m->id});
  while (!queue.empty()) {
    const Cand top = queue.top();
    queue.pop();
    Symbol& left = sy[static_cast<size_t>(top.pos)];
    if (!left.alive || left.next < 0) continue;
    const Symbol right = sy[static_cast<size_t>(left.next)];
    const Merge* now = find_merge(left.id, right.id);
    if (!now || now->id != top.id) continue;
    left.id = top.id;
    sy[static_cast<size_t>(left.next)].alive = false;
    left.next = right.next;
    if (right.next >= 0) sy[static_cast<size_t>(right.next)].prev = top.pos;
    if (left.prev >= 0)
      if (const Merge* m = find_merge(sy[static_cast<size_t>(left.prev)].id, left.id)) queue.push({m->rank, left.prev, m->id});
    if (left.next >= 0)
      if (const Merge* m = find_merge(left.id, sy[static_cast<size_t>(left.next)].id)) queue.push({m->rank, top.pos, m->id});
  }
}

void Bpe::encode(std::string_view piece, std::vector<int32_t>& out) const {
  if (!split_at_word_marker_) {
    encode_word(piece, out);
    return;
  }
  // Cut before each "▁" that follows something other than "▁".
  size_t start = 0;
  for (size_t p = piece.find(kWordMarker, 1); p != std::string_view::npos; p = piece.find(kWordMarker, p + 1)) {
    const size_t m = kWordMarker.size();
    const bool after_marker = p >= m && piece.compare(p - m, m, kWordMarker) == 0;
    if (after_marker) continue;
    encode_word(piece.substr(start, p - start), out);
    start = p;
  }
  encode_word(piece.substr(start), out);
}

void Bpe::encode_word(std::string_view piece, std::vector<int32_t>& out) const {
  if (piece.empty()) return;
  if (ignore_merges_) {
    const int32_t* id = raw_bytes_ ? raw_vocab_.find(piece) : vocab_.find(piece);
    if (id) {
      out.push_back(*id);
      return;
    }
  }
  WordCache& cache = t_cache;
  if (cache.owner != instance_ || cache.words.size() >= kCacheMaxWords) {
    cache.words.clear();
    cache.ids.clear();
    cache.owner = instance_;
  }
  if (const auto* hit = cache.words.find(piece)) {
    out.insert(out.end(), cache.ids.begin() + hit->first, cache.ids.begin() + hit->first + hit->second);
    return;
  }
  Word w;
  w.symbols.reserve(piece.size());
  build_word(piece, w);
  merge_all(w.symbols);
  const size_t start = out.size();
  for (const Symbol& s : w.symbols)
    if (s.alive) out.push_back(s.id);
  if (piece.size() <= kCacheMaxPiece) {
    const auto offset = static_cast<uint32_t>(cache.ids.size());
    cache.ids.insert(cache.ids.end(), out.begin() + static_cast<std::ptrdiff_t>(start), out.end());
    cache.words.insert(piece, {offset, static_cast<uint32_t>(out.size() - start)});
  }
}

}  // namespace quench::text
