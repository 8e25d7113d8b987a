#include "core/nn/packed_linear.h"

#include <algorithm>

#include "core/ops/fake_quant.h"
#include "core/ops/w4a16.h"
#include "core/util/error.h"

namespace quench {

std::string PackedInt4Linear::unsupported(const Layer& layer) {
  if (layer.kind() != LayerKind::Linear) return "not a Linear";
  if (layer.kernel()) return "computed by " + layer.kernel()->describe();
  const WeightEncoding* e = layer.execution_encoding();
  if (!e || !e->spec) return e && e->ggml ? "on a ggml grid" : "not quantized to an integer grid";
  const ops::QuantSpec& s = *e->spec;
  if (s.bits != 4) return std::to_string(s.bits) + "-bit weights (the packed kernel takes 4 bits)";
  if (e->g_idx.defined()) return "act-order reordered its columns";
  if (s.granularity == ops::Granularity::Column) return "per-input-column scales";
  if (s.granularity == ops::Granularity::Group && s.group_size % 32 != 0) return "groups of " + std::to_string(s.group_size) + " (a multiple of 32 is needed)";
  if (layer.in_features() % 32 != 0) return std::to_string(layer.in_features()) + " inputs (a multiple of 32 is needed)";
  return {};
}

PackedInt4Linear::PackedInt4Linear(const Layer& layer) {
  const std::string why = unsupported(layer);
  QUENCH_CHECK(why.empty(), layer.name(), ": cannot be packed as int4: ", why);
  const WeightEncoding& e = *layer.execution_encoding();
  const ops::QuantSpec& spec = *e.spec;
  const at::Tensor& w = layer.weight();
  n_ = w.size(0);
  k_ = w.size(1);
  group_ = spec.granularity == ops::Granularity::Group ? spec.group_size : k_;
  const int64_t groups = (k_ + group_ - 1) / group_;
  const ops::QuantParams params{e.params.scale.to(w.device(), at::kFloat),
                                e.params.zero.defined() ? e.params.zero.to(w.device(), at::kInt) : at::Tensor()};
  // The integers must give back the layer's weight exactly (as the exporters require): anything
  // that changed it after quantizing would otherwise run silently as something else.
  const at::Tensor q = grid_integers(layer.weight().reshape({n_, k_}), e, layer.name() + ": cannot be packed").to(spec.symmetric ? at::kChar : at::kByte);
  qweight_ = ops::pack_int32(q, 4);
  // Per tensor: one scale for every row; per row: one per row; groups: [n, groups] as stored.
  scale_ = (params.scale.numel() == 1 ? params.scale.reshape({1, 1}).expand({n_, groups}) : params.scale.reshape({n_, groups})).contiguous();
  if (params.zero.defined())
    zero_ = (params.zero.numel() == 1 ? params.zero.reshape({1, 1}).expand({n_, groups}) : params.zero.reshape({n_, groups})).contiguous();
}

at::Tensor PackedInt4Linear::dense_weight() const { return dequantized(at::kFloat); }

at::Tensor PackedInt4Linear::dequantized(at::ScalarType dtype) const {
  // Group-wise dequantization through the one formula (ops::dequantize), the grid as stored.
  const bool symmetric = !zero_.defined();
  const at::Tensor q = ops::unpack_int32(qweight_, 4, k_, symmetric);
  ops::QuantSpec spec;
  spec.bits = 4;
  spec.symmetric = symmetric;
  spec.granularity = ops::Granularity::Group;
  spec.group_size = group_;
  return ops::dequantize(q, {scale_, zero_}, spec, dtype);
}

at::Tensor PackedInt4Linear::forward(const at::Tensor& x) const {
  QUENCH_CHECK(x.size(-1) == k_, "packed int4 linear: input has ", x.size(-1), " features, expected ", k_);
  const at::Tensor x2 = x.reshape({-1, k_});
  std::vector<int64_t> shape = x.sizes().vec();
  shape.back() = n_;
  if (ops::w4a16_on_kernel(x2, group_)) return ops::w4a16_linear(x2, qweight_, scale_, zero_, group_).view(shape);
  return at::linear(x, dequantized(x.scalar_type()));
}

std::string PackedInt4Linear::describe() const {
  return std::string("int4 packed") + (zero_.defined() ? " asymmetric" : "") + (group_ == k_ ? ", one scale per row" : ", groups of " + std::to_string(group_));
}

int64_t PackedInt4Linear::bytes() const {
  return qweight_.numel() * 4 + scale_.numel() * 4 + (zero_.defined() ? zero_.numel() * 4 : 0);
}

void PackedInt4Linear::to(at::Device device, at::ScalarType) {
  // The integers and float32 scales keep their types; activations bring their own dtype.
  qweight_ = qweight_.to(device);
  scale_ = scale_.to(device);
  if (zero_.defined()) zero_ = zero_.to(device);
}

}  // namespace quench
