// Datasets: text sources, token windows, IDX files, image folders and preprocessing.
#include <gtest/gtest.h>

#include <fstream>

#include "core/data/idx.h"
#include "core/data/image_dataset.h"
#include "core/data/image_decode.h"
#include "core/data/text_source.h"
#include "core/data/token_windows.h"
#include "core/util/error.h"
#include "test_util.h"

namespace quench {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void write(const std::string& path, const std::string& s) { std::ofstream(path) << s; }

TEST(TextSource, FileFolderAndJsonl) {
  test::TempDir d;
  write(d.file("a.txt"), "first");
  write(d.file("b.txt"), "second");
  write(d.file("ignored.md"), "not text");
  EXPECT_EQ(read_text_source(d.file("a.txt")).text, "first");
  auto folder = read_text_source(d.path());
  EXPECT_EQ(folder.text, "first\n\nsecond");
  EXPECT_EQ(folder.files, 2);
  write(d.file("c.jsonl"), "{\"text\": \"one\"}\n\n{\"text\": \"two\", \"id\": 3}\n");
  auto jl = read_text_source(d.file("c.jsonl"));
  EXPECT_EQ(jl.text, "one\n\ntwo");
  EXPECT_EQ(jl.documents, 2);
}

TEST(TextSource, ClearErrors) {
  test::TempDir d;
  write(d.file("empty.txt"), "  \n\t\n");
  EXPECT_NE(error_of([&] { read_text_source(d.file("empty.txt")); }).find("empty.txt: no text"), std::string::npos);
  write(d.file("bad.jsonl"), "{\"text\": \"ok\"}\n{\"txt\": 1}\n");
  EXPECT_NE(error_of([&] { read_text_source(d.file("bad.jsonl")); }).find("bad.jsonl:2: no \"text\" field"), std::string::npos);
  write(d.file("broken.jsonl"), "{\"text\": \"ok\"\n");
  EXPECT_NE(error_of([&] { read_text_source(d.file("broken.jsonl")); }).find("broken.jsonl:1: not valid JSON"), std::string::npos);
  EXPECT_NE(error_of([&] { read_text_source(d.file("missing.txt")); }).find("missing.txt: no such file"), std::string::npos);
  test::TempDir empty;
  EXPECT_NE(error_of([&] { read_text_source(empty.path()); }).find("no .txt files"), std::string::npos);
}

TEST(TokenWindows, NonOverlappingProtocol) {
  auto w = perplexity_windows(1000, 256, 0, 0);
  ASSERT_EQ(w.size(), 3u);  // 3 × 257 = 771 ≤ 1000; the partial tail is not scored
  EXPECT_EQ(w[1].begin, 257);
  EXPECT_EQ(w[1].length, 257);
  EXPECT_EQ(w[1].score_from, 0);
  EXPECT_EQ(perplexity_windows(110000, 256, 0, 400).size(), 400u);
}

TEST(TokenWindows, SlidingWindowsScoreEveryTokenOnce) {
  for (int64_t stride : {1, 7, 64, 128, 257}) {
    const int64_t n = 1000, ctx = 256;
    auto ws = perplexity_windows(n, ctx, stride, 0);
    std::vector<int> scored(static_cast<size_t>(n), 0);
    for (const auto& w : ws)
      for (int64_t p = w.score_from; p < w.length - 1; ++p) scored[static_cast<size_t>(w.begin + p + 1)]++;
    // Non-overlapping windows stop at the last full one, and a window's first token is input only.
    const bool protocol = stride == ctx + 1;
    const int64_t last = protocol ? 3 * 257 : n;
    for (int64_t t = 1; t < last; ++t)
      EXPECT_EQ(scored[static_cast<size_t>(t)], protocol && t % 257 == 0 ? 0 : 1) << "stride " << stride << " token " << t;
  }
  EXPECT_NE(error_of([] { perplexity_windows(1000, 256, 300, 0); }).find("larger than the window"), std::string::npos);
  EXPECT_NE(error_of([] { perplexity_windows(100, 256, 0, 0); }).find("fewer than one window"), std::string::npos);
}

TEST(TokenWindows, CalibrationSamples) {
  auto ids = at::arange(10000, at::kLong);
  auto a = sample_windows(ids, 16, 128, true, 7), b = sample_windows(ids, 16, 128, true, 7);
  EXPECT_TRUE(at::equal(a, b));  // seeded
  EXPECT_FALSE(at::equal(a, sample_windows(ids, 16, 128, true, 8)));
  EXPECT_EQ(a.sizes(), at::IntArrayRef({16, 128}));
  EXPECT_TRUE(at::equal(a.select(1, 1) - a.select(1, 0), at::ones({16}, at::kLong)));  // contiguous runs
  auto first = sample_windows(ids, 4, 100, false, 0);
  EXPECT_EQ(first[3][0].item<int64_t>(), 300);
  EXPECT_THROW(sample_windows(ids, 200, 100, false, 0), Error);
}

TEST(Idx, ReadsBundledMnistAndRefusesBrokenFiles) {
  auto images = read_idx_images(test::demo("mnist/test-images-idx3-ubyte.gz"));
  auto labels = read_idx_labels(test::demo("mnist/test-labels-idx1-ubyte.gz"));
  EXPECT_EQ(images.sizes(), at::IntArrayRef({1000, 28, 28}));
  EXPECT_EQ(labels.numel(), 1000);
  EXPECT_EQ(at::bincount(labels).min().item<int64_t>(), 100);  // 100 per class
  EXPECT_NE(error_of([] { read_idx_images(test::fixture("images/wrong-magic-idx3-ubyte")); }).find("not an IDX image file"),
            std::string::npos);
  EXPECT_NE(error_of([] { read_idx_images(test::fixture("images/truncated-idx3-ubyte")); }).find("truncated"), std::string::npos);
  EXPECT_NE(error_of([] { read_idx_images(test::fixture("images/truncated-idx3-ubyte.gz")); }).find("truncated"), std::string::npos);
  EXPECT_NE(error_of([] { read_idx_images(test::demo("mnist/test-labels-idx1-ubyte.gz")); }).find("label file"), std::string::npos);
}

// Found by fuzz_idx (fuzz/corpus/idx/Idx.EmptySetsAreReadAndRefusedAsADataset): a header of zero
// images passed libtorch's null pointer of an empty tensor to memcpy.
TEST(Idx, EmptySetsAreReadAndRefusedAsADataset) {
  test::TempDir d;
  {
    std::ofstream f(d.file("images"), std::ios::binary);
    f << std::string("\0\0\x08\x03\0\0\0\0\0\0\0\x1c\0\0\0\x1c", 16);  // 0 images of 28×28
    std::ofstream g(d.file("labels"), std::ios::binary);
    g << std::string("\0\0\x08\x01\0\0\0\0", 8);  // 0 labels
  }
  EXPECT_EQ(read_idx_images(d.file("images")).sizes(), at::IntArrayRef({0, 28, 28}));
  EXPECT_EQ(read_idx_labels(d.file("labels")).numel(), 0);
  auto msg = error_of([&] { load_idx_dataset(d.file("images"), d.file("labels")); });
  EXPECT_NE(msg.find("images: no images"), std::string::npos) << msg;
}

// Bounded reads: a device is refused before gzip would read it forever; corrupt gzip is named.
TEST(Idx, RefusesDevicesAndCorruptGzip) {
  auto dev = error_of([] { read_idx_images("/dev/zero"); });
  EXPECT_NE(dev.find("/dev/zero: the IDX file is a character device"), std::string::npos) << dev;
  test::TempDir d;
  {
    std::ofstream f(d.file("bad.gz"), std::ios::binary);
    // A gzip header, then a deflate block of the reserved type 3.
    f << std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\x07garbage", 19);
  }
  auto bad = error_of([&] { read_idx_labels(d.file("bad.gz")); });
  EXPECT_NE(bad.find("bad.gz: corrupt gzip data"), std::string::npos) << bad;
}

// The JPEG fixtures (make_jpegs.cpp): gray and RGB, baseline and progressive, decoded to their
// sizes and close to the smooth gradient they were written from (quality 90).
TEST(ImageDecode, Jpeg) {
  struct Case {
    const char* file;
    int64_t w, h, c;
  };
  for (const Case& k : {Case{"gray-8x8.jpg", 8, 8, 1}, Case{"rgb-12x10.jpg", 12, 10, 3}, Case{"rgb-progressive-16x9.jpg", 16, 9, 3}}) {
    const at::Tensor img = decode_image(test::fixture(std::string("images/") + k.file));
    ASSERT_EQ(img.sizes(), at::IntArrayRef({k.h, k.w, k.c})) << k.file;
    auto want = at::empty_like(img, at::kFloat);
    for (int64_t y = 0; y < k.h; ++y)
      for (int64_t x = 0; x < k.w; ++x)
        for (int64_t c = 0; c < k.c; ++c) want[y][x][c] = static_cast<float>(x * 8 + y * 5 + c * 40);
    EXPECT_LT((img.to(at::kFloat) - want).abs().max().item<float>(), 8.0f) << k.file;
  }
  test::TempDir d;
  {
    const std::string bytes = test::read_file(test::fixture("images/rgb-12x10.jpg"));
    std::ofstream(d.file("cut.jpg"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  auto cut = error_of([&] { decode_image(d.file("cut.jpg")); });
  EXPECT_NE(cut.find("cut.jpg"), std::string::npos) << cut;
}

// fuzz_image found a 662-byte JPEG claiming 255×65292 pixels (fuzz/corpus/image/
// ImageDecode.JpegSizeBoundIsWhatEvaluationAffords.jpg) that took 740 MB to evaluate: the bound is
// 2^24 pixels, checked from the header.
TEST(ImageDecode, JpegSizeBoundIsWhatEvaluationAffords) {
  std::string bytes = test::read_file(test::fixture("images/rgb-12x10.jpg"));
  const size_t sof = bytes.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  bytes[sof + 5] = '\x10', bytes[sof + 6] = '\x01';  // height 4097
  bytes[sof + 7] = '\x10', bytes[sof + 8] = '\x01';  // width 4097
  test::TempDir d;
  std::ofstream(d.file("big.jpg"), std::ios::binary) << bytes;
  auto msg = error_of([&] { decode_image(d.file("big.jpg")); });
  EXPECT_NE(msg.find("big.jpg: the image header claims 4097×4097 pixels; Quench decodes at most 16777216"), std::string::npos) << msg;
}

TEST(ImageFolder, MatchesIdxPixelsAndLabels) {
  const Config cfg = Config::load(test::demo("mnist-vit/config.json"));
  auto folder = load_image_folder(test::fixture("images/mnist-folder"), &cfg);
  auto idx = load_idx_dataset(test::demo("mnist/test-images-idx3-ubyte.gz"), test::demo("mnist/test-labels-idx1-ubyte.gz"));
  ASSERT_EQ(folder.size(), 60);
  EXPECT_TRUE(folder.warnings.empty());
  // Folder order is class-major; every folder image is one of the first 60 IDX digits with its label.
  auto first = idx.images.narrow(0, 0, 60);
  for (int64_t i = 0; i < folder.size(); ++i) {
    auto eq = (first == folder.images[i].unsqueeze(0)).flatten(1).all(1);
    ASSERT_TRUE(eq.any().item<bool>()) << i;
    EXPECT_EQ(idx.labels[eq.nonzero()[0][0].item<int64_t>()].item<int64_t>(), folder.labels[i].item<int64_t>());
  }
  auto rgb = load_image_folder(test::fixture("images/rgb-folder"), &cfg);
  EXPECT_EQ(rgb.images.size(3), 3);
  auto pre = ImagePreprocessor::from_model_dir(test::demo("mnist-vit"));
  auto x = pre(rgb.images);  // RGB → the model's one channel
  EXPECT_EQ(x.sizes(), at::IntArrayRef({rgb.size(), 1, 28, 28}));
}

TEST(ImageFolder, ClearErrors) {
  EXPECT_NE(error_of([] { load_image_folder(test::fixture("images/no-classes")); }).find("no class sub-folders"), std::string::npos);
  EXPECT_NE(error_of([] { load_image_folder(test::fixture("images/empty-classes")); }).find("hold no PNG or JPEG"), std::string::npos);
  auto msg = error_of([] { load_image_folder(test::fixture("images/bad-image")); });
  EXPECT_NE(msg.find("0000.png: corrupt PNG ("), std::string::npos) << msg;
}

TEST(Preprocess, MnistProtocol) {
  auto pre = ImagePreprocessor::from_model_dir(test::demo("mnist-resnet"));
  auto u8 = at::zeros({1, 28, 28, 1}, at::kByte);
  u8[0][0][1][0] = 255;
  u8[0][0][2][0] = 51;
  auto x = pre(u8);
  EXPECT_NEAR(x[0][0][0][0].item<float>(), -1.0, 1e-6);  // (0/255 − 0.5)/0.5
  EXPECT_NEAR(x[0][0][0][1].item<float>(), 1.0, 1e-6);
  EXPECT_NEAR(x[0][0][0][2].item<float>(), -0.6, 1e-6);
}

}  // namespace
}  // namespace quench
