#include "core/data/idx.h"

#include <zlib.h>

#include <cstring>
#include <vector>

#include "core/util/error.h"
#include "core/util/read_file.h"

namespace quench {

namespace {
// An IDX file's bytes, inflated when it starts with the gzip magic. Both the file and what it
// inflates to are bounded: EMNIST's largest set is 0.55 GB, and a small gzip can claim gigabytes.
constexpr uint64_t kMaxIdxBytes = 1ull << 30;

std::string read_maybe_gzip(const std::string& path) {
  std::string raw = read_file(path, kMaxIdxBytes, "IDX");
  if (raw.size() < 2 || static_cast<uint8_t>(raw[0]) != 0x1f || static_cast<uint8_t>(raw[1]) != 0x8b) return raw;
  z_stream z{};
  QUENCH_CHECK(inflateInit2(&z, 15 + 32) == Z_OK, path, ": cannot start inflating the gzip data");
  struct End {
    z_stream* z;
    ~End() { inflateEnd(z); }
  } end{&z};
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  z.avail_in = static_cast<uInt>(raw.size());
  std::string out;
  char buf[1 << 16];
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    const int rc = inflate(&z, Z_NO_FLUSH);
    if (rc == Z_BUF_ERROR && z.avail_in == 0) fail(path, ": truncated gzip data");
    if (rc != Z_OK && rc != Z_STREAM_END)
      fail(path, ": corrupt gzip data (", z.msg ? z.msg : "inflate error " + std::to_string(rc), ")");
    out.insert(out.end(), buf, buf + (sizeof buf - z.avail_out));
    if (out.size() > kMaxIdxBytes)
      fail(path, ": the gzip data inflates to more than ", kMaxIdxBytes, " bytes; Quench reads at most that for an IDX file");
    if (rc == Z_STREAM_END) break;
    if (z.avail_in == 0 && z.avail_out != 0) fail(path, ": truncated gzip data");
  }
  return out;
}

uint32_t be32(const std::string& b, size_t off) {
  const auto at = [&](size_t i) { return uint32_t(static_cast<uint8_t>(b[off + i])); };
  return at(0) << 24 | at(1) << 16 | at(2) << 8 | at(3);
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
  if (n > 0) std::memcpy(t.data_ptr<uint8_t>(), b.data() + 16, n * h * w);  // an empty tensor's pointer is null
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
  if (n > 0) std::memcpy(t.data_ptr<uint8_t>(), b.data() + 8, n);
  return t.to(at::kLong);
}

}  // namespace quench
