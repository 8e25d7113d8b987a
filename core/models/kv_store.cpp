#include "core/models/kv_store.h"

#include <algorithm>

#include "core/util/error.h"

namespace quench {

std::pair<at::Tensor, at::Tensor> FloatKvStore::append(const at::Tensor& k, const at::Tensor& v) {
  QUENCH_CHECK(k.dim() == 4 && v.dim() == 4 && k.size(0) == v.size(0) && k.size(2) == v.size(2),
               "kv cache: keys and values must be [B, H, T, D] with the same B and T, got ", k.sizes(), " and ", v.sizes());
  const int64_t T = k.size(2);
  if (k_.defined()) {
    QUENCH_CHECK(k.size(0) == k_.size(0) && k.size(1) == k_.size(1) && k.size(3) == k_.size(3) && v.size(1) == v_.size(1) &&
                     v.size(3) == v_.size(3),
                 "kv cache: new keys ", k.sizes(), " do not continue the cached ", k_.sizes());
  }
  if (!k_.defined() || len_ + T > k_.size(2)) {
    const int64_t cap = std::max<int64_t>(len_ + T, k_.defined() ? 2 * k_.size(2) : len_ + T);
    auto grow = [&](const at::Tensor& old, const at::Tensor& like) {
      at::Tensor t = at::empty({like.size(0), like.size(1), cap, like.size(3)}, like.options());
      if (len_ > 0) t.narrow(2, 0, len_).copy_(old.narrow(2, 0, len_));
      return t;
    };
    k_ = grow(k_, k);
    v_ = grow(v_, v);
  }
  k_.narrow(2, len_, T).copy_(k);
  v_.narrow(2, len_, T).copy_(v);
  len_ += T;
  return {k_.narrow(2, 0, len_), v_.narrow(2, 0, len_)};
}

int64_t FloatKvStore::bytes() const {
  if (!k_.defined()) return 0;
  const int64_t per_k = k_.size(0) * k_.size(1) * k_.size(3) * static_cast<int64_t>(k_.element_size());
  const int64_t per_v = v_.size(0) * v_.size(1) * v_.size(3) * static_cast<int64_t>(v_.element_size());
  return len_ * (per_k + per_v);
}

}  // namespace quench
