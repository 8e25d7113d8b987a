#pragma once
// Walsh–Hadamard rotations along the last dimension, n = K·2^m with K in {1, 12, 20, 28}:
// H_n = H_K ⊗ H_{2^m} (index i = a·2^m + b), H_{2^m} Sylvester's, H_K from kernels/hadamard_k.h.
// The same matrices serve online (hadamard_transform on activations) and offline (folding
// hadamard_matrix into weights): with W' = W·H(n)ᵀ and x' = hadamard_transform(x), W'x' = Wx.
// CPU tensors run a float32 butterfly reference (hadamard.cpp); CUDA tensors the kernel.
#include <ATen/ATen.h>

#include <cstdint>

namespace quench::ops {

// K for n (1 when n is a power of two), or 0 when n has no supported form.
int64_t hadamard_k(int64_t n);
bool hadamard_supported(int64_t n);

// y = x @ H(n)ᵀ along the last dim, n = x.size(-1); normalized (H orthonormal, factor 1/√n) unless
// normalize is false (then entries ±1). float32 / float16 / bfloat16; computed in float32, result
// in x's dtype.
at::Tensor hadamard_transform(const at::Tensor& x, bool normalize = true);
// Into a caller-provided contiguous tensor of x's shape, dtype and device; out may be x (in place).
void hadamard_transform_out(const at::Tensor& x, at::Tensor& out, bool normalize = true);

// The dense [n, n] matrix, orthonormal (H·Hᵀ = I) unless normalize is false; built in float64.
at::Tensor hadamard_matrix(int64_t n, at::ScalarType dtype = at::kFloat, bool normalize = true);

}  // namespace quench::ops
