#pragma once
// Histograms and per-channel arrays from calibration, stored as compact self-describing blobs.
//
// Blob format "QSA1" (all integers little-endian; documented in docs/store.md):
//   offset 0   4 bytes   magic "QSA1"
//   offset 4   u8        dtype code: 1 f32, 2 f64, 3 i32, 4 i64, 5 u8
//   offset 5   u8        ndim (0..8; 0 is a scalar)
//   offset 6   u16       reserved, 0
//   offset 8   ndim×u64  shape
//   then       numel × itemsize bytes, row-major, little-endian
// The data starts at a multiple of 8 bytes, so a reader can view it in place.
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace quench {

enum class ArrayDtype : uint8_t { F32 = 1, F64 = 2, I32 = 3, I64 = 4, U8 = 5 };

const char* array_dtype_name(ArrayDtype d);  // "f32", ...
size_t array_dtype_size(ArrayDtype d);

struct StatArray {
  ArrayDtype dtype = ArrayDtype::F32;
  std::vector<int64_t> shape;  // empty: a scalar
  std::vector<uint8_t> data;   // little-endian element bytes, row-major

  // 1-D arrays (shape {n}) from host values.
  static StatArray from(const std::vector<float>& v);
  static StatArray from(const std::vector<double>& v);
  static StatArray from(const std::vector<int64_t>& v);
  // A contiguous copy of any-device tensor of dtype float/double/half/bfloat16 (stored f32),
  // int32, int64 or uint8; other dtypes throw naming the dtype.
  static StatArray from(const at::Tensor& t);

  int64_t numel() const;
  std::vector<double> to_doubles() const;
  at::Tensor to_tensor() const;  // CPU tensor of the stored dtype and shape
};

std::vector<uint8_t> encode_array(const StatArray& a);
// Validates magic, dtype, ndim and size; throws naming `context` (e.g. "experiment 3, point x, array y").
StatArray decode_array(const std::vector<uint8_t>& blob, const std::string& context);

}  // namespace quench
