#include "core/nn/layer.h"

#include "core/util/error.h"

namespace quench {

const char* kind_name(LayerKind k) {
  switch (k) {
    case LayerKind::Linear: return "Linear";
    case LayerKind::Conv1d: return "Conv1d";
    case LayerKind::Conv2d: return "Conv2d";
    case LayerKind::Embedding: return "Embedding";
  }
  return "?";
}

at::Tensor convert_cached(const at::Tensor& t, at::Device device, at::ScalarType dtype, TensorCache& cache) {
  if (!t.defined()) return t;
  const void* key = t.unsafeGetTensorImpl();
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  // Integer and boolean buffers keep their type; only floating tensors take the compute dtype.
  at::Tensor out = at::isFloatingType(t.scalar_type()) ? t.to(device, dtype) : t.to(device);
  cache[key] = out;
  return out;
}

Layer::Layer(std::string name, LayerKind kind, at::Tensor weight, at::Tensor bias, const Hooks* hooks, ConvSpec conv)
    : name_(std::move(name)),
      kind_(kind),
      weight_(std::move(weight)),
      bias_(std::move(bias)),
      hooks_(hooks),
      conv_(std::move(conv)) {
  in_point_ = name_ + ":input";
  out_point_ = name_ + ":output";
  original_weight_ = weight_;
  original_bias_ = bias_;
  const int64_t want = kind_ == LayerKind::Conv2d ? 4 : kind_ == LayerKind::Conv1d ? 3 : 2;
  QUENCH_CHECK(weight_.defined() && weight_.dim() == want, name_, ": ", kind_name(kind_), " weight must have ", want,
               " dimensions, got ", weight_.defined() ? weight_.dim() : 0);
  QUENCH_CHECK(!bias_.defined() || (bias_.dim() == 1 && bias_.size(0) == weight_.size(0)), name_, ": bias shape ",
               bias_.sizes(), " does not match ", weight_.size(0), " outputs");
}

void Layer::set_weight(at::Tensor w, bool allow_reshape) {
  QUENCH_CHECK(allow_reshape || w.sizes() == weight_.sizes(), name_, ": replacement weight has shape ", w.sizes(),
               ", expected ", weight_.sizes());
  weight_ = w.to(weight_.device(), weight_.scalar_type());
  modified_ = true;
}

void Layer::set_bias(at::Tensor b, bool allow_reshape) {
  QUENCH_CHECK(!b.defined() || !bias_.defined() || allow_reshape || b.sizes() == bias_.sizes(), name_,
               ": replacement bias has shape ", b.sizes(), ", expected ", bias_.sizes());
  bias_ = b.defined() ? b.to(weight_.device(), weight_.scalar_type()) : b;
  modified_ = true;
}

void Layer::set_kernel(std::shared_ptr<LayerKernel> k) {
  kernel_ = std::move(k);
  modified_ = true;
}

void Layer::reset() {
  weight_ = original_weight_;
  bias_ = original_bias_;
  kernel_.reset();
  encoding_.reset();
  modified_ = false;
}

int64_t Layer::in_features() const {
  if (kind_ == LayerKind::Linear || kind_ == LayerKind::Embedding) return weight_.size(1);
  return weight_.numel() / weight_.size(0);
}

int64_t Layer::parameters() const {
  const int64_t b = bias_.defined() ? bias_.numel() : 0;
  if (kernel_) return kernel_->parameters() + b;
  return weight_.numel() + b;
}

at::Tensor Layer::apply(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) const {
  switch (kind_) {
    case LayerKind::Linear: return at::linear(x, w, b);
    case LayerKind::Embedding: return at::embedding(w, x);
    case LayerKind::Conv1d: return at::conv1d(x, w, b, conv_.stride, conv_.padding, conv_.dilation, conv_.groups);
    case LayerKind::Conv2d: return at::conv2d(x, w, b, conv_.stride, conv_.padding, conv_.dilation, conv_.groups);
  }
  fail(name_, ": unknown layer kind");
}

at::Tensor Layer::compute(const at::Tensor& x) const {
  if (kernel_) {
    auto y = kernel_->forward(x);
    return bias_.defined() ? y + bias_ : y;
  }
  return apply(x, weight_, bias_);
}

at::Tensor Layer::forward(const at::Tensor& x_in) const {
  const int64_t cdim = kind_ == LayerKind::Linear ? -1 : 1;
  at::Tensor x = kind_ == LayerKind::Embedding ? x_in : hooks_->tap(in_point_, x_in, cdim);
  return hooks_->tap(out_point_, compute(x), kind_ == LayerKind::Embedding ? -1 : cdim);
}

void Layer::to(at::Device device, at::ScalarType dtype, TensorCache& cache) {
  weight_ = convert_cached(weight_, device, dtype, cache);
  bias_ = convert_cached(bias_, device, dtype, cache);
  original_weight_ = convert_cached(original_weight_, device, dtype, cache);
  original_bias_ = convert_cached(original_bias_, device, dtype, cache);
  if (kernel_) kernel_->to(device, dtype);
}

}  // namespace quench
