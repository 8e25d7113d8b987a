#pragma once
// An open-addressing hash map from byte strings to a value, looked up by string_view without
// building a std::string (C++17's unordered_map cannot). Keys live in one arena; there is no
// erase. Used for vocabularies (10^5 entries) and the per-thread BPE word cache.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace quench::text {

inline uint64_t hash_bytes(std::string_view s) {
  // 8 bytes at a time, multiply-xorshift mixing: fast on short keys, which all of these are.
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ (s.size() * 0xFF51AFD7ED558CCDULL);
  const char* p = s.data();
  size_t n = s.size();
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ULL;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  if (n) {
    uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ULL;
    h ^= h >> 29;
  }
  h *= 0xFF51AFD7ED558CCDULL;
  return h ^ (h >> 32);
}

template <typename V>
class StringMap {
 public:
  size_t size() const { return count_; }
  size_t arena_bytes() const { return arena_.size(); }

  const V* find(std::string_view key) const {
    if (slots_.empty()) return nullptr;
    const uint64_t h = hash_bytes(key);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.len == kEmpty) return nullptr;
      if (s.hash == h && s.len == key.size() && std::memcmp(arena_.data() + s.offset, key.data(), key.size()) == 0)
        return &values_[s.index];
    }
  }

  // Inserts or overwrites; returns true when the key was new.
  bool insert(std::string_view key, V value) {
    if ((count_ + 1) * 4 > slots_.size() * 3) grow();
    const uint64_t h = hash_bytes(key);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.len == kEmpty) {
        s.hash = h;
        s.offset = arena_.size();
        s.len = static_cast<uint32_t>(key.size());
        s.index = static_cast<uint32_t>(values_.size());
        arena_.append(key.data(), key.size());
        values_.push_back(std::move(value));
        ++count_;
        return true;
      }
      if (s.hash == h && s.len == key.size() && std::memcmp(arena_.data() + s.offset, key.data(), key.size()) == 0) {
        values_[s.index] = std::move(value);
        return false;
      }
    }
  }

  void clear() {
    slots_.clear();
    values_.clear();
    arena_.clear();
    count_ = 0;
    mask_ = 0;
  }

 private:
  static constexpr uint32_t kEmpty = 0xFFFFFFFFu;
  struct Slot {
    uint64_t hash = 0;
    uint64_t offset = 0;
    uint32_t len = kEmpty;
    uint32_t index = 0;
  };

  void grow() {
    const size_t n = slots_.empty() ? 64 : slots_.size() * 2;
    std::vector<Slot> old(n);
    old.swap(slots_);
    mask_ = n - 1;
    for (const Slot& s : old) {
      if (s.len == kEmpty) continue;
      size_t i = s.hash & mask_;
      while (slots_[i].len != kEmpty) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;
  std::vector<V> values_;
  std::string arena_;
  size_t count_ = 0;
  size_t mask_ = 0;
};

}  // namespace quench::text
