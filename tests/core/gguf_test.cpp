// GGUF container and ggml block codec. Torch-free, so it also builds on its own:
//   g++ -std=c++20 -I. core/io/{ggml_blocks,gguf,mapped_file,atomic_file}.cpp tests/core/gguf_test.cpp -lgtest -lgtest_main -pthread
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "core/io/ggml_blocks.h"
#include "core/io/gguf.h"
#include "core/ops/fp8.h"
#include "core/ops/ggml_grid.h"
#include "core/util/error.h"
#include "core/util/remove_tree.h"

namespace quench {
namespace {

namespace fs = std::filesystem;

class Dir {
 public:
  Dir() {
    std::string t = (fs::temp_directory_path() / "quench-gguf-XXXXXX").string();
    if (!::mkdtemp(t.data())) throw std::runtime_error("mkdtemp failed");
    path_ = t;
  }
  ~Dir() { remove_tree(path_); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  size_t entries() const { return static_cast<size_t>(std::distance(fs::directory_iterator(path_), fs::directory_iterator())); }

 private:
  std::string path_;
};

// Raw little-endian bytes, built by hand so the tests do not depend on the writer.
struct Bytes {
  std::string s;
  template <typename T>
  Bytes& put(T x) {
    s.append(reinterpret_cast<const char*>(&x), sizeof x);
    return *this;
  }
  Bytes& u8(uint8_t x) { return put(x); }
  Bytes& u32(uint32_t x) { return put(x); }
  Bytes& u64(uint64_t x) { return put(x); }
  Bytes& str(const std::string& x) {
    u64(x.size());
    s += x;
    return *this;
  }
  Bytes& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    s += "GGUF";
    return u32(version).u64(n_tensors).u64(n_kv);
  }
  Bytes& tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(ne.size()));
    for (auto x : ne) u64(x);
    return u32(type).u64(offset);
  }
  Bytes& pad(size_t align = 32) {
    while (s.size() % align) s.push_back('\0');
    return *this;
  }
  Bytes& zeros(size_t n) {
    s.append(n, '\0');
    return *this;
  }
  void save(const std::string& path) const { std::ofstream(path, std::ios::binary) << s; }
};

std::string open_error(const std::string& path) {
  try {
    GgufFile f(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

#define EXPECT_OPEN_FAILS(bytes, substr)                                      \
  do {                                                                        \
    Dir dir_;                                                                 \
    const auto path_ = dir_.file("bad.gguf");                                 \
    (bytes).save(path_);                                                      \
    const std::string msg_ = open_error(path_);                               \
    EXPECT_NE(msg_.find(substr), std::string::npos) << msg_;                  \
    EXPECT_NE(msg_.find("bad.gguf"), std::string::npos) << "names the file: " << msg_; \
  } while (0)

std::vector<float> decode(GgmlType t, const std::vector<uint8_t>& bytes, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  ggml_decode(t, bytes.data(), n, out.data());
  return out;
}

// ---- fp16 / bf16 ----

TEST(GgmlFp16, RoundsToNearestEven) {
  EXPECT_EQ(float_to_half(1.0f), 0x3C00);
  EXPECT_EQ(float_to_half(-2.0f), 0xC000);
  EXPECT_EQ(float_to_half(65504.0f), 0x7BFF);
  EXPECT_EQ(float_to_half(65519.0f), 0x7BFF);
  EXPECT_EQ(float_to_half(65520.0f), 0x7C00);  // the tie goes to the even neighbour, infinity
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3C00);      // tie between 0x3C00 and 0x3C01: even
  EXPECT_EQ(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);  // tie between 0x3C01 and 0x3C02: even
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)), 0x3C01);  // just past the tie
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -24)), 0x0001);       // smallest subnormal
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -25)), 0x0000);       // tie with zero: even
  EXPECT_EQ(float_to_half(3 * std::ldexp(1.0f, -25)), 0x0002);   // 1.5 units: even
  EXPECT_EQ(float_to_half(std::ldexp(1023.5f, -24)), 0x0400);    // rounds up into the smallest normal
  EXPECT_EQ(float_to_half(std::nanf("")) & 0x7E00, 0x7E00);
  EXPECT_EQ(float_to_half(INFINITY), 0x7C00);
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF)) continue;  // NaN payloads are not preserved
    ASSERT_EQ(float_to_half(half_to_float(static_cast<uint16_t>(h))), h) << h;
  }
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(half_to_float(0x3555), 0.333251953125f);
}

