#include <gtest/gtest.h>

#include <fstream>

#include "core/store/sha256.h"
#include "core/util/error.h"
#include "test_util.h"

using namespace quench;

// FIPS 180-4 examples and NIST CAVP short/long messages.
TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Padding edge cases: 55 bytes fit the length in the same block, 56 need another.
TEST(Sha256, BlockBoundaries) {
  EXPECT_EQ(sha256_hex(std::string(55, 'a')), "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  EXPECT_EQ(sha256_hex(std::string(56, 'a')), "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  EXPECT_EQ(sha256_hex(std::string(64, 'a')), "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

TEST(Sha256, IncrementalEqualsOneShot) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data += static_cast<char>(i * 7 + 3);
  for (size_t step : {1, 3, 63, 64, 65, 200}) {
    Sha256 h;
    for (size_t at = 0; at < data.size(); at += step) h.update(data.data() + at, std::min(step, data.size() - at));
    EXPECT_EQ(h.hex(), sha256_hex(data)) << "step " << step;
  }
}

TEST(Sha256, File) {
  test::TempDir dir;
  std::ofstream(dir.file("x.bin"), std::ios::binary) << "abc";
  EXPECT_EQ(sha256_file(dir.file("x.bin")), sha256_hex("abc"));
  EXPECT_THROW(sha256_file(dir.file("missing")), Error);
}
