#include "core/io/ggml_blocks.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/util/error.h"

namespace quench {

namespace {

// Every type code ggml has assigned (ggml.h), with its layout where the layout is fixed and known.
// block_bytes 0: removed from GGUF files, or a layout Quench does not track.
struct CodeRow {
  uint32_t code;
  const char* name;
  int64_t block;
  int64_t block_bytes;
};
constexpr CodeRow kCodes[] = {
    {0, "F32", 1, 4},          {1, "F16", 1, 2},         {2, "Q4_0", 32, 18},       {3, "Q4_1", 32, 20},
    {4, "Q4_2", 0, 0},         {5, "Q4_3", 0, 0},        {6, "Q5_0", 32, 22},       {7, "Q5_1", 32, 24},
    {8, "Q8_0", 32, 34},       {9, "Q8_1", 32, 36},      {10, "Q2_K", 256, 84},     {11, "Q3_K", 256, 110},
    {12, "Q4_K", 256, 144},    {13, "Q5_K", 256, 176},   {14, "Q6_K", 256, 210},    {15, "Q8_K", 256, 292},
    {16, "IQ2_XXS", 256, 66},  {17, "IQ2_XS", 256, 74},  {18, "IQ3_XXS", 256, 98},  {19, "IQ1_S", 256, 50},
    {20, "IQ4_NL", 32, 18},    {21, "IQ3_S", 256, 110},  {22, "IQ2_S", 256, 82},    {23, "IQ4_XS", 256, 136},
    {24, "I8", 1, 1},          {25, "I16", 1, 2},        {26, "I32", 1, 4},         {27, "I64", 1, 8},
    {28, "F64", 1, 8},         {29, "IQ1_M", 256, 56},   {30, "BF16", 1, 2},        {31, "Q4_0_4_4", 0, 0},
    {32, "Q4_0_4_8", 0, 0},    {33, "Q4_0_8_8", 0, 0},   {34, "TQ1_0", 256, 54},    {35, "TQ2_0", 256, 66},
    {36, "IQ4_NL_4_4", 0, 0},  {37, "IQ4_NL_4_8", 0, 0}, {38, "IQ4_NL_8_8", 0, 0},  {39, "MXFP4", 32, 17},
    {40, "NVFP4", 64, 36},       {41, "Q1_0", 0, 0},       {42, "Q2_0", 0, 0},
};

constexpr GgmlTypeInfo kSupported[] = {
    {GgmlType::F32, "F32", 1, 4, true},          {GgmlType::F16, "F16", 1, 2, true},        {GgmlType::BF16, "BF16", 1, 2, true},
    {GgmlType::Q4_0, "Q4_0", 32, 18, true},      {GgmlType::Q4_1, "Q4_1", 32, 20, true},    {GgmlType::Q5_0, "Q5_0", 32, 22, true},
    {GgmlType::Q5_1, "Q5_1", 32, 24, true},      {GgmlType::Q8_0, "Q8_0", 32, 34, true},    {GgmlType::Q4_K, "Q4_K", 256, 144, true},
    {GgmlType::Q6_K, "Q6_K", 256, 210, true},    {GgmlType::Q2_K, "Q2_K", 256, 84, false},  {GgmlType::Q3_K, "Q3_K", 256, 110, false},
    {GgmlType::Q5_K, "Q5_K", 256, 176, false},   {GgmlType::IQ4_NL, "IQ4_NL", 32, 18, false},
    {GgmlType::IQ4_XS, "IQ4_XS", 256, 136, false}, {GgmlType::MXFP4, "MXFP4", 32, 17, true},
    {GgmlType::NVFP4, "NVFP4", 64, 36, true},
};

// llama.cpp's non-uniform 4-bit table (IQ4_NL, IQ4_XS) and the E2M1 values doubled (MXFP4), as
// ggml-common.h defines them.
constexpr int8_t kIq4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
constexpr int8_t kFp4Values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

const CodeRow* code_row(uint32_t code) {
  for (const auto& r : kCodes)
    if (r.code == code) return &r;
  return nullptr;
}

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Little-endian field access, independent of the host's byte order.
uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
float get_half(const uint8_t* p) { return half_to_float(get16(p)); }

// Round-to-nearest-even right shift of a value that is known to fit after shifting.
uint32_t shift_rne(uint32_t m, int shift) {
  if (shift == 0) return m;
  if (shift > 31) return 0;
  const uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
  return q + ((rem > half || (rem == half && (q & 1))) ? 1 : 0);
}

// ---- encoding helpers ----

struct Shape {
  int64_t values = 0, blocks = 0;
};

Shape check_shape(const GgmlBlocks& b, const GgmlTypeInfo& info) {
  QUENCH_CHECK(b.rows >= 0 && b.cols >= 0, "ggml_encode ", info.name, ": negative shape [", b.rows, ", ", b.cols, "]");
  QUENCH_CHECK(b.cols % info.block == 0, "ggml_encode ", info.name, ": row length ", b.cols, " is not a multiple of the block (",
               info.block, ")");
  QUENCH_CHECK(b.rows == 0 || b.cols <= std::numeric_limits<int64_t>::max() / b.rows, "ggml_encode ", info.name, ": shape overflows");
  Shape s{b.rows * b.cols, b.rows * b.cols / info.block};
  QUENCH_CHECK(static_cast<int64_t>(b.code.size()) == s.values, "ggml_encode ", info.name, ": ", b.code.size(), " codes for ", s.values,
               " values");
  return s;
}

void check_count(const char* what, size_t have, int64_t want, const GgmlTypeInfo& info) {
  QUENCH_CHECK(static_cast<int64_t>(have) == want, "ggml_encode ", info.name, ": ", have, " ", what, " for ", want, " expected");
}

uint16_t exact_half(float x, const char* what, int64_t block, const GgmlTypeInfo& info) {
  const uint16_t h = float_to_half(x);
  QUENCH_CHECK(!std::isnan(x) && half_to_float(h) == x, "ggml_encode ", info.name, ": block ", block, ": ", what, " ", x,
               " is not exactly representable in fp16");
  return h;
}

uint8_t checked_code(uint8_t c, unsigned max, int64_t index, const GgmlTypeInfo& info) {
  QUENCH_CHECK(c <= max, "ggml_encode ", info.name, ": code ", unsigned(c), " at value ", index, " exceeds ", max);
  return c;
}

// Q4_0/Q4_1/Q5_0/Q5_1: nibbles of values j and j+16 share byte j; Q5 adds a 32-bit mask of fifth bits.
void encode_legacy(const GgmlBlocks& b, const GgmlTypeInfo& info, int64_t blocks, uint8_t* out) {
  const bool has_min = info.type == GgmlType::Q4_1 || info.type == GgmlType::Q5_1;
  const bool five = info.type == GgmlType::Q5_0 || info.type == GgmlType::Q5_1;
  const unsigned max = five ? 31 : 15;
  for (int64_t i = 0; i < blocks; ++i) {
    uint8_t* p = out + i * info.block_bytes;
    const uint8_t* c = b.code.data() + i * 32;
    put16(p, exact_half(b.d[i], "d", i, info));
    p += 2;
    if (has_min) {
      put16(p, exact_half(b.m[i], "m", i, info));
      p += 2;
    }
    uint32_t qh = 0;
    for (int j = 0; j < 32; ++j) {
      const uint8_t v = checked_code(c[j], max, i * 32 + j, info);
      qh |= static_cast<uint32_t>(v >> 4) << j;
    }
    if (five) {
      for (int k = 0; k < 4; ++k) p[k] = static_cast<uint8_t>(qh >> (8 * k));
      p += 4;
    }
    for (int j = 0; j < 16; ++j) p[j] = static_cast<uint8_t>((c[j] & 0x0F) | ((c[j + 16] & 0x0F) << 4));
  }
}

void encode_q8_0(const GgmlBlocks& b, const GgmlTypeInfo& info, int64_t blocks, uint8_t* out) {
  for (int64_t i = 0; i < blocks; ++i) {
    uint8_t* p = out + i * info.block_bytes;
    put16(p, exact_half(b.d[i], "d", i, info));
    std::memcpy(p + 2, b.code.data() + i * 32, 32);
  }
}

// Q4_K: d, dmin, 12 bytes of 6-bit (scale, min) pairs, then 4 groups of 32 bytes, each holding two
// 32-value sub-blocks (low nibbles: the first, high nibbles: the second).
void encode_q4_k(const GgmlBlocks& b, const GgmlTypeInfo& info, int64_t blocks, uint8_t* out) {
  for (int64_t i = 0; i < blocks; ++i) {
    uint8_t* p = out + i * info.block_bytes;
    put16(p, exact_half(b.d[i], "d", i, info));
    put16(p + 2, exact_half(b.m[i], "dmin", i, info));
    uint8_t* scales = p + 4;
    std::memset(scales, 0, 12);
    for (int j = 0; j < 8; ++j) {
      const uint8_t ls = b.sc[i * 8 + j], lm = b.mn[i * 8 + j];
      QUENCH_CHECK(ls <= 63 && lm <= 63, "ggml_encode Q4_K: block ", i, " sub-block ", j, ": scale ", unsigned(ls), " / min ", unsigned(lm),
                   " exceeds 63");
      if (j < 4) {
        scales[j] |= ls;
        scales[j + 4] |= lm;
      } else {
        // The upper four pairs keep their low 4 bits in bytes 8..11 and their top 2 bits in the
        // spare top bits of the lower pairs' bytes.
        scales[j + 4] = static_cast<uint8_t>((ls & 0x0F) | ((lm & 0x0F) << 4));
        scales[j - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
        scales[j] |= static_cast<uint8_t>((lm >> 4) << 6);
      }
    }
    uint8_t* qs = p + 16;
    const uint8_t* c = b.code.data() + i * 256;
    for (int g = 0; g < 4; ++g)
      for (int l = 0; l < 32; ++l) {
        const int64_t at = g * 64 + l;
        const uint8_t lo = checked_code(c[at], 15, i * 256 + at, info), hi = checked_code(c[at + 32], 15, i * 256 + at + 32, info);
        qs[g * 32 + l] = static_cast<uint8_t>(lo | (hi << 4));
      }
  }
}

// Q6_K: ql[128] (low nibbles), qh[64] (top 2 bits), int8 scales[16], d. Each half of 128 values
// uses 64 ql bytes and 32 qh bytes; value l + 32k of the half sits in ql[l + 32(k&1)] (nibble k>>1)
// and in qh[l] bits 2k..2k+1.
void encode_q6_k(const GgmlBlocks& b, const GgmlTypeInfo& info, int64_t blocks, uint8_t* out) {
  for (int64_t i = 0; i < blocks; ++i) {
    uint8_t* p = out + i * info.block_bytes;
    uint8_t* ql = p;
    uint8_t* qh = p + 128;
    const uint8_t* c = b.code.data() + i * 256;
    for (int64_t k = 0; k < 256; ++k) checked_code(c[k], 63, i * 256 + k, info);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* v = c + half * 128;
      for (int l = 0; l < 32; ++l) {
        ql[half * 64 + l] = static_cast<uint8_t>((v[l] & 0x0F) | ((v[l + 64] & 0x0F) << 4));
        ql[half * 64 + l + 32] = static_cast<uint8_t>((v[l + 32] & 0x0F) | ((v[l + 96] & 0x0F) << 4));
        qh[half * 32 + l] = static_cast<uint8_t>((v[l] >> 4) | ((v[l + 32] >> 4) << 2) | ((v[l + 64] >> 4) << 4) | ((v[l + 96] >> 4) << 6));
      }
    }
    std::memcpy(p + 192, b.sc.data() + i * 16, 16);
    put16(p + 208, exact_half(b.d[i], "d", i, info));
  }
}

// An unsigned E4M3 byte as ggml_ue4m3_to_fp32 reads it: half its value (0 and 0x7F read as 0).
float ue4m3_half(uint8_t x) {
  if (x == 0 || x == 0x7F) return 0.0f;
  const int exp = (x >> 3) & 0xF, man = x & 0x7;
  const float raw = exp == 0 ? std::ldexp(static_cast<float>(man), -9) : std::ldexp(1.0f + static_cast<float>(man) / 8.0f, exp - 7);
  return raw * 0.5f;
}
// The byte whose ue4m3_half is exactly h, or −1 (the values rise with the byte up to 0x7E).
int ue4m3_byte_of_half(float h) {
  int lo = 0, hi = 0x7E;
  while (lo < hi) {
    const int mid = (lo + hi) / 2;
    if (ue4m3_half(static_cast<uint8_t>(mid)) < h) lo = mid + 1;
    else hi = mid;
  }
  return ue4m3_half(static_cast<uint8_t>(lo)) == h ? lo : -1;
}

// MXFP4: the block's scale d is 2^(e − 128) (half of E8M0's 2^(e − 127), since the codes index E2M1
// values doubled); the byte e, then 16 bytes of nibble codes as the legacy types.
void encode_mxfp4(const GgmlBlocks& b, const GgmlTypeInfo& info, int64_t blocks, uint8_t* out) {
  for (int64_t i = 0; i < blocks; ++i) {
    const uint32_t u = bits_of(b.d[i]);
    int e = -1;
    if (u == 0x00200000u || u == 0x00400000u) e = u == 0x00200000u ? 0 : 1;
    else if (u >= 0x00800000u && (u & 0x807FFFFFu) == 0 && (u >> 23) + 1 <= 254) e = static_cast<int>(u >> 23) + 1;
    QUENCH_CHECK(e >= 0, "ggml_encode MXFP4: block ", i, ": scale ", b.d[i], " is not 2^k for an E8M0 exponent (k −128 … 126)");
    uint8_t* p = out + i * info.block_bytes;
    p[0] = static_cast<uint8_t>(e);
    const uint8_t* c = b.code.data() + i * 32;
    for (int j = 0; j < 16; ++j)
      p[1 + j] = static_cast<uint8_t>(checked_code(c[j], 15, i * 32 + j, info) | (checked_code(c[j + 16], 15, i * 32 + j + 16, info) << 4));
  }
}

// NVFP4: each sub-block's d must be half of an unsigned E4M3 value (0 included).
void encode_nvfp4(const GgmlBlocks& b, const GgmlTypeInfo& info, int64_t blocks, uint8_t* out) {
  for (int64_t i = 0; i < blocks; ++i) {
    uint8_t* p = out + i * info.block_bytes;
    for (int s = 0; s < 4; ++s) {
      const int64_t k = i * 4 + s;
      const int byte = ue4m3_byte_of_half(b.d[static_cast<size_t>(k)]);
      QUENCH_CHECK(byte >= 0, "ggml_encode NVFP4: sub-block ", k, ": scale ", b.d[static_cast<size_t>(k)],
                   " is not half of an unsigned E4M3 value (0 … 448)");
      p[s] = static_cast<uint8_t>(byte);
      const uint8_t* c = b.code.data() + i * 64 + s * 16;
      for (int j = 0; j < 8; ++j)
        p[4 + 8 * s + j] = static_cast<uint8_t>(checked_code(c[j], 15, i * 64 + s * 16 + j, info) |
                                                (checked_code(c[j + 8], 15, i * 64 + s * 16 + j + 8, info) << 4));
    }
  }
}

// ---- decoding, in dequantize_row_*'s float operation order ----

void decode_legacy(GgmlType t, const uint8_t* data, int64_t blocks, float* out) {
  const bool has_min = t == GgmlType::Q4_1 || t == GgmlType::Q5_1;
  const bool five = t == GgmlType::Q5_0 || t == GgmlType::Q5_1;
  const int64_t bytes = ggml_info(t).block_bytes;
  const int offset = five ? 16 : 8;
  for (int64_t i = 0; i < blocks; ++i) {
    const uint8_t* p = data + i * bytes;
    const float d = get_half(p);
    p += 2;
    float m = 0;
    if (has_min) {
      m = get_half(p);
      p += 2;
    }
    uint32_t qh = 0;
    if (five) {
      qh = static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
           (static_cast<uint32_t>(p[3]) << 24);
      p += 4;
    }
    float* y = out + i * 32;
    for (int j = 0; j < 16; ++j) {
      int x0 = p[j] & 0x0F, x1 = p[j] >> 4;
      if (five) {
        x0 |= static_cast<int>((qh >> j) & 1) << 4;
        x1 |= static_cast<int>((qh >> (j + 16)) & 1) << 4;
      }
      if (has_min) {
        y[j] = static_cast<float>(x0) * d + m;
        y[j + 16] = static_cast<float>(x1) * d + m;
      } else {
        y[j] = static_cast<float>(x0 - offset) * d;
        y[j + 16] = static_cast<float>(x1 - offset) * d;
      }
    }
  }
}

void decode_q8_0(const uint8_t* data, int64_t blocks, float* out) {
  for (int64_t i = 0; i < blocks; ++i) {
    const uint8_t* p = data + i * 34;
    const float d = get_half(p);
    for (int j = 0; j < 32; ++j) out[i * 32 + j] = static_cast<float>(static_cast<int8_t>(p[2 + j])) * d;
  }
}

// get_scale_min_k4's unpacking of the 12 scale bytes.
void scale_min_k4(int j, const uint8_t* q, uint8_t& sc, uint8_t& mn) {
  if (j < 4) {
    sc = q[j] & 63;
    mn = q[j + 4] & 63;
  } else {
    sc = static_cast<uint8_t>((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4));
    mn = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// Q4_K and Q5_K: d, dmin, 12 bytes of 6-bit (scale, min) pairs, then (Q5_K) qh[32] of fifth bits
// — bit 2g of byte l for value l of group g's first sub-block, bit 2g+1 for its second — then 128
// bytes of nibbles, two 32-value sub-blocks per 32 bytes.
void decode_q45_k(const uint8_t* data, int64_t blocks, bool five, float* out) {
  const int64_t bytes = five ? 176 : 144;
  for (int64_t i = 0; i < blocks; ++i) {
    const uint8_t* p = data + i * bytes;
    const float d = get_half(p), dmin = get_half(p + 2);
    const uint8_t* scales = p + 4;
    const uint8_t* qh = p + 16;
    const uint8_t* q = p + (five ? 48 : 16);
    float* y = out + i * 256;
    for (int g = 0; g < 4; ++g, q += 32) {
      uint8_t sc, mn;
      scale_min_k4(2 * g, scales, sc, mn);
      const float d1 = d * sc, m1 = dmin * mn;
      scale_min_k4(2 * g + 1, scales, sc, mn);
      const float d2 = d * sc, m2 = dmin * mn;
      const unsigned u1 = 1u << (2 * g), u2 = 2u << (2 * g);
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>((q[l] & 0x0F) + (five && (qh[l] & u1) ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>((q[l] >> 4) + (five && (qh[l] & u2) ? 16 : 0)) - m2;
    }
  }
}

void decode_q6_k(const uint8_t* data, int64_t blocks, float* out) {
  for (int64_t i = 0; i < blocks; ++i) {
    const uint8_t* p = data + i * 210;
    const float d = get_half(p + 208);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = p + half * 64;
      const uint8_t* qh = p + 128 + half * 32;
      const int8_t* sc = reinterpret_cast<const int8_t*>(p + 192 + half * 8);
      float* y = out + i * 256 + half * 128;
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * sc[is] * static_cast<float>(q1);
        y[l + 32] = d * sc[is + 2] * static_cast<float>(q2);
        y[l + 64] = d * sc[is + 4] * static_cast<float>(q3);
        y[l + 96] = d * sc[is + 6] * static_cast<float>(q4);
      }
    }
  }
}

// Q2_K: 16 bytes of (scale | min << 4), 64 bytes of 2-bit codes, d, dmin. Each 128-value half
// reads 32 code bytes four times, two bits further each time; every 16 values take the next scale.
void decode_q2_k(const uint8_t* data, int64_t blocks, float* out) {
  for (int64_t i = 0; i < blocks; ++i) {
    const uint8_t* p = data + i * 84;
    const float d = get_half(p + 80), dmin = get_half(p + 82);
    const uint8_t* scales = p;
    const uint8_t* q = p + 16;
    float* y = out + i * 256;
    int is = 0;
    for (int half = 0; half < 2; ++half, q += 32)
      for (int shift = 0; shift < 8; shift += 2)
        for (int part = 0; part < 2; ++part) {
          const uint8_t sc = scales[is++];
          const float dl = d * static_cast<float>(sc & 0x0F), ml = dmin * static_cast<float>(sc >> 4);
          for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<float>((q[l + 16 * part] >> shift) & 3) - ml;
        }
  }
}

// Q3_K: hmask[32] (third bit: set means +0, clear means −4), qs[64] (low two bits, laid out as
// Q2_K's), 12 bytes of sixteen 6-bit scales, d.
void decode_q3_k(const uint8_t* data, int64_t blocks, float* out) {
  for (int64_t i = 0; i < blocks; ++i) {
    const uint8_t* p = data + i * 110;
    const uint8_t* hm = p;
    const uint8_t* q = p + 32;
    const uint8_t* s = p + 96;
    const float d = get_half(p + 108);
    // Scale j: low 4 bits from byte j (j < 8: low nibble, else byte j − 8's high nibble), top
    // 2 bits from byte 8 + j % 4, bit pair j / 4.
    int8_t sc[16];
    for (int j = 0; j < 16; ++j) {
      const int lo = j < 8 ? (s[j] & 0x0F) : (s[j - 8] >> 4);
      const int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
      sc[j] = static_cast<int8_t>((lo | (hi << 4)) - 32);
    }
    float* y = out + i * 256;
    int is = 0;
    uint8_t m = 1;
    for (int half = 0; half < 2; ++half, q += 32)
      for (int shift = 0; shift < 8; shift += 2, m = static_cast<uint8_t>(m << 1))
        for (int part = 0; part < 2; ++part) {
          const float dl = d * static_cast<float>(sc[is++]);
          for (int l = 0; l < 16; ++l) {
            const int at = l + 16 * part;
            *y++ = dl * static_cast<float>(((q[at] >> shift) & 3) - ((hm[at] & m) ? 0 : 4));
          }
        }
  }
}

// `half` bytes of nibble codes through a 16-entry table: value j in the low nibble of byte j,
// j + half in the high one (the legacy types' order with half 16; NVFP4's sub-blocks with 8).
void decode_table_nibbles(const uint8_t* q, const int8_t* table, float d, float* y, int half = 16) {
  for (int j = 0; j < half; ++j) {
    y[j] = d * static_cast<float>(table[q[j] & 0x0F]);
    y[j + half] = d * static_cast<float>(table[q[j] >> 4]);
  }
}

void decode_iq4_nl(const uint8_t* data, int64_t blocks, float* out) {
  for (int64_t i = 0; i < blocks; ++i) decode_table_nibbles(data + i * 18 + 2, kIq4Values, get_half(data + i * 18), out + i * 32);
}

// IQ4_XS: d, 16 bits of scale tops (2 per sub-block), 4 bytes of scale nibbles, 128 code bytes.
void decode_iq4_xs(const uint8_t* data, int64_t blocks, float* out) {
  for (int64_t i = 0; i < blocks; ++i) {
    const uint8_t* p = data + i * 136;
    const float d = get_half(p);
    const uint16_t scales_h = get16(p + 2);
    for (int ib = 0; ib < 8; ++ib) {
      const int ls = ((p[4 + ib / 2] >> (4 * (ib % 2))) & 0x0F) | (((scales_h >> (2 * ib)) & 3) << 4);
      decode_table_nibbles(p + 8 + 16 * ib, kIq4Values, d * static_cast<float>(ls - 32), out + i * 256 + ib * 32);
    }
  }
}

// MXFP4: one E8M0 exponent, then nibbles as IQ4_NL. The table holds E2M1 doubled, so the scale
// is half of 2^(e − 127); e 0 and 1 give the float subnormals 2^-128 and 2^-127. (ggml multiplies
// value·d, the table helper d·value: the same float product.)
void decode_mxfp4(const uint8_t* data, int64_t blocks, float* out) {
  for (int64_t i = 0; i < blocks; ++i) {
    const uint8_t e = data[i * 17];
    const float d = float_of(e < 2 ? 0x00200000u << e : static_cast<uint32_t>(e - 1) << 23);
    decode_table_nibbles(data + i * 17 + 1, kFp4Values, d, out + i * 32);
  }
}

// NVFP4: four unsigned E4M3 sub-block scales, halved as ggml_ue4m3_to_fp32 does (the table is
// E2M1 doubled), then 8 bytes of nibbles per sub-block.
void decode_nvfp4(const uint8_t* data, int64_t blocks, float* out) {
  for (int64_t i = 0; i < blocks; ++i) {
    const uint8_t* p = data + i * 36;
    for (int s = 0; s < 4; ++s) decode_table_nibbles(p + 4 + 8 * s, kFp4Values, ue4m3_half(p[s]), out + i * 64 + 16 * s, 8);
  }
}

}  // namespace

std::optional<GgmlTypeInfo> ggml_type_info(uint32_t code) {
  for (const auto& r : kSupported)
    if (static_cast<uint32_t>(r.type) == code) return r;
  return std::nullopt;
}

const GgmlTypeInfo& ggml_info(GgmlType t) {
  for (const auto& r : kSupported)
    if (r.type == t) return r;
  fail("ggml type code ", static_cast<uint32_t>(t), " is not supported");
}

std::optional<GgmlType> ggml_type_from_name(const std::string& name) {
  std::string up = name;
  std::transform(up.begin(), up.end(), up.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  for (const auto& r : kSupported)
    if (up == r.name) return r.type;
  return std::nullopt;
}

std::string ggml_decodable_names() {
  std::string out;
  for (const auto& r : kSupported) out += (out.empty() ? "" : ", ") + std::string(r.name);
  return out;
}

std::string ggml_type_code_name(uint32_t code) {
  if (const CodeRow* r = code_row(code)) return r->name;
  return "type " + std::to_string(code);
}

std::optional<std::pair<int64_t, int64_t>> ggml_type_code_layout(uint32_t code) {
  const CodeRow* r = code_row(code);
  if (!r || r->block_bytes == 0) return std::nullopt;
  return std::make_pair(r->block, r->block_bytes);
}

int64_t ggml_row_bytes(GgmlType t, int64_t n) {
  const auto& info = ggml_info(t);
  QUENCH_CHECK(n >= 0 && n % info.block == 0, info.name, ": row length ", n, " is not a multiple of the block (", info.block, ")");
  return n / info.block * info.block_bytes;
}

uint16_t float_to_half(float f) {
  const uint32_t x = bits_of(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t ax = x & 0x7FFFFFFF;
  if (ax > 0x7F800000) return sign | 0x7E00;   // NaN: quiet, payload dropped (as ggml's portable path)
  if (ax >= 0x477FF000) return sign | 0x7C00;  // ≥ 65520 rounds (ties to even) to infinity
  const int e = static_cast<int>(ax >> 23);
  if (ax < 0x38800000) {  // below 2^-14: a half subnormal, in units of 2^-24
    if (e == 0) return sign;  // float zero or subnormal: far below half's smallest subnormal
    const uint32_t m = (ax & 0x7FFFFF) | 0x800000;
    return static_cast<uint16_t>(sign | shift_rne(m, 126 - e));
  }
  const uint32_t h = (static_cast<uint32_t>(e - 112) << 10) | ((ax & 0x7FFFFF) >> 13);
  const uint32_t rem = ax & 0x1FFF;
  // A carry out of the mantissa correctly bumps the exponent.
  return static_cast<uint16_t>(sign | (h + ((rem > 0x1000 || (rem == 0x1000 && (h & 1))) ? 1 : 0)));
}

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t e = (h >> 10) & 0x1F, m = h & 0x3FF;
  if (e == 0x1F) return float_of(sign | 0x7F800000 | (m << 13));
  if (e != 0) return float_of(sign | ((e + 112) << 23) | (m << 13));
  if (m == 0) return float_of(sign);
  const float v = std::ldexp(static_cast<float>(m), -24);  // subnormal: exact in float
  return sign ? -v : v;
}

uint16_t float_to_bf16(float f) {
  const uint32_t u = bits_of(f);
  if ((u & 0x7FFFFFFF) > 0x7F800000) return static_cast<uint16_t>((u >> 16) | 64);  // NaN stays NaN, quiet
  return static_cast<uint16_t>((u + (0x7FFF + ((u >> 16) & 1))) >> 16);
}

float bf16_to_float(uint16_t h) { return float_of(static_cast<uint32_t>(h) << 16); }

std::vector<uint8_t> ggml_encode(const GgmlBlocks& b) {
  const auto& info = ggml_info(b.type);
  QUENCH_CHECK(info.encodable, "ggml_encode: Quench reads ", info.name, " but does not write it");
  QUENCH_CHECK(info.block > 1, "ggml_encode: ", info.name, " holds plain values: use ggml_encode_float");
  const Shape s = check_shape(b, info);
  const bool k_quant = b.type == GgmlType::Q4_K || b.type == GgmlType::Q6_K;
  check_count(b.type == GgmlType::NVFP4 ? "sub-block scales" : "d scales", b.d.size(), b.type == GgmlType::NVFP4 ? s.blocks * 4 : s.blocks, info);
  if (b.type == GgmlType::Q4_1 || b.type == GgmlType::Q5_1 || b.type == GgmlType::Q4_K)
    check_count(b.type == GgmlType::Q4_K ? "dmin scales" : "m offsets", b.m.size(), s.blocks, info);
  if (k_quant) {
    const int64_t per = b.type == GgmlType::Q4_K ? 8 : 16;
    check_count("sub-block scales", b.sc.size(), s.blocks * per, info);
    if (b.type == GgmlType::Q4_K) check_count("sub-block mins", b.mn.size(), s.blocks * per, info);
  }
  std::vector<uint8_t> out(static_cast<size_t>(s.blocks * info.block_bytes));
  switch (b.type) {
    case GgmlType::Q4_0:
    case GgmlType::Q4_1:
    case GgmlType::Q5_0:
    case GgmlType::Q5_1: encode_legacy(b, info, s.blocks, out.data()); break;
    case GgmlType::Q8_0: encode_q8_0(b, info, s.blocks, out.data()); break;
    case GgmlType::Q4_K: encode_q4_k(b, info, s.blocks, out.data()); break;
    case GgmlType::Q6_K: encode_q6_k(b, info, s.blocks, out.data()); break;
    case GgmlType::MXFP4: encode_mxfp4(b, info, s.blocks, out.data()); break;
    case GgmlType::NVFP4: encode_nvfp4(b, info, s.blocks, out.data()); break;
    default: fail("ggml_encode: ", info.name, " is not a block type");
  }
  return out;
}

std::vector<uint8_t> ggml_encode_float(GgmlType t, const float* x, int64_t n) {
  QUENCH_CHECK(n >= 0, "ggml_encode_float: negative count ", n);
  const auto& info = ggml_info(t);
  QUENCH_CHECK(info.block == 1, "ggml_encode_float: ", info.name, " is a block type: use ggml_encode");
  std::vector<uint8_t> out(static_cast<size_t>(n * info.block_bytes));
  if (t == GgmlType::F32) {
    for (int64_t i = 0; i < n; ++i) {
      const uint32_t u = bits_of(x[i]);
      for (int k = 0; k < 4; ++k) out[static_cast<size_t>(4 * i + k)] = static_cast<uint8_t>(u >> (8 * k));
    }
  } else {
    for (int64_t i = 0; i < n; ++i) put16(out.data() + 2 * i, t == GgmlType::F16 ? float_to_half(x[i]) : float_to_bf16(x[i]));
  }
  return out;
}

void ggml_decode(GgmlType t, const uint8_t* data, int64_t n, float* out) {
  const auto& info = ggml_info(t);
  QUENCH_CHECK(n >= 0 && n % info.block == 0, "ggml_decode ", info.name, ": ", n, " values is not a multiple of the block (", info.block, ")");
  const int64_t blocks = n / info.block;
  switch (t) {
    case GgmlType::F32:
      for (int64_t i = 0; i < n; ++i) {
        const uint8_t* p = data + 4 * i;
        out[i] = float_of(static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
                          (static_cast<uint32_t>(p[3]) << 24));
      }
      break;
    case GgmlType::F16:
      for (int64_t i = 0; i < n; ++i) out[i] = half_to_float(get16(data + 2 * i));
      break;
    case GgmlType::BF16:
      for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_float(get16(data + 2 * i));
      break;
    case GgmlType::Q4_0:
    case GgmlType::Q4_1:
    case GgmlType::Q5_0:
    case GgmlType::Q5_1: decode_legacy(t, data, blocks, out); break;
    case GgmlType::Q8_0: decode_q8_0(data, blocks, out); break;
    case GgmlType::Q4_K: decode_q45_k(data, blocks, false, out); break;
    case GgmlType::Q6_K: decode_q6_k(data, blocks, out); break;
    case GgmlType::Q2_K: decode_q2_k(data, blocks, out); break;
    case GgmlType::Q3_K: decode_q3_k(data, blocks, out); break;
    case GgmlType::Q5_K: decode_q45_k(data, blocks, true, out); break;
    case GgmlType::IQ4_NL: decode_iq4_nl(data, blocks, out); break;
    case GgmlType::IQ4_XS: decode_iq4_xs(data, blocks, out); break;
    case GgmlType::MXFP4: decode_mxfp4(data, blocks, out); break;
    case GgmlType::NVFP4: decode_nvfp4(data, blocks, out); break;
  }
}

}  // namespace quench
