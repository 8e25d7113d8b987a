#pragma once
// GPTQ (Frantar et al., "GPTQ: Accurate Post-Training Quantization for Generative Pre-trained
// Transformers", ICLR 2023; IST-DASLab/gptq gptq.py): quantize a linear's columns one at a time
// and spread each column's rounding error over the columns not yet quantized, weighted by the
// inverse Hessian of the layer's reconstruction loss, H = (2/N) Σ x xᵀ over calibration inputs.
// Blocked lazy updates (block_size columns), damping λ = damp·mean(diag H), dead inputs
// (H_jj = 0) zeroed, optional act-order (columns by decreasing diag H, undone at the end); in
// group mode each group's (scale, zero) is fitted on the current, already-updated columns.
// compress() runs it block-sequentially: each block's inputs come from the previous *quantized*
// blocks, stages inside a block in order (q,k,v → o → gate,up → down).
// Reproduces (tests): on the same layer and inputs GPTQ's output error ≤ RTN's
// (GptqTest.OutputErrorBelowRtn); on sotu-llama GPTQ W4 g128 and W3 g128 beat RTN at the same
// setting (QuantAccuracy.GptqBeatsRtn*). Paper check: LLaMA-7B WikiText-2 RTN-4 6.29 → GPTQ-4 6.09.
#include <ATen/ATen.h>

#include "core/compress/settings.h"
#include "core/nn/weight_encoding.h"

namespace quench {

// Running H = (2/N) Σ x xᵀ over every row of every tensor added (x: [..., in], any float dtype).
class HessianAccumulator {
 public:
  explicit HessianAccumulator(int64_t in) : in_(in) {}
  void add(const at::Tensor& x);
  // F32 [in, in] on the device of the inputs, a new tensor for every call. After expect_uses(n),
  // the n-th call hands over the sum itself and the accumulator is spent: a 14336-input sum is
  // 0.8–1.6 GB that would otherwise stay beside the copy GPTQ factors.
  at::Tensor hessian();
  void expect_uses(int n) { uses_left_ = n; }
  int64_t rows() const { return rows_; }

 private:
  int64_t in_;
  // Σ x xᵀ: F64, or F32 for half-precision inputs on a GPU (TF32 products summed in float32, as
  // the reference GPTQ does; float64 held 1.6 GB more for a 14336-input layer).
  at::Tensor sum_;
  int64_t rows_ = 0;
  int uses_left_ = 0;  // 0: not counted
  bool spent_ = false;
};

// What GPTQ and SparseGPT share. Dead inputs (H_jj = 0: never active) get H_jj = 1, and their
// weight columns are zeroed in place. Returns how many there were.
int64_t zero_dead_inputs(at::Tensor& W, at::Tensor& H);
// U, the upper Cholesky factor of (H + λI)⁻¹ with λ = damp·mean(diag H), in float32. H is damped
// in place, and λ goes to *lambda. Throws naming the layer and the recipe key to raise when H is
// not positive definite.
at::Tensor upper_inverse_cholesky(at::Tensor& H, double damp, const std::string& layer, const char* damp_key, double* lambda);

struct GptqInfo {
  int64_t dead_columns = 0;
  double damp = 0;     // λ used
  double loss = 0;     // Σ (w − q)² / U_ii² over all columns: GPTQ's own error estimate
  WeightEncoding encoding;  // the scales (zeros, g_idx) or ggml parameters the columns were quantized with
};

// w2d: F32 [out, in]; H: [in, in]. Returns the fake-quantized weight in the original column order.
// Throws naming the layer when H is not positive definite even after damping. H is copied unless
// the call holds its only reference (std::move it in to save the copy: 0.8 GB at 14336 inputs).
at::Tensor gptq_quantize(const at::Tensor& w2d, at::Tensor H, const WeightQuant& setting, const std::string& layer,
                         GptqInfo* info = nullptr);

}  // namespace quench
