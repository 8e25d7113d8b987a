#pragma once
// The K×K Hadamard matrices (K = 12, 20, 28) of the transform H_n = H_K ⊗ H_{2^m}, in one place for
// the CPU reference and matrix (core/ops/hadamard.cpp) and the CUDA kernel, so online and offline
// rotations use the same matrix. Built by Paley's constructions from quadratic characters:
//   K = 12, 20: Paley I with q = 11, 19 (q ≡ 3 mod 4): H = I + S, S = [[0, 1ᵀ], [-1, Q]];
//   K = 28:     Paley II with q = 13 (q ≡ 1 mod 4): H = C ⊗ [[1, 1], [1, -1]] + I ⊗ [[1, -1], [-1, -1]],
//               C = [[0, 1ᵀ], [1, Q]];
// Q[i][j] = χ_q(j - i). These are not QuaRot's or Dao's K×K tables: any orthogonal choice works as
// long as every rotation in a model comes from this header. Plain constexpr C++, no torch or CUDA.
#include <cstdint>

#if defined(__CUDACC__)
#define QK_CONSTEXPR_HD __host__ __device__ constexpr
#else
#define QK_CONSTEXPR_HD constexpr
#endif

namespace quench::kernels::hadamard_k {

constexpr int kMaxK = 28;

// Row i of H_K as a bit mask: bit j set means H_K[i][j] = -1, clear means +1.
struct Table {
  int k = 1;
  uint32_t neg[kMaxK] = {};
};

QK_CONSTEXPR_HD int quadratic_character(int x, int q) {
  x = ((x % q) + q) % q;
  if (x == 0) return 0;
  for (int y = 1; y < q; ++y)
    if ((y * y) % q == x) return 1;
  return -1;
}

QK_CONSTEXPR_HD Table paley1(int q) {
  Table t;
  t.k = q + 1;
  for (int i = 0; i < t.k; ++i)
    for (int j = 0; j < t.k; ++j) {
      int v = i == j ? 1 : 0;
      if (i == 0 && j > 0) v += 1;
      else if (j == 0 && i > 0) v -= 1;
      else if (i > 0 && j > 0) v += quadratic_character(j - i, q);
      if (v < 0) t.neg[i] |= 1u << j;
    }
  return t;
}

QK_CONSTEXPR_HD Table paley2(int q) {
  Table t;
  const int c = q + 1;
  t.k = 2 * c;
  for (int i = 0; i < t.k; ++i)
    for (int j = 0; j < t.k; ++j) {
      const int ci = i / 2, cj = j / 2, bi = i % 2, bj = j % 2;
      const int cv = ci == cj ? 0 : (ci == 0 || cj == 0) ? 1 : quadratic_character(cj - ci, q);
      const int a = (bi == 1 && bj == 1) ? -1 : 1;   // [[1, 1], [1, -1]]
      const int b = (bi == 0 && bj == 0) ? 1 : -1;   // [[1, -1], [-1, -1]]
      const int v = cv * a + (ci == cj ? b : 0);
      if (v < 0) t.neg[i] |= 1u << j;
    }
  return t;
}

// K in {1, 12, 20, 28}; anything else gives k = 0.
QK_CONSTEXPR_HD Table table(int k) {
  if (k == 1) return Table{};
  if (k == 12) return paley1(11);
  if (k == 20) return paley1(19);
  if (k == 28) return paley2(13);
  Table t;
  t.k = 0;
  return t;
}

// n = K·2^m with K in {1, 12, 20, 28} (K = 1 exactly when n is a power of two); 0 if n has no such form.
QK_CONSTEXPR_HD int factor_k(int64_t n) {
  if (n <= 0) return 0;
  int64_t odd = n;
  while (odd % 2 == 0) odd /= 2;
  if (odd == 1) return 1;
  // 12·2^m = 3·2^(m+2): the odd part alone is not enough, K itself must divide n.
  if (odd == 3 && n % 12 == 0) return 12;
  if (odd == 5 && n % 20 == 0) return 20;
  if (odd == 7 && n % 28 == 0) return 28;
  return 0;
}

}  // namespace quench::kernels::hadamard_k
