// libFuzzer target: MNIST's IDX reader (core/data/idx.cpp), plain or gzip, on arbitrary bytes. Each
// input is read both as an images file and as a labels file, then as a dataset pairing the two.
// quench::Error is the reader's orderly refusal; anything else (a c10::Error included) is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "core/data/idx.h"
#include "core/data/image_dataset.h"
#include "core/util/error.h"
#include "fuzz/memfd_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = quench::fuzz::input_as_file(data, size);
  try {
    const at::Tensor images = quench::read_idx_images(path);
    if (images.dim() != 3 || images.scalar_type() != at::kByte) std::abort();
    // Touch every pixel: a view reaching past what was read would show here.
    (void)images.sum().item<int64_t>();
  } catch (const quench::Error&) {
  }
  try {
    const at::Tensor labels = quench::read_idx_labels(path);
    if (labels.dim() != 1 || labels.scalar_type() != at::kLong) std::abort();
    (void)labels.sum().item<int64_t>();
  } catch (const quench::Error&) {
  }
  try {
    // The same bytes as both files can only be refused (one magic cannot be both); the pairing's
    // own checks must say so without reading past either.
    (void)quench::load_idx_dataset(path, path);
    std::abort();
  } catch (const quench::Error&) {
  }
  return 0;
}