TEST(GgmlBf16, RoundsToNearestEven) {
  auto f = [](uint32_t u) {
    float x;
    std::memcpy(&x, &u, 4);
    return x;
  };
  EXPECT_EQ(float_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(float_to_bf16(f(0x3F808000)), 0x3F80);  // tie: even
  EXPECT_EQ(float_to_bf16(f(0x3F818000)), 0x3F82);  // tie: even
  EXPECT_EQ(float_to_bf16(f(0x3F808001)), 0x3F81);
  EXPECT_EQ(float_to_bf16(f(0x7F800001)) & 0x7FC0, 0x7FC0);  // NaN stays NaN, quiet
  EXPECT_EQ(bf16_to_float(0xC040), -3.0f);
}

// ---- type table ----

TEST(GgmlTypes, TableAndNames) {
  EXPECT_EQ(ggml_info(GgmlType::Q4_K).block_bytes, 144);
  EXPECT_EQ(ggml_info(GgmlType::Q6_K).block_bytes, 210);
  EXPECT_EQ(ggml_row_bytes(GgmlType::Q5_1, 64), 48);
  EXPECT_THROW(ggml_row_bytes(GgmlType::Q8_0, 33), Error);
  EXPECT_EQ(ggml_type_from_name("q4_k"), GgmlType::Q4_K);
  EXPECT_EQ(ggml_type_from_name("iq4_xs"), GgmlType::IQ4_XS);  // read, not written
  EXPECT_FALSE(ggml_info(GgmlType::IQ4_XS).encodable);
  EXPECT_FALSE(ggml_type_from_name("iq2_xxs"));
  EXPECT_FALSE(ggml_type_info(16));  // IQ2_XXS: a lattice codebook Quench does not decode
  EXPECT_TRUE(ggml_type_info(10));
  EXPECT_EQ(ggml_type_code_name(10), "Q2_K");
  EXPECT_EQ(ggml_type_code_name(11), "Q3_K");
  EXPECT_EQ(ggml_type_code_name(13), "Q5_K");
  EXPECT_EQ(ggml_type_code_name(15), "Q8_K");
  EXPECT_EQ(ggml_type_code_name(16), "IQ2_XXS");
  EXPECT_EQ(ggml_type_code_name(23), "IQ4_XS");
  EXPECT_EQ(ggml_type_code_name(99), "type 99");
  EXPECT_EQ(ggml_type_code_layout(11), std::make_pair(int64_t{256}, int64_t{110}));
}

// ---- block encoding, checked against hand-computed values ----

TEST(GgmlBlocks, Q4_0HalfScaleDecodesToMinusFourToThreeAndAHalf) {
  GgmlBlocks b{GgmlType::Q4_0, 1, 32, {}, {0.5f}, {}, {}, {}};
  for (int j = 0; j < 32; ++j) b.code.push_back(static_cast<uint8_t>(j < 16 ? j : 31 - j));
  const auto bytes = ggml_encode(b);
  ASSERT_EQ(bytes.size(), 18u);
  EXPECT_EQ(bytes[0], 0x00);
  EXPECT_EQ(bytes[1], 0x38);                 // fp16 0.5
  EXPECT_EQ(bytes[2], 0x00 | (15 << 4));     // value 0 low, value 16 high
  EXPECT_EQ(bytes[17], 0x0F | (0 << 4));     // value 15 low, value 31 high
  const auto y = decode(GgmlType::Q4_0, bytes, 32);
  for (int j = 0; j < 16; ++j) EXPECT_EQ(y[j], -4.0f + 0.5f * j);
  for (int j = 16; j < 32; ++j) EXPECT_EQ(y[j], 0.5f * ((31 - j) - 8));
}

TEST(GgmlBlocks, LegacyTypesDecodeHandBuiltBytes) {
  // Q4_0: d = 1, qs[0] = 0x9F.
  std::vector<uint8_t> q4_0(18, 0);
  q4_0[1] = 0x3C;
  q4_0[2] = 0x9F;
  auto y = decode(GgmlType::Q4_0, q4_0, 32);
  EXPECT_EQ(y[0], 7.0f);
  EXPECT_EQ(y[16], 1.0f);
  EXPECT_EQ(y[1], -8.0f);
  // Q4_1: d = 2, m = -1, qs[0] = 0x53.
  std::vector<uint8_t> q4_1(20, 0);
  q4_1[1] = 0x40;
  q4_1[3] = 0xBC;
  q4_1[4] = 0x53;
  y = decode(GgmlType::Q4_1, q4_1, 32);
  EXPECT_EQ(y[0], 5.0f);
  EXPECT_EQ(y[16], 9.0f);
  EXPECT_EQ(y[1], -1.0f);
  // Q5_0: d = 1, qh bits 0 and 16 set, qs[0] = 0x21.
  std::vector<uint8_t> q5_0(22, 0);
  q5_0[1] = 0x3C;
  q5_0[2] = 0x01;
  q5_0[4] = 0x01;
  q5_0[6] = 0x21;
  y = decode(GgmlType::Q5_0, q5_0, 32);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[16], 2.0f);
  EXPECT_EQ(y[1], -16.0f);
  // Q5_1: d = 0.5, m = 1, qh bit 31 set, qs[15] = 0xF0.
  std::vector<uint8_t> q5_1(24, 0);
  q5_1[1] = 0x38;
  q5_1[3] = 0x3C;
  q5_1[7] = 0x80;
  q5_1[8 + 15] = 0xF0;
  y = decode(GgmlType::Q5_1, q5_1, 32);
  EXPECT_EQ(y[31], 31 * 0.5f + 1);
  EXPECT_EQ(y[15], 1.0f);
  // Q8_0: d = 0.25, qs = {-1, 127}.
  std::vector<uint8_t> q8(34, 0);
  q8[1] = 0x34;
  q8[2] = 0xFF;
  q8[3] = 0x7F;
  y = decode(GgmlType::Q8_0, q8, 32);
  EXPECT_EQ(y[0], -0.25f);
  EXPECT_EQ(y[1], 31.75f);
}

