#pragma once
// ggml's tensor types and their block layouts (GGUF tensor data), torch-free: encoding blocks
// from integer codes and scales that a quantizer already chose, and decoding blocks to floats
// exactly as llama.cpp's dequantize_row_* does. The quantizers themselves (which codes and scales)
// live in core/ops/ggml_grid.h; this file only moves bits.
//
// Per block of `block` values along a row (ne0), with fp16 d/m:
//   F32, F16, BF16: plain values (block 1)
//   Q8_0 (32):  x = d·q,            q int8
//   Q4_0 (32):  x = d·(c − 8),      c 0..15   (16 bytes of nibbles: value j in low nibble of byte j, j+16 in the high)
//   Q5_0 (32):  x = d·(c − 16),     c 0..31   (4 bytes qh: bit j = fifth bit of value j)
//   Q4_1 (32):  x = d·c + m,        c 0..15
//   Q5_1 (32):  x = d·c + m,        c 0..31
//   Q4_K (256): 8 sub-blocks of 32: x = (d·sc_j)·c − (dmin·mn_j), c 0..15, sc_j, mn_j 6-bit (0..63)
//   Q6_K (256): 16 sub-blocks of 16: x = (d·sc_j)·(c − 32), c 0..63, sc_j int8
//   MXFP4 (32): x = 2^(e−127)·E2M1[c], one 8-bit exponent e per block, E2M1 the 4-bit float
//               (GgmlBlocks: d = 2^(e−128), the code c the nibble 0..15)
//   NVFP4 (64): 4 sub-blocks of 16: x = s_j·E2M1[c], s_j an unsigned E4M3 byte (0x7F reads as 0);
//               within a sub-block value j in the low nibble of byte j, j + 8 in the high
//               (GgmlBlocks: d per sub-block = s_j / 2, as the codes index E2M1 doubled). A
//               tensor-wide factor, when there is one, is a separate F32 [1] tensor "<name>.scale"
//               that llama.cpp multiplies the projection's output by.
// Read only (files that llama.cpp's quantizer wrote; Quench has no quantizer for them):
//   Q2_K (256): 16 sub-blocks of 16: x = (d·sc_j)·c − (dmin·mn_j), c 0..3, sc_j, mn_j 4-bit
//   Q3_K (256): 16 sub-blocks of 16: x = (d·(sc_j − 32))·(c − 4), c 0..7, sc_j 6-bit
//   Q5_K (256): as Q4_K with c 0..31
//   IQ4_NL (32): x = d·T[c], c 0..15, T llama.cpp's 16-entry non-uniform table (−127 … 113)
//   IQ4_XS (256): 8 sub-blocks of 32: x = (d·(sc_j − 32))·T[c], sc_j 6-bit
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace quench {

// Values are ggml's type codes (ggml.h enum ggml_type); only the ones Quench reads or writes.
enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14,
  IQ4_NL = 20, IQ4_XS = 23, BF16 = 30, MXFP4 = 39, NVFP4 = 40
};

struct GgmlTypeInfo {
  GgmlType type;
  const char* name;     // "Q4_0", as llama.cpp prints it
  int64_t block;        // values per block
  int64_t block_bytes;  // bytes per block
  bool encodable;       // false: decoded on import only (ggml_encode refuses it)
};

// Types Quench decodes (the encodable ones among them are those it also writes); nullopt for any
// other code (a file may name types Quench cannot decode).
std::optional<GgmlTypeInfo> ggml_type_info(uint32_t code);
const GgmlTypeInfo& ggml_info(GgmlType t);
std::optional<GgmlType> ggml_type_from_name(const std::string& name);  // "q4_0" or "Q4_0"; nullopt when unknown
// "F32, F16, …": the decodable types, for messages.
std::string ggml_decodable_names();
// Name of any ggml type code, including ones Quench does not support (for error messages); "type 99" when unknown.
std::string ggml_type_code_name(uint32_t code);
// (values per block, bytes per block) of any ggml type code with a known layout, supported or not, so a
// reader can size and bounds-check tensors it cannot decode; nullopt for removed or unknown codes.
std::optional<std::pair<int64_t, int64_t>> ggml_type_code_layout(uint32_t code);
// Bytes for a row of n values; throws unless n is a multiple of the block.
int64_t ggml_row_bytes(GgmlType t, int64_t n);

// fp16 / bf16 conversion (round to nearest even, as ggml does).
uint16_t float_to_half(float f);
float half_to_float(uint16_t h);
uint16_t float_to_bf16(float f);
float bf16_to_float(uint16_t h);

// The codes and scales of `rows` rows of `cols` values (cols a multiple of the block), row-major.
// code: one per value, the stored unsigned code of the table above (Q8_0: the int8 value cast to uint8).
// d, m: one per block (m: Q4_1/Q5_1 only) — Q4_K: d and dmin per super-block in d and m;
// Q6_K: d per super-block; NVFP4: d per sub-block of 16. Values must be exactly representable in fp16 (the encoder checks).
// sc, mn: Q4_K/Q6_K sub-block scales (and Q4_K mins), 8 resp. 16 per super-block (Q6_K sc holds int8 cast to uint8).
struct GgmlBlocks {
  GgmlType type = GgmlType::F32;
  int64_t rows = 0, cols = 0;
  std::vector<uint8_t> code;
  std::vector<float> d, m;
  std::vector<uint8_t> sc, mn;
};

// The tensor data bytes of the blocks (rows·ggml_row_bytes). Throws on inconsistent sizes, codes
// out of range or a scale not representable in its field (fp16, E8M0, E4M3).
std::vector<uint8_t> ggml_encode(const GgmlBlocks& b);
// Plain types: values → bytes.
std::vector<uint8_t> ggml_encode_float(GgmlType t, const float* x, int64_t n);
// n values (a multiple of the block) of type t from data into out, as llama.cpp dequantizes them.
void ggml_decode(GgmlType t, const uint8_t* data, int64_t n, float* out);

}  // namespace quench
