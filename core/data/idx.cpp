#include "core/data/idx.h"

#include <zlib.h>

#include <cstring>
#include <vector>

#include "core/util/error.h"

namespace quench {

namespace {
// Reads the whole file, inflating it when it starts with the gzip magic (gzread passes plain
// files through unchanged).
std::vector<uint8_t> read_maybe_gzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  QUENCH_CHECK(f, path, ": cannot open");
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  for (;;) {
    const int n = gzread(f, buf, sizeof buf);
    if (n < 0) {
      int err = 0;
      std::string msg = gzerror(f, &err);
      gzclose(f);
      fail(path, ": corrupt gzip data (", msg, ")");
    }
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  gzclose(f);
  return out;
}

uint32_t be32(const std::vector<uint8_t>& b, size_t off) {
  return (uint32_t(b[off]) << 24) | (uint32_t(b[off + 1]) << 16) | (uint32_t(b[off + 2]) << 8) | uint32_t(b[off + 3]);
}
}  // namespace

at::Tensor read_idx_images(const std::string& path) {
  auto b = read_maybe_gzip(path);
  QUENCH_CHECK(b.size() >= 16, path, ": truncated IDX header (", b.size(), " bytes)");
  const uint32_t magic = be32(b, 0);
  QUENCH_CHECK(magic != 0x801, path, ": this is an IDX label file (magic 0x00000801); expected images (0x00000803)");
  QUENCH_CHECK(magic == 0x803, path, ": not an IDX image file (magic 0x", std::hex, magic, ", expected 0x00000803)");
  const uint64_t n = be32(b, 4), h = be32(b, 8), w = be32(b, 12);
  QUENCH_CHECK(h > 0 && w > 0 && h <= 65536 && w <= 65536, path, ": implausible image size ", h, "×", w);
  QUENCH_CHECK(b.size() - 16 >= n * h * w, path, ": truncated: header says ", n, " images of ", h, "×", w, " (",
               n * h * w, " bytes) but ", b.size() - 16, " bytes follow");
  auto t = at::empty({static_cast<int64_t>(n), static_cast<int64_t>(h), static_cast<int64_t>(w)}, at::kByte);
  std::memcpy(t.data_ptr<uint8_t>(), b.data() + 16, n * h * w);
  return t;
}

at::Tensor read_idx_labels(const std::string& path) {
  auto b = read_maybe_gzip(path);
  QUENCH_CHECK(b.size() >= 8, path, ": truncated IDX header (", b.size(), " bytes)");
  const uint32_t magic = be32(b, 0);
  QUENCH_CHECK(magic != 0x803, path, ": this is an IDX image file (magic 0x00000803); expected labels (0x00000801)");
  QUENCH_CHECK(magic == 0x801, path, ": not an IDX label file (magic 0x", std::hex, magic, ", expected 0x00000801)");
  const uint64_t n = be32(b, 4);
  QUENCH_CHECK(b.size() - 8 >= n, path, ": truncated: header says ", n, " labels but ", b.size() - 8, " bytes follow");
  auto t = at::empty({static_cast<int64_t>(n)}, at::kByte);
  std::memcpy(t.data_ptr<uint8_t>(), b.data() + 8, n);
  return t.to(at::kLong);
}

}  // namespace quench
