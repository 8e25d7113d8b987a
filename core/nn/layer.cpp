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
  check_changeable();
  QUENCH_CHECK(allow_reshape || w.sizes() == weight_.sizes(), name_, ": replacement weight has shape ", w.sizes(),
               ", expected ", weight_.sizes());
  weight_ = w.to(weight_.device(), weight_.scalar_type());
  runtime_.reset();  // it ran the weight this one replaces
  modified_ = true;
}

void Layer::set_bias(at::Tensor b, bool allow_reshape) {
  check_changeable();
  QUENCH_CHECK(!b.defined() || !bias_.defined() || allow_reshape || b.sizes() == bias_.sizes(), name_,
               ": replacement bias has shape ", b.sizes(), ", expected ", bias_.sizes());
  bias_ = b.defined() ? b.to(weight_.device(), weight_.scalar_type()) : b;
  modified_ = true;
}

void Layer::set_kernel(std::shared_ptr<LayerKernel> k) {
  check_changeable();
  kernel_ = std::move(k);
  runtime_.reset();
  modified_ = true;
}

void Layer::reset() {
  // A streamed layer goes back to resting on its checkpoint views.
  weight_ = rest_weight_ = original_weight_;
  bias_ = rest_bias_ = original_bias_;
  resident_ = false;
  kernel_.reset();
  runtime_.reset();
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
  if (runtime_) {
    auto y = runtime_->forward(x);
    return bias_.defined() ? y + bias_ : y;
  }
  if (streamed_ && !resident_ && !kernel_) return compute_at_rest(x);
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
  streamed_ = resident_ = false;
  weight_ = convert_cached(weight_, device, dtype, cache);
  bias_ = convert_cached(bias_, device, dtype, cache);
  original_weight_ = convert_cached(original_weight_, device, dtype, cache);
  original_bias_ = convert_cached(original_bias_, device, dtype, cache);
  if (kernel_) kernel_->to(device, dtype);
  if (runtime_) runtime_->to(device, dtype);
}

void Layer::check_changeable() const {
  QUENCH_CHECK(!streamed_ || resident_, name_, ": the model is streamed from its checkpoint (--max-memory) and this layer's block is "
               "not resident, so its weights cannot be changed now");
}

void Layer::keep_at_rest(const at::TensorOptions& compute, int64_t slice_bytes, std::function<void()> release) {
  QUENCH_CHECK(!modified_ && !kernel_, name_, ": a compressed layer cannot be streamed from its checkpoint");
  QUENCH_CHECK(slice_bytes > 0, name_, ": slice size must be positive");
  compute_ = compute;
  slice_bytes_ = slice_bytes;
  release_ = std::move(release);
  streamed_ = true;
  resident_ = false;
  weight_ = rest_weight_ = original_weight_;
  bias_ = rest_bias_ = original_bias_;
}

void Layer::make_resident(TensorCache& cache) {
  if (!streamed_) return;
  weight_ = convert_cached(rest_weight_, compute_.device(), c10::typeMetaToScalarType(compute_.dtype()), cache);
  bias_ = convert_cached(rest_bias_, compute_.device(), c10::typeMetaToScalarType(compute_.dtype()), cache);
  resident_ = true;
}

void Layer::evict() noexcept {
  if (!streamed_) return;
  weight_ = rest_weight_;
  bias_ = rest_bias_;
  resident_ = false;
}

void Layer::rest_on(at::Tensor weight, at::Tensor bias) {
  QUENCH_CHECK(streamed_, name_, ": only a streamed layer rests on stored views");
  QUENCH_CHECK(weight.sizes() == weight_.sizes(), name_, ": stored weight has shape ", weight.sizes(), ", expected ", weight_.sizes());
  rest_weight_ = std::move(weight);
  rest_bias_ = std::move(bias);
  if (!resident_) weight_ = rest_weight_, bias_ = rest_bias_;
  modified_ = true;
}

at::Tensor Layer::compute_at_rest(const at::Tensor& x) const {
  const at::ScalarType dtype = c10::typeMetaToScalarType(compute_.dtype());
  auto conv = [&](const at::Tensor& t) {
    if (!t.defined()) return t;
    return at::isFloatingType(t.scalar_type()) ? t.to(compute_.device(), dtype) : t.to(compute_.device());
  };
  // Conversion is per element, so gathering the stored rows first gives the same values.
  if (kind_ == LayerKind::Embedding) return conv(at::embedding(weight_, x.to(weight_.device())));
  const int64_t out = weight_.size(0);
  const int64_t row_bytes = std::max<int64_t>(1, (weight_.numel() / std::max<int64_t>(1, out)) * static_cast<int64_t>(c10::elementSize(dtype)));
  const int64_t rows = std::max<int64_t>(1, slice_bytes_ / row_bytes);
  if (kind_ != LayerKind::Linear || rows >= out) return apply(x, conv(weight_), conv(bias_));
  std::vector<int64_t> sizes = x.sizes().vec();
  sizes.back() = out;
  at::Tensor y = at::empty(sizes, x.options());
  for (int64_t r = 0; r < out; r += rows) {
    const int64_t n = std::min(rows, out - r);
    y.narrow(-1, r, n).copy_(at::linear(x, conv(weight_.narrow(0, r, n)), bias_.defined() ? conv(bias_.narrow(0, r, n)) : at::Tensor()));
    if (release_) release_();
  }
  return y;
}

}  // namespace quench
