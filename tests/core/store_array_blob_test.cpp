#include <gtest/gtest.h>

#include "core/store/array_blob.h"
#include "core/util/error.h"

using namespace quench;

// The documented layout, byte for byte: magic, dtype, ndim, reserved, u64 dims, LE data.
TEST(ArrayBlob, LayoutIsTheDocumentedOne) {
  const auto blob = encode_array(StatArray::from(std::vector<float>{1.0f, -2.0f}));
  const std::vector<uint8_t> want = {'Q', 'S', 'A', '1', 1, 1, 0, 0,   // f32, 1-D
                                     2, 0, 0, 0, 0, 0, 0, 0,           // shape [2]
                                     0x00, 0x00, 0x80, 0x3f,           // 1.0f
                                     0x00, 0x00, 0x00, 0xc0};          // -2.0f
  EXPECT_EQ(blob, want);
}

TEST(ArrayBlob, RoundTripsEveryDtypeAndShape) {
  const std::vector<at::Tensor> tensors = {
      at::arange(12, at::kFloat).reshape({3, 4}) * 0.5, at::arange(5, at::kDouble) - 2,
      at::arange(6, at::kInt).reshape({1, 2, 3}),       at::arange(-3, 3, at::kLong),
      at::arange(7, at::kByte),                          at::scalar_tensor(3.5, at::kDouble),
      at::empty({0, 4}, at::kFloat)};
  for (const auto& t : tensors) {
    const StatArray a = decode_array(encode_array(StatArray::from(t)), "test");
    const at::Tensor back = a.to_tensor();
    EXPECT_EQ(back.sizes(), t.sizes());
    EXPECT_EQ(back.scalar_type(), t.scalar_type());
    EXPECT_TRUE(at::equal(back, t)) << t;
  }
  // Half precision is kept as f32.
  const at::Tensor h = at::tensor({0.5, 1.5}, at::kDouble).to(at::kHalf);
  EXPECT_EQ(StatArray::from(h).dtype, ArrayDtype::F32);
  EXPECT_EQ(StatArray::from(h).to_doubles(), (std::vector<double>{0.5, 1.5}));
  EXPECT_EQ(StatArray::from(std::vector<int64_t>{4, -1}).to_doubles(), (std::vector<double>{4, -1}));
}

TEST(ArrayBlob, RejectsDamagedBlobsNamingTheContext) {
  auto good = encode_array(StatArray::from(std::vector<double>{1, 2, 3}));
  auto expect_error = [](const std::vector<uint8_t>& b, const std::string& fragment) {
    try {
      decode_array(b, "point p, array a");
      ADD_FAILURE() << "no error for " << fragment;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("point p, array a"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  auto truncated = good;
  truncated.pop_back();
  expect_error(truncated, "expected 24");
  auto bad_magic = good;
  bad_magic[0] = 'X';
  expect_error(bad_magic, "QSA1");
  auto bad_dtype = good;
  bad_dtype[4] = 9;
  expect_error(bad_dtype, "dtype code 9");
  auto many_dims = good;
  many_dims[5] = 9;
  expect_error(many_dims, "dimensions");
  expect_error({'Q', 'S', 'A'}, "QSA1");
  EXPECT_THROW(StatArray::from(at::zeros({2}, at::kBool)), Error);
}
