#pragma once
// Low-rank factorization of a linear's weight, W ≈ A·B with A [out, r], B [r, in], computed as
// y = A(Bx) by a LowRankKernel that replaces the layer's computation (Layer::set_kernel).
// The methods are one file each, registered in lowrank_method.h: svd.cpp (truncated SVD of W),
// asvd.cpp (activation-scaled), svd_llm.cpp (whitened), palu.cpp (key/value head groups); this
// file holds what they share.
// Reproduces (tests): on the same layer and inputs SVD-LLM's output error ≤ ASVD's and plain SVD's
// (LowRankTest.ActivationAwareBeatsPlainSvd); on sotu-llama at the same rank activation-aware SVD
// beats plain SVD on perplexity (PruneAccuracy.ActivationAwareSvdBeatsSvd). Paper check:
// LLaMA-7B 20% removed: SVD 20061, ASVD 11.14, SVD-LLM 7.94.
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "core/compress/prune_settings.h"
#include "core/compress/settings.h"
#include "core/nn/layer.h"

namespace quench {

struct LowRankFactors {
  at::Tensor a;  // F32 [out, r]
  at::Tensor b;  // F32 [r, in]
  std::vector<int64_t> group_ranks;  // palu: the rank of each head group (A is block diagonal)
  int64_t rank() const { return a.size(1); }
  // Values stored: A's nonzero blocks and B.
  int64_t parameters() const;
  at::Tensor dense() const { return a.matmul(b); }
};

// The smallest rank whose leading singular values hold `energy` of Σσ² (σ: any order).
int64_t rank_for_energy(const at::Tensor& singular_values, double energy);

// The thin SVD m = U·diag(S)·Vh of a finite 2-D matrix, reduced by QR to its square core and,
// where cuSOLVER fails to converge on that core, computed again by LAPACK on the CPU. Errors name
// `layer`.
std::tuple<at::Tensor, at::Tensor, at::Tensor> thin_svd(const at::Tensor& m, const std::string& layer);

// The factors of the setting's rank (or energy) by its method. w2d: F32 [out, in]. hessian: Σ xxᵀ
// up to a factor (SVD-LLM, Palu); abs_mean: mean|x| per input (ASVD); head_dim: the rows of one
// head (Palu).
LowRankFactors lowrank_factorize(const at::Tensor& w2d, const LowRankSetting& s, const std::string& layer, const at::Tensor& hessian = {},
                                 const at::Tensor& abs_mean = {}, int64_t head_dim = 0);

// W ≈ U_rΣ_rV_rᵀ of m (double), √Σ split into both factors.
LowRankFactors truncated(const at::Tensor& m, int64_t r, const std::string& layer);
// The Cholesky factor L of the input second moment (C = LLᵀ) that whitens W·L; `method` names the
// caller in errors.
at::Tensor whitening(const at::Tensor& hessian, int64_t in, const std::string& layer, const char* method);
// B ← B·L⁻¹.
at::Tensor unwhiten(const at::Tensor& b, const at::Tensor& L);

// How factor A [out, r] is quantized under the layer's weight setting: groups run along r and are
// never longer than r (B [r, in] takes the setting as it is).
WeightQuant factor_a_setting(WeightQuant w, int64_t r);

// y = A(Bx) for a Linear layer (its bias stays the layer's).
class LowRankKernel : public LayerKernel {
 public:
  // parameters: the values stored, when A holds zeros that are not (Palu's block-diagonal A); −1: all of A and B.
  LowRankKernel(at::Tensor a, at::Tensor b, std::string what, int64_t parameters = -1)
      : a_(std::move(a)), b_(std::move(b)), what_(std::move(what)), parameters_(parameters) {}
  at::Tensor forward(const at::Tensor& x) const override;
  std::string describe() const override { return what_; }
  int64_t parameters() const override { return parameters_ >= 0 ? parameters_ : a_.numel() + b_.numel(); }
  at::Tensor dense_weight() const override { return a_.to(at::kFloat).matmul(b_.to(at::kFloat)); }
  void to(at::Device device, at::ScalarType dtype) override;

 private:
  at::Tensor a_, b_;  // [out, r], [r, in]
  std::string what_;
  int64_t parameters_ = -1;
};

}  // namespace quench