// Q4_K: d = 1, dmin = 0.5; sub-block 0 (sc 3, mn 2), sub-block 5 (sc 45, mn 50: both above 31, so their
// top bits live in the upper bits of scale bytes 1 and 5).
std::vector<uint8_t> q4_k_hand_block() {
  std::vector<uint8_t> b(144, 0);
  b[1] = 0x3C;
  b[3] = 0x38;
  uint8_t* scales = b.data() + 4;
  scales[0] = 3;
  scales[4] = 2;
  scales[9] = 0x2D;  // low nibbles: sc 45 & 15 = 13, mn 50 & 15 = 2
  scales[1] = 0x80;  // sc 45 >> 4 = 2
  scales[5] = 0xC0;  // mn 50 >> 4 = 3
  uint8_t* qs = b.data() + 16;
  qs[0] = 0x07;   // value 0 (sub-block 0, low nibble)
  qs[64] = 0xA0;  // value 160 (sub-block 5 = group 2, high nibble)
  return b;
}

TEST(GgmlBlocks, Q4_KDecodesHandBuiltBytesAndEncoderMatches) {
  const auto hand = q4_k_hand_block();
  const auto y = decode(GgmlType::Q4_K, hand, 256);
  EXPECT_EQ(y[0], 1.0f * 3 * 7 - 0.5f * 2);
  EXPECT_EQ(y[1], -1.0f);           // code 0 in sub-block 0
  EXPECT_EQ(y[160], 45.0f * 10 - 25.0f);
  EXPECT_EQ(y[161], -25.0f);
  EXPECT_EQ(y[32], 0.0f);           // sub-block 1: sc = mn = 0 despite the high bits stored in its bytes
  EXPECT_EQ(y[128], 0.0f);          // sub-block 4 likewise

  GgmlBlocks b{GgmlType::Q4_K, 1, 256, std::vector<uint8_t>(256, 0), {1.0f}, {0.5f}, std::vector<uint8_t>(8, 0), std::vector<uint8_t>(8, 0)};
  b.code[0] = 7;
  b.code[160] = 10;
  b.sc[0] = 3;
  b.mn[0] = 2;
  b.sc[5] = 45;
  b.mn[5] = 50;
  EXPECT_EQ(ggml_encode(b), hand);
}

TEST(GgmlBlocks, Q4_KAllSubBlockScalesRoundTrip) {
  GgmlBlocks b{GgmlType::Q4_K, 1, 256, {}, {0.25f}, {0.125f}, {}, {}};
  for (int j = 0; j < 8; ++j) {
    b.sc.push_back(static_cast<uint8_t>(63 - 5 * j));
    b.mn.push_back(static_cast<uint8_t>(7 * j + 14));
  }
  for (int k = 0; k < 256; ++k) b.code.push_back(static_cast<uint8_t>((k * 7) % 16));
  const auto y = decode(GgmlType::Q4_K, ggml_encode(b), 256);
  for (int k = 0; k < 256; ++k) {
    const int j = k / 32;
    const float d1 = 0.25f * b.sc[j], m1 = 0.125f * b.mn[j];
    EXPECT_EQ(y[k], d1 * b.code[k] - m1) << k;
  }
}

// Q6_K: d = 0.5; scales[0] = -3, scales[2] = 5, scales[15] = 100.
std::vector<uint8_t> q6_k_hand_block() {
  std::vector<uint8_t> b(210, 0);
  uint8_t* ql = b.data();
  uint8_t* qh = b.data() + 128;
  uint8_t* sc = b.data() + 192;
  b[209] = 0x38;
  sc[0] = 0xFD;
  sc[2] = 5;
  sc[15] = 100;
  ql[0] = 0x0A;  // value 0 low bits 10
  qh[0] = 0x02 | 0x0C;  // value 0 top bits 2, value 32 top bits 3
  ql[32] = 0x01;  // value 32 low bits 1
  ql[127] = 0xF0;  // value 255: second half, l = 31, high nibble of ql[64 + 63]
  qh[63] = 0xC0;   // and bits 6..7 of qh[32 + 31]
  return b;
}

TEST(GgmlBlocks, Q6_KDecodesHandBuiltBytesAndEncoderMatches) {
  const auto hand = q6_k_hand_block();
  const auto y = decode(GgmlType::Q6_K, hand, 256);
  EXPECT_EQ(y[0], 0.5f * -3 * 10);       // code 42
  EXPECT_EQ(y[1], 0.5f * -3 * -32);      // code 0, same sub-block
  EXPECT_EQ(y[32], 0.5f * 5 * 17);       // code 49, sub-block 2
  EXPECT_EQ(y[255], 0.5f * 100 * 31);    // code 63, sub-block 15
  EXPECT_EQ(y[16], 0.0f);                // sub-block 1 scale 0

  GgmlBlocks b{GgmlType::Q6_K, 1, 256, std::vector<uint8_t>(256, 0), {0.5f}, {}, std::vector<uint8_t>(16, 0), {}};
  b.code[0] = 42;
  b.code[32] = 49;
  b.code[255] = 63;
  b.sc[0] = static_cast<uint8_t>(int8_t{-3});
  b.sc[2] = 5;
  b.sc[15] = 100;
  EXPECT_EQ(ggml_encode(b), hand);
}

