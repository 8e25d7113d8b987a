#include "core/data/image_decode.h"

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "core/util/error.h"
#include "core/util/read_file.h"

namespace quench {

namespace {
struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<FILE, FileCloser>;

// A 74-byte PNG can claim 100000×100000 pixels; the size is checked from the header, before any
// allocation. The bound is what evaluation can afford, not what decoding can: a 662-byte JPEG
// claiming 255×65292 (16.6 M pixels, found by fuzz_image) took 740 MB through decoding and
// preprocessing, so 100 M pixels would have been over 4 GB. 2^24 pixels (4096×4096, a 16-megapixel
// photo) is still far above what a classifier reads.
constexpr uint64_t kMaxPixels = uint64_t{1} << 24;

void check_dimensions(const std::string& path, uint64_t w, uint64_t h) {
  QUENCH_CHECK(w > 0 && h > 0, path, ": the image header gives a size of ", w, "×", h);
  QUENCH_CHECK(w * h <= kMaxPixels, path, ": the image header claims ", w, "×", h, " pixels; Quench decodes at most ",
               kMaxPixels, " pixels per image");
}

// libpng prints its errors and warnings on stderr by default; keep the message for ours instead.
void png_error_to_buffer(png_structp png, png_const_charp msg) {
  auto* buf = static_cast<char*>(png_get_error_ptr(png));
  std::snprintf(buf, 256, "%s", msg);
  png_longjmp(png, 1);
}
void png_ignore_warning(png_structp, png_const_charp) {}

at::Tensor decode_png(const std::string& path, FILE* f) {
  char message[256] = "truncated";
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, message, png_error_to_buffer, png_ignore_warning);
  QUENCH_CHECK(png, path, ": cannot start the PNG decoder");
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    fail(path, ": cannot start the PNG decoder");
  }
  std::vector<uint8_t> pixels;
  std::vector<png_bytep> rows;
  // libpng reports errors by longjmp; nothing with a destructor may be created below this point.
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    fail(path, ": corrupt PNG (", message, ")");
  }
  png_init_io(png, f);
  png_read_info(png, info);
  const uint64_t claimed_w = png_get_image_width(png, info), claimed_h = png_get_image_height(png, info);
  if (claimed_w == 0 || claimed_h == 0 || claimed_w * claimed_h > kMaxPixels) {
    png_destroy_read_struct(&png, &info, nullptr);
    check_dimensions(path, claimed_w, claimed_h);
  }
  png_set_strip_16(png);
  png_set_palette_to_rgb(png);
  png_set_expand_gray_1_2_4_to_8(png);
  png_set_strip_alpha(png);
  png_read_update_info(png, info);
  const png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  const int channels = png_get_channels(png, info);
  pixels.resize(static_cast<size_t>(w) * h * channels);
  rows.resize(h);
  for (png_uint_32 y = 0; y < h; ++y) rows[y] = pixels.data() + static_cast<size_t>(y) * w * channels;
  png_read_image(png, rows.data());
  png_destroy_read_struct(&png, &info, nullptr);
  auto t = at::empty({static_cast<int64_t>(h), static_cast<int64_t>(w), channels}, at::kByte);
  std::memcpy(t.data_ptr<uint8_t>(), pixels.data(), pixels.size());
  return channels == 2 ? t.narrow(2, 0, 1).contiguous() : t;  // gray + alpha: drop alpha
}

struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_fail(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// libjpeg pads a truncated file with gray and only warns (on stderr): that image would be
// evaluated as if it were whole. Truncation is an error here; other warnings (extraneous bytes
// before a marker, common in files that decode fine) stay silent, as in PIL.
void jpeg_message(j_common_ptr cinfo, int level) {
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) jpeg_fail(cinfo);
}

at::Tensor decode_jpeg(const std::string& path, FILE* f) {
  jpeg_decompress_struct cinfo;
  JpegError err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_fail;
  err.mgr.emit_message = jpeg_message;
  std::vector<uint8_t> pixels;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    fail(path, ": corrupt JPEG (", err.message, ")");
  }
  jpeg_create_decompress(&cinfo);
  jpeg_stdio_src(&cinfo, f);
  jpeg_read_header(&cinfo, TRUE);
  if (uint64_t{cinfo.image_width} * cinfo.image_height > kMaxPixels || cinfo.image_width == 0 || cinfo.image_height == 0) {
    const uint64_t w = cinfo.image_width, h = cinfo.image_height;
    jpeg_destroy_decompress(&cinfo);
    check_dimensions(path, w, h);
  }
  if (cinfo.jpeg_color_space != JCS_GRAYSCALE) cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  const int w = static_cast<int>(cinfo.output_width), h = static_cast<int>(cinfo.output_height);
  const int c = cinfo.output_components;
  pixels.resize(static_cast<size_t>(w) * h * c);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = pixels.data() + static_cast<size_t>(cinfo.output_scanline) * w * c;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  auto t = at::empty({h, w, c}, at::kByte);
  std::memcpy(t.data_ptr<uint8_t>(), pixels.data(), pixels.size());
  return t;
}
}  // namespace

at::Tensor decode_image(const std::string& path) {
  check_regular_file(path, "image");
  File f(std::fopen(path.c_str(), "rb"));
  QUENCH_CHECK(f, path, ": cannot open");
  unsigned char magic[8] = {};
  const size_t got = std::fread(magic, 1, sizeof magic, f.get());
  std::rewind(f.get());
  if (got >= 8 && png_sig_cmp(magic, 0, 8) == 0) return decode_png(path, f.get());
  if (got >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF) return decode_jpeg(path, f.get());
  fail(path, ": not a PNG or JPEG image");
}

}  // namespace quench
