#pragma once
// MNIST's IDX format, gzip-compressed or not: big-endian magic (0x00000803 images,
// 0x00000801 labels), big-endian dimensions, then unsigned bytes in C order.
#include <ATen/ATen.h>

#include <string>

namespace quench {

at::Tensor read_idx_images(const std::string& path);  // U8 [N, H, W]
at::Tensor read_idx_labels(const std::string& path);  // I64 [N]

}  // namespace quench