// Encode → decode for every block type against the formula of ggml_blocks.h, on random codes over two rows.
TEST(GgmlBlocks, EveryTypeRoundTrips) {
  std::mt19937 rng(7);
  const GgmlType types[] = {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q6_K};
  for (auto t : types) {
    const auto& info = ggml_info(t);
    GgmlBlocks b{t, 2, 512, {}, {}, {}, {}, {}};
    const int64_t blocks = 2 * 512 / info.block;
    const unsigned max = t == GgmlType::Q8_0 ? 255 : t == GgmlType::Q6_K ? 63 : (t == GgmlType::Q5_0 || t == GgmlType::Q5_1) ? 31 : 15;
    for (int64_t i = 0; i < 1024; ++i) b.code.push_back(static_cast<uint8_t>(rng() % (max + 1)));
    for (int64_t i = 0; i < blocks; ++i) {
      b.d.push_back(half_to_float(float_to_half(0.01f * static_cast<float>(rng() % 100 + 1))));
      b.m.push_back(half_to_float(float_to_half(-0.02f * static_cast<float>(rng() % 50))));
      for (int j = 0; j < (t == GgmlType::Q6_K ? 16 : 8); ++j) {
        b.sc.push_back(static_cast<uint8_t>(t == GgmlType::Q6_K ? static_cast<int8_t>(static_cast<int>(rng() % 256) - 128) : rng() % 64));
        b.mn.push_back(static_cast<uint8_t>(rng() % 64));
      }
    }
    if (t != GgmlType::Q4_1 && t != GgmlType::Q5_1 && t != GgmlType::Q4_K) b.m.clear();
    if (t != GgmlType::Q4_K) b.mn.clear();
    if (t != GgmlType::Q4_K && t != GgmlType::Q6_K) b.sc.clear();
    const auto bytes = ggml_encode(b);
    ASSERT_EQ(static_cast<int64_t>(bytes.size()), 2 * ggml_row_bytes(t, 512)) << info.name;
    const auto y = decode(t, bytes, 1024);
    for (int64_t k = 0; k < 1024; ++k) {
      const int64_t i = k / info.block;
      const float d = b.d[i];
      const int c = b.code[static_cast<size_t>(k)];
      float want = 0;
      switch (t) {
        case GgmlType::Q4_0: want = static_cast<float>(c - 8) * d; break;
        case GgmlType::Q5_0: want = static_cast<float>(c - 16) * d; break;
        case GgmlType::Q4_1:
        case GgmlType::Q5_1: want = static_cast<float>(c) * d + b.m[i]; break;
        case GgmlType::Q8_0: want = static_cast<float>(static_cast<int8_t>(c)) * d; break;
        case GgmlType::Q4_K: {
          const int64_t j = i * 8 + (k % 256) / 32;
          want = (d * b.sc[j]) * static_cast<float>(c) - b.m[i] * b.mn[j];
          break;
        }
        case GgmlType::Q6_K: {
          const int64_t j = i * 16 + (k % 256) / 16;
          want = d * static_cast<int8_t>(b.sc[j]) * static_cast<float>(c - 32);
          break;
        }
        default: break;
      }
      ASSERT_EQ(y[k], want) << info.name << " value " << k;
    }
  }
}

// MXFP4 as a grid Quench quantizes to (recipe format "mxfp4", scheme MXFP4A16): each block of 32
// gets the OCP MX exponent floor(log2 amax) − 2, values snap to the E2M1 grid, and the blocks
// written decode bit for bit to the fake-quantized weight — zero, subnormal-scale and huge blocks included.
TEST(GgmlBlocks, Mxfp4GridEncodesWhatItEvaluates) {
  at::manual_seed(5);
  at::Tensor w = at::randn({4, 256}) * 0.05;
  w[0].narrow(0, 0, 32).zero_();
  w[1].narrow(0, 32, 32).mul_(1e-38);
  w[2].narrow(0, 64, 32).mul_(1e36);
  w[3][100] = -0.7f;  // an outlier: its block's other values lose precision, others keep theirs
  const ops::GgmlParams p = ops::ggml_fit(w, GgmlType::MXFP4);
  const at::Tensor wq = ops::ggml_fake_quant(w, p);
  const at::Tensor q = wq.reshape({4, 8, 32}) / p.scale.unsqueeze(-1);
  const std::set<float> grid = {0, 1, 2, 3, 4, 6, 8, 12, -1, -2, -3, -4, -6, -8, -12};
  for (int64_t i = 0; i < q.numel(); ++i) ASSERT_TRUE(grid.count(q.reshape(-1)[i].item<float>())) << i << ": " << q.reshape(-1)[i].item<float>();
  // The scale of a block whose largest |w| is in [2^f, 2^(f+1)) is 2^(f − 3), within E8M0's range
  // (the 1e-38 block takes the smallest, 2^-128).
  const at::Tensor amax = w.abs().reshape({4, 8, 32}).amax(-1);
  const at::Tensor live = amax > 0;
  EXPECT_TRUE(at::equal(at::where(live, p.scale, at::zeros_like(p.scale)),
                        at::where(live, at::exp2((at::floor(at::log2(amax)) - 3).clamp_min(-128)), at::zeros_like(p.scale))));
  // Nearest grid value: within half the widest gap (4 steps, between 8 and 12), or saturated at 12.
  const at::Tensor err = (wq - w).abs().reshape({4, 8, 32}).amax(-1);
  EXPECT_TRUE((err <= 4 * p.scale).all().item<bool>()) << (err / p.scale).max().item<float>();
  const GgmlBlocks b = ops::ggml_blocks(wq, p, "w");
  const std::vector<uint8_t> bytes = ggml_encode(b);
  ASSERT_EQ(static_cast<int64_t>(bytes.size()), 4 * ggml_row_bytes(GgmlType::MXFP4, 256));
  const auto y = decode(GgmlType::MXFP4, bytes, 1024);
  const at::Tensor back = at::from_blob(const_cast<float*>(y.data()), {4, 256}, at::kFloat);
  EXPECT_EQ(std::memcmp(back.data_ptr<float>(), wq.contiguous().data_ptr<float>(), 1024 * sizeof(float)), 0);
  // A scale that is not a power of two has no E8M0 byte.
  GgmlBlocks bad{GgmlType::MXFP4, 1, 32, std::vector<uint8_t>(32, 1), {0.75f}, {}, {}, {}};
  EXPECT_THROW(ggml_encode(bad), Error);
}

