#include "core/compress/hadamard_rotation.h"

#include "core/ops/hadamard.h"
#include "core/util/error.h"

namespace quench {

void rotate_layer_weight(Layer& layer) {
  QUENCH_CHECK(layer.kind() == LayerKind::Linear, layer.name(), ": a Hadamard rotation applies to Linear layers, not ", kind_name(layer.kind()));
  const int64_t n = layer.in_features();
  QUENCH_CHECK(ops::hadamard_supported(n), layer.name(), ": no Hadamard matrix of size ", n);
  // W·Hᵀ row by row is the transform of each row: hadamard_transform(W) = W·Hᵀ.
  layer.set_weight(ops::hadamard_transform(layer.weight().to(at::kFloat)));
}

Transform hadamard_input_transform() {
  return [](const at::Tensor& x) { return ops::hadamard_transform(x); };
}

}  // namespace quench
