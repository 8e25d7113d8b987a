#include "core/data/image_decode.h"

#include <jpeglib.h>
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "core/util/error.h"

namespace quench {

namespace {
struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<FILE, FileCloser>;

at::Tensor decode_png(const std::string& path, FILE* f) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
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
    fail(path, ": corrupt or truncated PNG");
  }
  png_init_io(png, f);
  png_read_info(png, info);
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

at::Tensor decode_jpeg(const std::string& path, FILE* f) {
  jpeg_decompress_struct cinfo;
  JpegError err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_fail;
  std::vector<uint8_t> pixels;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    fail(path, ": corrupt JPEG (", err.message, ")");
  }
  jpeg_create_decompress(&cinfo);
  jpeg_stdio_src(&cinfo, f);
  jpeg_read_header(&cinfo, TRUE);
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