// NVFP4 as a grid (recipe format "nvfp4", scheme NVFP4A16): compressed-tensors' two-level rule
// with G a power of two. Every slot of 16 has an E4M3 scale s ≤ 448 with x̂ = (s/G)·E2M1; the
// largest slot's s lands in (224, 448]; the GGUF blocks hold x̂·G and decode to it bit for bit.
TEST(GgmlBlocks, Nvfp4GridEncodesWhatItEvaluates) {
  at::manual_seed(6);
  at::Tensor w = at::randn({4, 128}) * 0.02;
  w[0].narrow(0, 0, 16).zero_();
  w[1][40] = 0.9f;  // the tensor's largest value sets G
  const ops::GgmlParams p = ops::ggml_fit(w, GgmlType::NVFP4);
  const float G = p.global.item<float>();
  EXPECT_EQ(G, std::exp2(std::floor(std::log2(448.0 * 6.0 / 0.9))));  // 2^11
  const at::Tensor s = p.d * 2;  // the E4M3 scales
  EXPECT_TRUE(at::equal(ops::round_e4m3(s), s));
  EXPECT_LE(s.max().item<float>(), 448.f);
  EXPECT_GT(s.max().item<float>(), 224.f);
  EXPECT_EQ(s[0][0].item<float>(), 0.f);  // the zero slot
  const at::Tensor wq = ops::ggml_fake_quant(w, p);
  const at::Tensor q = wq.reshape({4, 8, 16}) / p.scale.unsqueeze(-1);
  const std::set<float> grid = {0, 1, 2, 3, 4, 6, 8, 12, -1, -2, -3, -4, -6, -8, -12};
  const at::Tensor live = (p.scale > 0).unsqueeze(-1).expand_as(q).reshape(-1);
  for (int64_t i = 0; i < q.numel(); ++i)
    if (live[i].item<bool>()) ASSERT_TRUE(grid.count(q.reshape(-1)[i].item<float>())) << i << ": " << q.reshape(-1)[i].item<float>();
  // Nearest value: within half the widest gap of the doubled grid (2 at the top: 8 … 12), plus
  // what E4M3's rounding of the scale saturates.
  const at::Tensor err = (wq - w).abs().reshape({4, 8, 16}).amax(-1);
  const at::Tensor amax = w.abs().reshape({4, 8, 16}).amax(-1);
  EXPECT_TRUE((err <= 2 * p.scale + amax / 16).all().item<bool>());
  // A part of the weight fitted with the whole tensor's G (GPTQ's blocks) gets the same scales.
  const ops::GgmlParams part = ops::ggml_fit(w.narrow(1, 64, 64), GgmlType::NVFP4, {}, ops::nvfp4_global(w));
  EXPECT_TRUE(at::equal(part.scale, p.scale.narrow(1, 4, 4)));
  EXPECT_TRUE(at::equal(ops::ggml_cat({ops::ggml_fit(w.narrow(1, 0, 64), GgmlType::NVFP4, {}, p.global), part}).scale, p.scale));
  // GGUF: blocks of 64 hold x̂·G, whose scales are s/2 (ggml's halved UE4M3).
  ops::GgmlParams unscaled = p;
  unscaled.scale = p.d;
  const at::Tensor stored = wq * G;
  const GgmlBlocks b = ops::ggml_blocks(stored, unscaled, "w");
  const std::vector<uint8_t> bytes = ggml_encode(b);
  ASSERT_EQ(static_cast<int64_t>(bytes.size()), 4 * ggml_row_bytes(GgmlType::NVFP4, 128));
  const auto y = decode(GgmlType::NVFP4, bytes, 512);
  const at::Tensor back = at::from_blob(const_cast<float*>(y.data()), {4, 128}, at::kFloat);
  EXPECT_TRUE(at::equal(back, stored.contiguous()));
  EXPECT_TRUE(at::equal(back / G, wq));
  // A scale that is not half an E4M3 value has no byte.
  GgmlBlocks bad{GgmlType::NVFP4, 1, 64, std::vector<uint8_t>(64, 1), {0.5f, 0.5f, 0.5f, 0.3f}, {}, {}, {}};
  EXPECT_THROW(ggml_encode(bad), Error);
}

