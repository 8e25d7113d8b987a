#pragma once
// GGUF files (llama.cpp's model format, version 3), torch-free.
// Layout: magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv | n_kv × (string key, u32 type, value)
// | n_tensors × (string name, u32 n_dims, n_dims × u64 ne (ne0 = the contiguous dim), u32 ggml type,
// u64 offset) | padding to general.alignment (32) | tensor data, each tensor aligned.
// Strings are u64 length + bytes; little-endian throughout.
//
// The reader validates everything before any value is used and throws quench::Error naming the
// file and the key or tensor: bad magic or version, truncation, unknown value or tensor types,
// absurd counts and lengths, tensor data out of the file, misaligned or overlapping data,
// duplicate keys or names.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "core/io/ggml_blocks.h"

namespace quench {

// GGUF metadata value types (gguf.h enum gguf_type).
enum class GgufValueType : uint32_t { U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7, STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12 };

struct GgufValue;
struct GgufArray {
  GgufValueType elem = GgufValueType::U8;
  std::vector<GgufValue> items;
};
struct GgufValue {
  GgufValueType type = GgufValueType::U8;
  // Integers of every width live in i (u64 values above INT64_MAX are refused), floats in f.
  std::variant<int64_t, double, bool, std::string, std::shared_ptr<GgufArray>> v;

  static GgufValue u32(uint32_t x);
  static GgufValue i32(int32_t x);
  static GgufValue u64(uint64_t x);
  static GgufValue f32(float x);
  static GgufValue boolean(bool x);
  static GgufValue str(std::string x);
  static GgufValue strings(const std::vector<std::string>& xs);
  static GgufValue i32s(const std::vector<int32_t>& xs);
  static GgufValue f32s(const std::vector<float>& xs);

  int64_t as_int(const std::string& context) const;   // any integer type; throws naming context otherwise
  double as_float(const std::string& context) const;  // F32/F64 (or integer)
  bool as_bool(const std::string& context) const;
  const std::string& as_string(const std::string& context) const;
  const GgufArray& as_array(const std::string& context) const;
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> ne;  // ggml order: ne[0] is the contiguous (column) dim
  uint32_t type_code = 0;   // raw code as read (may be a type Quench cannot decode)
  uint64_t offset = 0;      // relative to the data section
  uint64_t nbytes = 0;      // computed from ne and the type
  int64_t numel() const;
};

class MappedFile;

class GgufFile {
 public:
  explicit GgufFile(const std::string& path);  // maps and validates the header and tensor table
  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  const std::map<std::string, GgufValue>& metadata() const { return kv_; }
  const GgufValue* find_key(const std::string& key) const;
  const GgufValue& key(const std::string& key) const;  // throws "FILE: missing key KEY"
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find(const std::string& name) const;
  const GgufTensorInfo& tensor(const std::string& name) const;  // throws naming file and tensor
  const uint8_t* data(const GgufTensorInfo& t) const;            // raw bytes, nbytes long
  // Dequantized values, row-major with ne[0] fastest. Throws for types Quench cannot decode, naming the tensor and type.
  std::vector<float> dequantize(const std::string& name) const;

 private:
  std::string path_;
  std::shared_ptr<MappedFile> map_;
  uint32_t version_ = 0;
  std::map<std::string, GgufValue> kv_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> index_;
  uint64_t data_start_ = 0;
};

// Writes a GGUF v3 file. Tensor data is produced on demand while writing, so a multi-GB model
// never needs to be in memory at once. The file is written to a temporary name beside `path`,
// flushed and renamed: a failure leaves no file that looks complete.
class GgufWriter {
 public:
  using Producer = std::function<std::vector<uint8_t>()>;  // must return exactly the declared bytes

  void set(const std::string& key, GgufValue v);  // keys keep insertion order; a repeated key throws
  // ne in ggml order (ne[0] = contiguous dim). nbytes is checked against ne and type.
  void add_tensor(const std::string& name, std::vector<int64_t> ne, GgmlType type, Producer produce);
  // progress(done, total) after each tensor; may throw Cancelled.
  void write(const std::string& path, const std::function<void(int64_t, int64_t)>& progress = {}) const;

 private:
  struct Pending {
    std::string name;
    std::vector<int64_t> ne;
    GgmlType type;
    uint64_t nbytes;
    Producer produce;
  };
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<Pending> tensors_;
};

}  // namespace quench
