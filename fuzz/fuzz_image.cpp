// libFuzzer target: PNG and JPEG decoding (core/data/image_decode.cpp, libpng and libjpeg) on
// arbitrary bytes. The decoder must refuse a header's size before allocating for it, and turn
// every library error into quench::Error naming the file; anything else is a finding. A decoded
// image then goes through the tiny ViT's preprocessing (resize to its input, normalize), as
// evaluation does.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "core/data/image_dataset.h"
#include "core/data/image_decode.h"
#include "core/util/error.h"
#include "fuzz/memfd_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = quench::fuzz::input_as_file(data, size);
  try {
    const at::Tensor img = quench::decode_image(path);
    if (img.dim() != 3 || img.scalar_type() != at::kByte) std::abort();
    const int64_t c = img.size(2);
    if (c != 1 && c != 3) std::abort();
    (void)img.sum().item<int64_t>();
    static const auto pre = quench::ImagePreprocessor::from_model_dir(QUENCH_SOURCE_DIR "/tests/fixtures/hf-tiny/vit-tiny");
    const at::Tensor x = pre(img.unsqueeze(0));
    if (x.size(1) != pre.channels || !x.isfinite().all().item<bool>()) std::abort();
  } catch (const quench::Error&) {
  }
  return 0;
}
