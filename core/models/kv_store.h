#pragma once
// What a decoding cache keeps for one attention block: every past token's keys (after RoPE) and
// values, [B, H, S, D]. The float store keeps them as computed; a compression method may keep them
// its own way (KIVI: 2-bit groups and a float window, core/compress/kivi.h) and hand attention
// what it would read back, so that its memory saving is held, not estimated.
#include <ATen/ATen.h>

#include <memory>
#include <utility>

namespace quench {

class KvStore {
 public:
  virtual ~KvStore() = default;
  // Adds the new tokens' keys and values [B, H, T, D]; returns every token's so far, as attention
  // reads them (views that stay valid until the next append).
  virtual std::pair<at::Tensor, at::Tensor> append(const at::Tensor& k, const at::Tensor& v) = 0;
  virtual int64_t tokens() const = 0;
  // Bytes of what it keeps for its tokens: codes, scales and float parts (not spare capacity, nor
  // the float copies handed to attention for one step).
  virtual int64_t bytes() const = 0;
};

// Keys and values as computed, in a buffer that grows by doubling along S: a step copies its own
// tokens, not the whole past (concatenating per step made decoding quadratic in the context).
class FloatKvStore : public KvStore {
 public:
  std::pair<at::Tensor, at::Tensor> append(const at::Tensor& k, const at::Tensor& v) override;
  int64_t tokens() const override { return len_; }
  int64_t bytes() const override;

 private:
  at::Tensor k_, v_;  // [B, H, capacity, D]
  int64_t len_ = 0;
};

}  // namespace quench