TEST(GgmlBlocks, EncoderRefusesBadInput) {
  GgmlBlocks b{GgmlType::Q4_0, 1, 32, std::vector<uint8_t>(32, 0), {0.1f}, {}, {}, {}};
  try {
    ggml_encode(b);
    FAIL() << "0.1 is not an fp16 value";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not exactly representable in fp16"), std::string::npos) << e.what();
  }
  b.d = {0.5f};
  b.code[3] = 16;
  EXPECT_THROW(ggml_encode(b), Error);
  b.code[3] = 0;
  b.cols = 33;
  EXPECT_THROW(ggml_encode(b), Error);
  GgmlBlocks k{GgmlType::Q4_K, 1, 256, std::vector<uint8_t>(256, 0), {1.0f}, {1.0f}, std::vector<uint8_t>(8, 64), std::vector<uint8_t>(8, 0)};
  EXPECT_THROW(ggml_encode(k), Error);
}

TEST(GgmlBlocks, PlainTypes) {
  const std::vector<float> x = {1.0f, -2.5f, 65504.0f, 3.0e-8f};
  EXPECT_EQ(decode(GgmlType::F32, ggml_encode_float(GgmlType::F32, x.data(), 4), 4), x);
  const auto h = decode(GgmlType::F16, ggml_encode_float(GgmlType::F16, x.data(), 4), 4);
  EXPECT_EQ(h[1], -2.5f);
  EXPECT_EQ(h[2], 65504.0f);
  EXPECT_EQ(h[3], half_to_float(float_to_half(3.0e-8f)));
  const auto bf = decode(GgmlType::BF16, ggml_encode_float(GgmlType::BF16, x.data(), 4), 4);
  EXPECT_EQ(bf[1], -2.5f);
}

// ---- GGUF files ----

GgufValue value(GgufValueType t, std::variant<int64_t, double, bool, std::string, std::shared_ptr<GgufArray>> v) {
  GgufValue g;
  g.type = t;
  g.v = std::move(v);
  return g;
}

TEST(Gguf, MetadataOfEveryTypeRoundTrips) {
  Dir dir;
  GgufWriter w;
  w.set("u8", value(GgufValueType::U8, int64_t{200}));
  w.set("i8", value(GgufValueType::I8, int64_t{-100}));
  w.set("u16", value(GgufValueType::U16, int64_t{60000}));
  w.set("i16", value(GgufValueType::I16, int64_t{-30000}));
  w.set("u32", GgufValue::u32(4000000000u));
  w.set("i32", GgufValue::i32(-2000000000));
  w.set("f32", GgufValue::f32(0.1f));
  w.set("bool", GgufValue::boolean(true));
  w.set("string", GgufValue::str("héllo\0x"));
  w.set("u64", GgufValue::u64(uint64_t{1} << 62));
  w.set("i64", value(GgufValueType::I64, int64_t{-(int64_t{1} << 60)}));
  w.set("f64", value(GgufValueType::F64, 1e300));
  w.set("strings", GgufValue::strings({"a", "", "ccc"}));
  w.set("i32s", GgufValue::i32s({1, -2, 3}));
  w.set("f32s", GgufValue::f32s({}));
  auto nested = std::make_shared<GgufArray>();
  nested->elem = GgufValueType::ARRAY;
  nested->items = {GgufValue::i32s({7}), GgufValue::i32s({8, 9})};
  w.set("nested", value(GgufValueType::ARRAY, nested));
  EXPECT_THROW(w.set("u8", GgufValue::u32(1)), Error);
  EXPECT_THROW(w.set("bad_u8", value(GgufValueType::U8, int64_t{256})), Error);
  w.write(dir.file("m.gguf"));

  GgufFile f(dir.file("m.gguf"));
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.metadata().size(), 16u);
  EXPECT_EQ(f.key("u8").as_int("u8"), 200);
  EXPECT_EQ(f.key("u8").type, GgufValueType::U8);
  EXPECT_EQ(f.key("i8").as_int(""), -100);
  EXPECT_EQ(f.key("u16").as_int(""), 60000);
  EXPECT_EQ(f.key("i16").as_int(""), -30000);
  EXPECT_EQ(f.key("u32").as_int(""), 4000000000);
  EXPECT_EQ(f.key("i32").as_int(""), -2000000000);
  EXPECT_EQ(f.key("f32").as_float(""), double{0.1f});
  EXPECT_EQ(f.key("f32").type, GgufValueType::F32);
  EXPECT_TRUE(f.key("bool").as_bool(""));
  EXPECT_EQ(f.key("string").as_string(""), "héllo");
  EXPECT_EQ(f.key("u64").as_int(""), int64_t{1} << 62);
  EXPECT_EQ(f.key("i64").as_int(""), -(int64_t{1} << 60));
  EXPECT_EQ(f.key("f64").as_float(""), 1e300);
  const auto& s = f.key("strings").as_array("");
  ASSERT_EQ(s.items.size(), 3u);
  EXPECT_EQ(s.elem, GgufValueType::STRING);
  EXPECT_EQ(s.items[2].as_string(""), "ccc");
  EXPECT_EQ(f.key("i32s").as_array("").items[1].as_int(""), -2);
  EXPECT_EQ(f.key("f32s").as_array("").elem, GgufValueType::F32);
  EXPECT_TRUE(f.key("f32s").as_array("").items.empty());
  const auto& n = f.key("nested").as_array("");
  ASSERT_EQ(n.items.size(), 2u);
  EXPECT_EQ(n.items[1].as_array("").items[1].as_int(""), 9);
  try {
    f.key("absent");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing key absent"), std::string::npos);
  }
  EXPECT_THROW(f.key("string").as_int("string"), Error);
  EXPECT_TRUE(f.tensors().empty());
}

