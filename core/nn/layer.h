#pragma once
// The one module type for every compressible operation (Linear, Conv1d, Conv2d, Embedding, the
// LM head). Its name is the Hugging Face module path; its input and output pass through the
// model's Hooks; its weight or its whole computation can be replaced by a compression method
// without the architecture knowing.
#include <ATen/ATen.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/nn/hooks.h"
#include "core/nn/weight_encoding.h"

namespace quench {

enum class LayerKind { Linear, Conv1d, Conv2d, Embedding };
const char* kind_name(LayerKind k);

struct ConvSpec {
  std::vector<int64_t> stride{1}, padding{0}, dilation{1};
  int64_t groups = 1;
};

// Replaces how a layer computes its output: low-rank factors, packed low-bit weights, ...
class LayerKernel {
 public:
  virtual ~LayerKernel() = default;
  virtual at::Tensor forward(const at::Tensor& x) const = 0;
  virtual std::string describe() const = 0;
  virtual int64_t parameters() const = 0;       // what it stores, counted as parameters
  virtual at::Tensor dense_weight() const = 0;  // the [out, in, ...] weight it applies, for error reports
  virtual void to(at::Device device, at::ScalarType dtype) = 0;
};

// Keeps tensors that were shared before a conversion shared after it (tied embeddings).
using TensorCache = std::map<const void*, at::Tensor>;

// What one converted slice of an at-rest weight may take (Layer::keep_at_rest): a vocabulary-sized
// head (0.5 GB in bfloat16 for Llama 3) never exists whole in float32.
constexpr int64_t kAtRestSliceBytes = int64_t(64) << 20;
at::Tensor convert_cached(const at::Tensor& t, at::Device device, at::ScalarType dtype, TensorCache& cache);

class Layer {
 public:
  Layer(std::string name, LayerKind kind, at::Tensor weight, at::Tensor bias, const Hooks* hooks, ConvSpec conv = {});

  const std::string& name() const { return name_; }
  LayerKind kind() const { return kind_; }
  const std::string& input_point() const { return in_point_; }
  const std::string& output_point() const { return out_point_; }
  const ConvSpec& conv() const { return conv_; }

  const at::Tensor& weight() const { return weight_; }  // F32 [out, in] (Linear); [out, in/g, k...] (Conv); [vocab, dim] (Embedding)
  const at::Tensor& bias() const { return bias_; }      // [out] or undefined
  const at::Tensor& original_weight() const { return original_weight_; }
  const at::Tensor& original_bias() const { return original_bias_; }
  bool modified() const { return modified_; }
  // Replaces the weight. Shapes must match unless allow_reshape (structured pruning).
  void set_weight(at::Tensor w, bool allow_reshape = false);
  void set_bias(at::Tensor b, bool allow_reshape = false);
  void set_kernel(std::shared_ptr<LayerKernel> k);
  const LayerKernel* kernel() const { return kernel_.get(); }
  void reset();  // original weight and bias, no kernel, no encoding, no runtime
  // How the layer executes, without changing what it is: e.g. its 4-bit weight run from packed
  // integers (core/nn/packed_linear.h). Exporters, statistics and errors keep reading weight() and
  // encoding(); compute() goes through the runtime. Dropped when the weight or kernel changes.
  void set_runtime(std::shared_ptr<LayerKernel> r) { runtime_ = std::move(r); }
  const LayerKernel* runtime() const { return runtime_.get(); }
  // The quantizer's integers and scales for the current weight (null when it is not quantized).
  void set_encoding(std::shared_ptr<const WeightEncoding> e) {
    encoding_ = std::move(e);
    runtime_.reset();  // it ran the integers of the encoding this one replaces
  }
  const WeightEncoding* encoding() const { return encoding_.get(); }
  // The grid the checkpoint stored the original weight on (a compressed-tensors checkpoint's
  // integers and scales), kept through reset(); exporters do not read it, execution may
  // (execution_encoding).
  void set_stored_encoding(std::shared_ptr<const WeightEncoding> e) { stored_encoding_ = std::move(e); }
  // The grid the current weight lies on: the quantizer's, else (the weight unchanged) the stored one.
  const WeightEncoding* execution_encoding() const { return encoding_ ? encoding_.get() : modified_ ? nullptr : stored_encoding_.get(); }

  int64_t out_features() const { return weight_.size(0); }
  int64_t in_features() const;  // Linear: in; Conv: in/groups × kernel; Embedding: dim
  std::vector<int64_t> shape() const { return weight_.sizes().vec(); }
  int64_t parameters() const;  // stored parameters now (weight + bias, or the kernel's)

  // Through the hooks: what the model calls.
  at::Tensor forward(const at::Tensor& x) const;
  // Without hooks: what methods call to measure a layer's output error.
  at::Tensor compute(const at::Tensor& x) const;
  // The plain op with an explicit weight (used by kernels-free methods and by compute()).
  at::Tensor apply(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) const;

  void to(at::Device device, at::ScalarType dtype, TensorCache& cache);

  // --- streaming (Model::stream) ---
  // The weight stays as stored, a view of the mapped checkpoint, and each call converts what it
  // needs to `compute` (an embedding its looked-up rows, a large Linear a slice of rows at a
  // time) unless the layer's block is resident. Nothing writes to the stored views.
  // release: lets go of the file pages a slice read (the checkpoint's release_pages), so that a
  // head's stored rows do not pile up in resident memory while it is computed.
  void keep_at_rest(const at::TensorOptions& compute, int64_t slice_bytes = kAtRestSliceBytes, std::function<void()> release = {});
  void make_resident(TensorCache& cache);  // converted copies for the time its block runs
  void evict() noexcept;                   // back to the stored views
  bool streamed() const { return streamed_; }
  bool resident() const { return resident_; }
  // A streamed layer can be compressed while it is resident; before its block is evicted, the
  // compressed weight (and bias) is written out and the layer rests on those stored views instead
  // of the checkpoint's (Model::settle). original_weight() stays the checkpoint's.
  void rest_on(at::Tensor weight, at::Tensor bias);

 private:
  at::Tensor compute_at_rest(const at::Tensor& x) const;
  void check_changeable() const;

  std::string name_, in_point_, out_point_;
  LayerKind kind_;
  at::Tensor weight_, bias_, original_weight_, original_bias_;
  at::Tensor rest_weight_, rest_bias_;  // streamed: what the layer holds between residencies
  std::shared_ptr<LayerKernel> kernel_, runtime_;
  std::shared_ptr<const WeightEncoding> encoding_, stored_encoding_;
  const Hooks* hooks_;
  ConvSpec conv_;
  bool modified_ = false;
  at::TensorOptions compute_;
  int64_t slice_bytes_ = kAtRestSliceBytes;
  std::function<void()> release_;
  bool streamed_ = false, resident_ = false;
};

}  // namespace quench
