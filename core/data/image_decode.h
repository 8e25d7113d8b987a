#pragma once
// Decoding PNG and JPEG files (libpng, libjpeg) into U8 [H, W, C] tensors, C = 1 or 3.
#include <ATen/ATen.h>

#include <string>

namespace quench {

at::Tensor decode_image(const std::string& path);  // U8 [H, W, C]; throws naming the file

}  // namespace quench