TEST(Gguf, TensorsRoundTripAligned) {
  Dir dir;
  GgufWriter w;
  w.set("general.architecture", GgufValue::str("llama"));
  const std::vector<float> plain = {1, 2, 3, -4, 0.5f};
  w.add_tensor("plain", {5}, GgmlType::F32, [&] { return ggml_encode_float(GgmlType::F32, plain.data(), 5); });
  w.add_tensor("half", {5}, GgmlType::F16, [&] { return ggml_encode_float(GgmlType::F16, plain.data(), 5); });
  GgmlBlocks q{GgmlType::Q4_0, 3, 64, std::vector<uint8_t>(192, 9), std::vector<float>(6, 0.5f), {}, {}, {}};
  w.add_tensor("blk.0.attn_q.weight", {64, 3}, GgmlType::Q4_0, [&] { return ggml_encode(q); });
  w.add_tensor("k", {256}, GgmlType::Q4_K, [] { return q4_k_hand_block(); });
  w.add_tensor("six", {256, 1, 1, 1}, GgmlType::Q6_K, [] { return q6_k_hand_block(); });
  std::vector<int64_t> calls;
  w.write(dir.file("t.gguf"), [&](int64_t done, int64_t total) {
    EXPECT_EQ(total, 5);
    calls.push_back(done);
  });
  EXPECT_EQ(calls, (std::vector<int64_t>{1, 2, 3, 4, 5}));

  GgufFile f(dir.file("t.gguf"));
  ASSERT_EQ(f.tensors().size(), 5u);
  EXPECT_EQ(f.tensors()[2].name, "blk.0.attn_q.weight");
  const auto& t = f.tensor("blk.0.attn_q.weight");
  EXPECT_EQ(t.ne, (std::vector<int64_t>{64, 3}));
  EXPECT_EQ(t.type_code, 2u);
  EXPECT_EQ(t.nbytes, 6u * 18);
  EXPECT_EQ(t.numel(), 192);
  for (const auto& ti : f.tensors()) EXPECT_EQ(ti.offset % 32, 0u) << ti.name;
  EXPECT_EQ(f.dequantize("plain"), plain);
  EXPECT_EQ(f.dequantize("half")[4], 0.5f);
  EXPECT_EQ(f.dequantize("blk.0.attn_q.weight"), std::vector<float>(192, 0.5f));
  EXPECT_EQ(f.dequantize("k")[160], 425.0f);
  EXPECT_EQ(f.dequantize("six")[255], 1550.0f);
  const auto hand = q6_k_hand_block();
  EXPECT_EQ(std::memcmp(f.data(f.tensor("six")), hand.data(), hand.size()), 0);
  EXPECT_EQ(f.find("nope"), nullptr);
  EXPECT_THROW(f.tensor("nope"), Error);
}

TEST(Gguf, GeneralAlignmentIsRespected) {
  Dir dir;
  GgufWriter w;
  w.set("general.alignment", GgufValue::u32(64));
  const std::vector<float> x(3, 1.0f);
  w.add_tensor("a", {3}, GgmlType::F32, [&] { return ggml_encode_float(GgmlType::F32, x.data(), 3); });
  w.add_tensor("b", {3}, GgmlType::F32, [&] { return ggml_encode_float(GgmlType::F32, x.data(), 3); });
  w.write(dir.file("a.gguf"));
  GgufFile f(dir.file("a.gguf"));
  EXPECT_EQ(f.tensor("b").offset, 64u);
  EXPECT_EQ(f.dequantize("b"), x);
  EXPECT_EQ((f.data(f.tensor("a")) - f.data(f.tensor("a")) + f.tensor("a").offset) % 64, 0u);
  GgufWriter bad;
  EXPECT_THROW(bad.set("general.alignment", GgufValue::u32(48)), Error);
  // A reader must use the file's alignment: offset 32 is legal at 32 but not at 64.
  Bytes b;
  b.header(1, 1).str("general.alignment").u32(4).u32(64).tensor("a", {8}, 0, 32).pad(64).zeros(128);
  EXPECT_OPEN_FAILS(b, "misaligned");
}

TEST(Gguf, WriterRefusesWrongProducerSizeAndLeavesNoFile) {
  Dir dir;
  GgufWriter w;
  w.add_tensor("x", {32}, GgmlType::Q8_0, [] { return std::vector<uint8_t>(33, 0); });
  try {
    w.write(dir.file("w.gguf"));
    FAIL() << "wrong size accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor x: producer returned 33 bytes, expected 34"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir.file("w.gguf")));
  EXPECT_EQ(dir.entries(), 0u) << "no temporary left behind";
  EXPECT_THROW(w.add_tensor("x", {32}, GgmlType::Q8_0, [] { return std::vector<uint8_t>(34, 0); }), Error);
  EXPECT_THROW(w.add_tensor("y", {31}, GgmlType::Q8_0, [] { return std::vector<uint8_t>(34, 0); }), Error);
  EXPECT_THROW(w.add_tensor("z", {1, 1, 1, 1, 1}, GgmlType::F32, [] { return std::vector<uint8_t>(4, 0); }), Error);
}

// ---- malformed files: each names the file and what is wrong ----

TEST(GgufBadInput, TruncatedHeader) { EXPECT_OPEN_FAILS(Bytes{"GGUF\3\0\0\0\0\0"}, "truncated header"); }

TEST(GgufBadInput, BadMagic) {
  Bytes b;
  b.s = "GGUX";
  b.u32(3).u64(0).u64(0);
  EXPECT_OPEN_FAILS(b, "bad magic");
}

TEST(GgufBadInput, UnsupportedVersion) {
  Bytes b;
  EXPECT_OPEN_FAILS(b.header(0, 0, 4), "unsupported GGUF version 4");
  Bytes v1;
  EXPECT_OPEN_FAILS(v1.header(0, 0, 1), "unsupported GGUF version 1");
}

TEST(GgufBadInput, UnknownMetadataType) {
  Bytes b;
  b.header(0, 1).str("general.name").u32(13).u32(0);
  EXPECT_OPEN_FAILS(b, "key 'general.name': unknown metadata value type 13");
  Bytes a;
  a.header(0, 1).str("arr").u32(9).u32(77).u64(0);
  EXPECT_OPEN_FAILS(a, "unknown array element type 77");
}

TEST(GgufBadInput, StringLengthPastEof) {
  Bytes b;
  b.header(0, 1).str("general.name").u32(8).u64(1000).s += "short";
  EXPECT_OPEN_FAILS(b, "key 'general.name': string length 1000");
  Bytes k;
  k.header(0, 1).u64(uint64_t{1} << 62).zeros(20);
  EXPECT_OPEN_FAILS(k, "runs past the end of the file");
}

TEST(GgufBadInput, AbsurdCounts) {
  Bytes b;
  EXPECT_OPEN_FAILS(b.header(1'000'000'000'000'000'000ull, 0), "tensor count 1000000000000000000 is absurd");
  Bytes kv;
  EXPECT_OPEN_FAILS(kv.header(0, uint64_t{1} << 40), "metadata key count");
  Bytes arr;
  arr.header(0, 1).str("tokens").u32(9).u32(8).u64(uint64_t{1} << 61);
  EXPECT_OPEN_FAILS(arr, "array count 2305843009213693952 is absurd");
}

TEST(GgufBadInput, TooManyDims) {
  Bytes b;
  b.header(1, 0).tensor("t", {1, 1, 1, 1, 1}, 0, 0).pad().zeros(32);
  EXPECT_OPEN_FAILS(b, "tensor t: n_dims 5 exceeds 4");
}

TEST(GgufBadInput, TensorDataOutOfRange) {
  Bytes b;
  b.header(1, 0).tensor("blk.0.attn_q.weight", {1024}, 0, 0).pad().zeros(100);
  EXPECT_OPEN_FAILS(b, "tensor blk.0.attn_q.weight: data [offset 0, 4096 bytes] runs past the end of the file");
  Bytes far;
  far.header(1, 0).tensor("t", {8}, 0, uint64_t{1} << 63).pad().zeros(32);
  EXPECT_OPEN_FAILS(far, "runs past the end of the file");
}

TEST(GgufBadInput, MisalignedOffset) {
  Bytes b;
  b.header(1, 0).tensor("t", {8}, 0, 3).pad().zeros(64);
  EXPECT_OPEN_FAILS(b, "tensor t: data offset 3 is misaligned");
}

TEST(GgufBadInput, OverlappingTensors) {
  Bytes b;
  b.header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {8}, 0, 32).pad().zeros(64);
  EXPECT_OPEN_FAILS(b, "tensor b [offset 32] overlaps tensor a");
}

TEST(GgufBadInput, DuplicateTensorName) {
  Bytes b;
  b.header(2, 0).tensor("a", {8}, 0, 0).tensor("a", {8}, 0, 32).pad().zeros(64);
  EXPECT_OPEN_FAILS(b, "duplicate tensor name 'a'");
}

TEST(GgufBadInput, DuplicateKey) {
  Bytes b;
  b.header(0, 2).str("k").u32(4).u32(1).str("k").u32(4).u32(2);
  EXPECT_OPEN_FAILS(b, "duplicate key 'k'");
}

TEST(GgufBadInput, BlockMisfitAndBadAlignmentKey) {
  Bytes b;
  b.header(1, 0).tensor("q", {33}, 2, 0).pad().zeros(64);
  EXPECT_OPEN_FAILS(b, "Q4_0 row length 33 is not a multiple of the block (32)");
  Bytes a;
  a.header(0, 1).str("general.alignment").u32(4).u32(0);
  EXPECT_OPEN_FAILS(a, "is not a power of two");
}

TEST(GgufBadInput, DequantizeOfUnsupportedTypeNamesIt) {
  Dir dir;
  Bytes b;
  b.header(2, 0).tensor("blk.0.ffn_down.weight", {256}, 16, 0).tensor("odd", {4}, 99, 96).pad().zeros(96);
  b.save(dir.file("iq2.gguf"));
  GgufFile f(dir.file("iq2.gguf"));
  EXPECT_EQ(f.tensor("blk.0.ffn_down.weight").type_code, 16u);
  EXPECT_EQ(f.tensor("blk.0.ffn_down.weight").nbytes, 66u);
  EXPECT_EQ(f.tensor("odd").type_code, 99u);  // kept, so inspect can list it
  try {
    f.dequantize("blk.0.ffn_down.weight");
    FAIL();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("iq2.gguf: tensor blk.0.ffn_down.weight: type IQ2_XXS (code 16) cannot be dequantized"), std::string::npos) << m;
  }
  try {
    f.dequantize("odd");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("type 99"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace quench
