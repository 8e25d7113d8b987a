#include "core/io/gguf.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>

#include "core/io/atomic_file.h"
#include "core/io/mapped_file.h"
#include "core/util/error.h"

namespace quench {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint32_t kVersion = 3;
constexpr uint64_t kDefaultAlignment = 32;
constexpr int kMaxDims = 4;           // GGML_MAX_DIMS
constexpr size_t kMaxNameBytes = 63;  // llama.cpp refuses tensor names of GGML_MAX_NAME (64) bytes or more
constexpr int kMaxArrayDepth = 8;     // nested arrays are legal but never deep; bounds the recursion

const char* value_type_name(GgufValueType t) {
  static const char* const names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};
  const auto i = static_cast<uint32_t>(t);
  return i < std::size(names) ? names[i] : "unknown";
}

bool valid_value_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufValueType::F64); }

// Bytes a value of this type occupies at least: bounds counts before anything is allocated.
uint64_t min_value_bytes(GgufValueType t) {
  switch (t) {
    case GgufValueType::U8:
    case GgufValueType::I8:
    case GgufValueType::BOOL: return 1;
    case GgufValueType::U16:
    case GgufValueType::I16: return 2;
    case GgufValueType::U32:
    case GgufValueType::I32:
    case GgufValueType::F32: return 4;
    case GgufValueType::STRING:
    case GgufValueType::U64:
    case GgufValueType::I64:
    case GgufValueType::F64: return 8;
    case GgufValueType::ARRAY: return 12;
  }
  return 1;
}

uint64_t pad_to(uint64_t x, uint64_t align) { return (x + align - 1) / align * align; }

std::string shape_str(const std::vector<int64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

// Bounds-checked little-endian reads over the mapped file; every failure names the file and what was being read.
class Cursor {
 public:
  Cursor(const std::string& path, const uint8_t* data, uint64_t size) : path_(path), data_(data), size_(size) {}
  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }

  void need(uint64_t n, const std::string& what) const {
    if (n > remaining())
      fail(path_, ": ", what, ": needs ", n, " bytes at offset ", pos_, " but the file ends at ", size_, " bytes (truncated?)");
  }
  template <typename T>
  T get(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));  // GGUF is little-endian; so are the hosts Quench runs on
    pos_ += sizeof(T);
    return v;
  }
  std::string string(const std::string& what) {
    const auto n = get<uint64_t>(what + " length");
    if (n > remaining())
      fail(path_, ": ", what, ": string length ", n, " at offset ", pos_ - 8, " runs past the end of the file (", size_, " bytes)");
    std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(n));
    pos_ += n;
    return s;
  }
  // A count of items of at least min_bytes each, refused when they could not fit in the rest of the file.
  uint64_t count(const std::string& what, uint64_t min_bytes) {
    const auto n = get<uint64_t>(what);
    if (n > remaining() / min_bytes)
      fail(path_, ": ", what, " ", n, " is absurd: the ", remaining(), " bytes left in the file hold at most ", remaining() / min_bytes);
    return n;
  }

 private:
  const std::string& path_;
  const uint8_t* data_;
  uint64_t size_, pos_ = 0;
};

GgufValue read_value(Cursor& c, GgufValueType type, const std::string& ctx, const std::string& path, int depth);

GgufValue read_array(Cursor& c, const std::string& ctx, const std::string& path, int depth) {
  QUENCH_CHECK(depth < kMaxArrayDepth, path, ": ", ctx, ": arrays nested deeper than ", kMaxArrayDepth);
  const auto et = c.get<uint32_t>(ctx + " array type");
  QUENCH_CHECK(valid_value_type(et), path, ": ", ctx, ": unknown array element type ", et);
  auto arr = std::make_shared<GgufArray>();
  arr->elem = static_cast<GgufValueType>(et);
  const uint64_t n = c.count(ctx + ": array count", min_value_bytes(arr->elem));
  arr->items.reserve(static_cast<size_t>(n));
  for (uint64_t i = 0; i < n; ++i) arr->items.push_back(read_value(c, arr->elem, ctx, path, depth + 1));
  GgufValue v;
  v.type = GgufValueType::ARRAY;
  v.v = std::move(arr);
  return v;
}

GgufValue read_value(Cursor& c, GgufValueType type, const std::string& ctx, const std::string& path, int depth) {
  GgufValue v;
  v.type = type;
  switch (type) {
    case GgufValueType::U8: v.v = int64_t{c.get<uint8_t>(ctx)}; break;
    case GgufValueType::I8: v.v = int64_t{c.get<int8_t>(ctx)}; break;
    case GgufValueType::U16: v.v = int64_t{c.get<uint16_t>(ctx)}; break;
    case GgufValueType::I16: v.v = int64_t{c.get<int16_t>(ctx)}; break;
    case GgufValueType::U32: v.v = int64_t{c.get<uint32_t>(ctx)}; break;
    case GgufValueType::I32: v.v = int64_t{c.get<int32_t>(ctx)}; break;
    case GgufValueType::I64: v.v = c.get<int64_t>(ctx); break;
    case GgufValueType::U64: {
      const auto x = c.get<uint64_t>(ctx);
      QUENCH_CHECK(x <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), path, ": ", ctx, ": u64 value ", x,
                   " exceeds the largest supported (2^63 - 1)");
      v.v = static_cast<int64_t>(x);
      break;
    }
    case GgufValueType::F32: v.v = double{c.get<float>(ctx)}; break;
    case GgufValueType::F64: v.v = c.get<double>(ctx); break;
    case GgufValueType::BOOL: {
      const auto b = c.get<uint8_t>(ctx);
      QUENCH_CHECK(b <= 1, path, ": ", ctx, ": bool byte is ", unsigned(b), ", not 0 or 1");
      v.v = b == 1;
      break;
    }
    case GgufValueType::STRING: v.v = c.string(ctx); break;
    case GgufValueType::ARRAY: return read_array(c, ctx, path, depth);
  }
  return v;
}

// ---- writing ----

class Sink {
 public:
  explicit Sink(AtomicFile& f) : f_(f) {}
  void bytes(const void* p, size_t n) {
    f_.write(p, n);
    written_ += n;
  }
  template <typename T>
  void put(T x) {
    bytes(&x, sizeof(T));
  }
  void string(const std::string& s) {
    put<uint64_t>(s.size());
    bytes(s.data(), s.size());
  }
  void pad(uint64_t align) {
    static const uint8_t zeros[256] = {};
    uint64_t n = pad_to(written_, align) - written_;
    while (n > 0) {
      const size_t k = static_cast<size_t>(std::min<uint64_t>(n, sizeof zeros));
      bytes(zeros, k);
      n -= k;
    }
  }
  uint64_t written() const { return written_; }

 private:
  AtomicFile& f_;
  uint64_t written_ = 0;
};

void check_int_range(const GgufValue& v, int64_t lo, int64_t hi, const std::string& ctx) {
  const int64_t x = std::get<int64_t>(v.v);
  QUENCH_CHECK(x >= lo && x <= hi, ctx, ": value ", x, " does not fit a ", value_type_name(v.type));
}

// Refuses values whose variant does not match their declared type, before a byte is written.
void validate_value(const GgufValue& v, const std::string& ctx, int depth) {
  QUENCH_CHECK(valid_value_type(static_cast<uint32_t>(v.type)), ctx, ": unknown value type ", static_cast<uint32_t>(v.type));
  const auto want = [&](bool ok) { QUENCH_CHECK(ok, ctx, ": ", value_type_name(v.type), " value holds the wrong kind of data"); };
  switch (v.type) {
    case GgufValueType::U8: want(std::holds_alternative<int64_t>(v.v)); check_int_range(v, 0, UINT8_MAX, ctx); break;
    case GgufValueType::I8: want(std::holds_alternative<int64_t>(v.v)); check_int_range(v, INT8_MIN, INT8_MAX, ctx); break;
    case GgufValueType::U16: want(std::holds_alternative<int64_t>(v.v)); check_int_range(v, 0, UINT16_MAX, ctx); break;
    case GgufValueType::I16: want(std::holds_alternative<int64_t>(v.v)); check_int_range(v, INT16_MIN, INT16_MAX, ctx); break;
    case GgufValueType::U32: want(std::holds_alternative<int64_t>(v.v)); check_int_range(v, 0, UINT32_MAX, ctx); break;
    case GgufValueType::I32: want(std::holds_alternative<int64_t>(v.v)); check_int_range(v, INT32_MIN, INT32_MAX, ctx); break;
    case GgufValueType::U64: want(std::holds_alternative<int64_t>(v.v)); check_int_range(v, 0, INT64_MAX, ctx); break;
    case GgufValueType::I64: want(std::holds_alternative<int64_t>(v.v)); break;
    case GgufValueType::F32:
    case GgufValueType::F64: want(std::holds_alternative<double>(v.v)); break;
    case GgufValueType::BOOL: want(std::holds_alternative<bool>(v.v)); break;
    case GgufValueType::STRING: want(std::holds_alternative<std::string>(v.v)); break;
    case GgufValueType::ARRAY: {
      want(std::holds_alternative<std::shared_ptr<GgufArray>>(v.v) && std::get<std::shared_ptr<GgufArray>>(v.v));
      QUENCH_CHECK(depth < kMaxArrayDepth, ctx, ": arrays nested deeper than ", kMaxArrayDepth);
      const auto& a = *std::get<std::shared_ptr<GgufArray>>(v.v);
      for (size_t i = 0; i < a.items.size(); ++i) {
        const std::string ictx = ctx + "[" + std::to_string(i) + "]";
        QUENCH_CHECK(a.items[i].type == a.elem, ictx, ": ", value_type_name(a.items[i].type), " item in an array of ", value_type_name(a.elem));
        validate_value(a.items[i], ictx, depth + 1);
      }
      break;
    }
  }
}

void write_payload(Sink& s, const GgufValue& v) {
  const auto i = [&] { return std::get<int64_t>(v.v); };
  switch (v.type) {
    case GgufValueType::U8: s.put(static_cast<uint8_t>(i())); break;
    case GgufValueType::I8: s.put(static_cast<int8_t>(i())); break;
    case GgufValueType::U16: s.put(static_cast<uint16_t>(i())); break;
    case GgufValueType::I16: s.put(static_cast<int16_t>(i())); break;
    case GgufValueType::U32: s.put(static_cast<uint32_t>(i())); break;
    case GgufValueType::I32: s.put(static_cast<int32_t>(i())); break;
    case GgufValueType::U64: s.put(static_cast<uint64_t>(i())); break;
    case GgufValueType::I64: s.put(i()); break;
    case GgufValueType::F32: s.put(static_cast<float>(std::get<double>(v.v))); break;
    case GgufValueType::F64: s.put(std::get<double>(v.v)); break;
    case GgufValueType::BOOL: s.put(static_cast<uint8_t>(std::get<bool>(v.v) ? 1 : 0)); break;
    case GgufValueType::STRING: s.string(std::get<std::string>(v.v)); break;
    case GgufValueType::ARRAY: {
      const auto& a = *std::get<std::shared_ptr<GgufArray>>(v.v);
      s.put(static_cast<uint32_t>(a.elem));
      s.put<uint64_t>(a.items.size());
      for (const auto& item : a.items) write_payload(s, item);
      break;
    }
  }
}

uint64_t alignment_of(const GgufValue& v, const std::string& ctx) {
  QUENCH_CHECK(v.type == GgufValueType::U32, ctx, ": general.alignment must be a u32, not ", value_type_name(v.type));
  const auto a = static_cast<uint64_t>(std::get<int64_t>(v.v));
  QUENCH_CHECK(a != 0 && (a & (a - 1)) == 0, ctx, ": general.alignment ", a, " is not a power of two");
  return a;
}

GgufValue array_of(GgufValueType elem, std::vector<GgufValue> items) {
  auto a = std::make_shared<GgufArray>();
  a->elem = elem;
  a->items = std::move(items);
  GgufValue v;
  v.type = GgufValueType::ARRAY;
  v.v = std::move(a);
  return v;
}

}  // namespace

// ---- GgufValue ----

GgufValue GgufValue::u32(uint32_t x) { return {GgufValueType::U32, int64_t{x}}; }
GgufValue GgufValue::i32(int32_t x) { return {GgufValueType::I32, int64_t{x}}; }
GgufValue GgufValue::u64(uint64_t x) {
  QUENCH_CHECK(x <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), "GGUF u64 value ", x, " exceeds 2^63 - 1");
  return {GgufValueType::U64, static_cast<int64_t>(x)};
}
GgufValue GgufValue::f32(float x) { return {GgufValueType::F32, double{x}}; }
GgufValue GgufValue::boolean(bool x) { return {GgufValueType::BOOL, x}; }
GgufValue GgufValue::str(std::string x) { return {GgufValueType::STRING, std::move(x)}; }
GgufValue GgufValue::strings(const std::vector<std::string>& xs) {
  std::vector<GgufValue> items;
  items.reserve(xs.size());
  for (const auto& x : xs) items.push_back(str(x));
  return array_of(GgufValueType::STRING, std::move(items));
}
GgufValue GgufValue::i32s(const std::vector<int32_t>& xs) {
  std::vector<GgufValue> items;
  items.reserve(xs.size());
  for (auto x : xs) items.push_back(i32(x));
  return array_of(GgufValueType::I32, std::move(items));
}
GgufValue GgufValue::f32s(const std::vector<float>& xs) {
  std::vector<GgufValue> items;
  items.reserve(xs.size());
  for (auto x : xs) items.push_back(f32(x));
  return array_of(GgufValueType::F32, std::move(items));
}

int64_t GgufValue::as_int(const std::string& context) const {
  QUENCH_CHECK(std::holds_alternative<int64_t>(v), context, ": expected an integer, found ", value_type_name(type));
  return std::get<int64_t>(v);
}
double GgufValue::as_float(const std::string& context) const {
  if (std::holds_alternative<int64_t>(v)) return static_cast<double>(std::get<int64_t>(v));
  QUENCH_CHECK(std::holds_alternative<double>(v), context, ": expected a number, found ", value_type_name(type));
  return std::get<double>(v);
}
bool GgufValue::as_bool(const std::string& context) const {
  QUENCH_CHECK(std::holds_alternative<bool>(v), context, ": expected a bool, found ", value_type_name(type));
  return std::get<bool>(v);
}
const std::string& GgufValue::as_string(const std::string& context) const {
  QUENCH_CHECK(std::holds_alternative<std::string>(v), context, ": expected a string, found ", value_type_name(type));
  return std::get<std::string>(v);
}
const GgufArray& GgufValue::as_array(const std::string& context) const {
  QUENCH_CHECK(std::holds_alternative<std::shared_ptr<GgufArray>>(v) && std::get<std::shared_ptr<GgufArray>>(v), context,
               ": expected an array, found ", value_type_name(type));
  return *std::get<std::shared_ptr<GgufArray>>(v);
}

int64_t GgufTensorInfo::numel() const {
  int64_t n = 1;
  for (auto d : ne) n *= d;
  return n;
}

// ---- GgufFile ----

GgufFile::GgufFile(const std::string& path) : path_(path) {
  map_ = std::make_shared<MappedFile>(path);
  const uint64_t fsize = map_->size();
  QUENCH_CHECK(fsize >= 24, path, ": not a GGUF file: ", fsize, " bytes, shorter than the 24-byte header (truncated header)");
  Cursor c(path, map_->data(), fsize);
  const auto magic = c.get<uint32_t>("magic");
  QUENCH_CHECK(magic == kMagic, path, ": not a GGUF file (bad magic: the file does not start with \"GGUF\")");
  version_ = c.get<uint32_t>("version");
  // v2 differs from v3 only in that v3 may also be big-endian (which this reader would see as a huge version).
  QUENCH_CHECK(version_ == 2 || version_ == 3, path, ": unsupported GGUF version ", version_, " (Quench reads versions 2 and 3)");
  const uint64_t n_tensors = c.count("tensor count", 8 + 4 + 4 + 8);
  const uint64_t n_kv = c.count("metadata key count", 8 + 4 + 1);

  uint64_t alignment = kDefaultAlignment;
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = c.string("metadata key " + std::to_string(i));
    const std::string ctx = "key '" + key + "'";
    const auto t = c.get<uint32_t>(ctx + " type");
    QUENCH_CHECK(valid_value_type(t), path, ": ", ctx, ": unknown metadata value type ", t);
    GgufValue v = read_value(c, static_cast<GgufValueType>(t), ctx, path, 0);
    QUENCH_CHECK(!kv_.count(key), path, ": duplicate key '", key, "'");
    if (key == "general.alignment") alignment = alignment_of(v, path + ": " + ctx);
    kv_.emplace(std::move(key), std::move(v));
  }

  tensors_.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    t.name = c.string("tensor " + std::to_string(i) + " name");
    const std::string ctx = path + ": tensor " + t.name;
    QUENCH_CHECK(!index_.count(t.name), path, ": duplicate tensor name '", t.name, "'");
    const auto n_dims = c.get<uint32_t>("tensor " + t.name + " n_dims");
    QUENCH_CHECK(n_dims <= kMaxDims, ctx, ": n_dims ", n_dims, " exceeds ", kMaxDims);
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const auto x = c.get<uint64_t>("tensor " + t.name + " ne");
      QUENCH_CHECK(x <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), ctx, ": dimension ", d, " is ", x, ", too large");
      t.ne.push_back(static_cast<int64_t>(x));
    }
    for (auto x : t.ne) {
      QUENCH_CHECK(x == 0 || numel <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / static_cast<uint64_t>(x), ctx,
                   ": shape ", shape_str(t.ne), " overflows");
      numel *= static_cast<uint64_t>(x);
    }
    t.type_code = c.get<uint32_t>("tensor " + t.name + " type");
    t.offset = c.get<uint64_t>("tensor " + t.name + " offset");
    if (auto layout = ggml_type_code_layout(t.type_code)) {
      const auto [block, bytes] = *layout;
      const int64_t ne0 = t.ne.empty() ? 1 : t.ne[0];
      QUENCH_CHECK(ne0 % block == 0, ctx, ": ", ggml_type_code_name(t.type_code), " row length ", ne0, " is not a multiple of the block (",
                   block, ")");
      const uint64_t blocks = numel / static_cast<uint64_t>(block);
      QUENCH_CHECK(blocks <= std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(bytes), ctx, ": byte size overflows");
      t.nbytes = blocks * static_cast<uint64_t>(bytes);
    }  // else: a layout Quench does not know; nbytes stays 0 and only the offset is checked
    QUENCH_CHECK(t.offset % alignment == 0, ctx, ": data offset ", t.offset, " is misaligned (not a multiple of the alignment ", alignment, ")");
    index_[t.name] = tensors_.size();
    tensors_.push_back(std::move(t));
  }

  data_start_ = pad_to(c.pos(), alignment);
  const uint64_t data_size = data_start_ < fsize ? fsize - data_start_ : 0;
  for (const auto& t : tensors_) {
    QUENCH_CHECK(t.offset <= data_size && t.nbytes <= data_size - t.offset, path, ": tensor ", t.name, ": data [offset ", t.offset, ", ",
                 t.nbytes, " bytes] runs past the end of the file (", fsize, " bytes)");
  }
  std::vector<const GgufTensorInfo*> order;
  for (const auto& t : tensors_)
    if (t.nbytes > 0) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < order.size(); ++i) {
    const auto* prev = order[i - 1];
    QUENCH_CHECK(order[i]->offset >= prev->offset + prev->nbytes, path, ": tensor ", order[i]->name, " [offset ", order[i]->offset,
                 "] overlaps tensor ", prev->name, " [offset ", prev->offset, ", ", prev->nbytes, " bytes]");
  }
}

const GgufValue* GgufFile::find_key(const std::string& key) const {
  auto it = kv_.find(key);
  return it == kv_.end() ? nullptr : &it->second;
}

const GgufValue& GgufFile::key(const std::string& key) const {
  const GgufValue* v = find_key(key);
  QUENCH_CHECK(v, path_, ": missing key ", key);
  return *v;
}

const GgufTensorInfo* GgufFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensorInfo& GgufFile::tensor(const std::string& name) const {
  const GgufTensorInfo* t = find(name);
  QUENCH_CHECK(t, path_, ": no tensor named ", name);
  return *t;
}

const uint8_t* GgufFile::data(const GgufTensorInfo& t) const { return map_->data() + data_start_ + t.offset; }

std::vector<float> GgufFile::dequantize(const std::string& name) const {
  const GgufTensorInfo& t = tensor(name);
  const auto info = ggml_type_info(t.type_code);
  QUENCH_CHECK(info, path_, ": tensor ", name, ": type ", ggml_type_code_name(t.type_code), " (code ", t.type_code,
               ") cannot be dequantized (Quench decodes ", ggml_decodable_names(), ")");
  const int64_t n = t.numel();
  std::vector<float> out(static_cast<size_t>(n));
  if (n > 0) ggml_decode(info->type, data(t), n, out.data());
  return out;
}

// ---- GgufWriter ----

void GgufWriter::set(const std::string& key, GgufValue v) {
  for (const auto& kv : kv_) QUENCH_CHECK(kv.first != key, "GGUF metadata key ", key, " set twice");
  validate_value(v, "GGUF key " + key, 0);
  if (key == "general.alignment") alignment_of(v, "GGUF key " + key);
  kv_.emplace_back(key, std::move(v));
}

void GgufWriter::add_tensor(const std::string& name, std::vector<int64_t> ne, GgmlType type, Producer produce) {
  const std::string ctx = "GGUF tensor " + name;
  QUENCH_CHECK(!name.empty(), "GGUF tensor with an empty name");
  QUENCH_CHECK(name.size() <= kMaxNameBytes, ctx, ": name is ", name.size(), " bytes; llama.cpp allows at most ", kMaxNameBytes);
  for (const auto& p : tensors_) QUENCH_CHECK(p.name != name, ctx, ": added twice");
  QUENCH_CHECK(!ne.empty() && ne.size() <= static_cast<size_t>(kMaxDims), ctx, ": ", ne.size(), " dimensions (1 to ", kMaxDims, " allowed)");
  int64_t numel = 1;
  for (auto x : ne) {
    QUENCH_CHECK(x >= 0, ctx, ": negative dimension in ", shape_str(ne));
    QUENCH_CHECK(x == 0 || numel <= std::numeric_limits<int64_t>::max() / x, ctx, ": shape ", shape_str(ne), " overflows");
    numel *= x;
  }
  QUENCH_CHECK(static_cast<bool>(produce), ctx, ": no data producer");
  const auto& info = ggml_info(type);
  QUENCH_CHECK(ne[0] % info.block == 0, ctx, ": ", info.name, " row length ", ne[0], " is not a multiple of the block (", info.block, ")");
  const uint64_t nbytes = static_cast<uint64_t>(numel / info.block) * static_cast<uint64_t>(info.block_bytes);
  tensors_.push_back({name, std::move(ne), type, nbytes, std::move(produce)});
}

void GgufWriter::write(const std::string& path, const std::function<void(int64_t, int64_t)>& progress) const {
  uint64_t alignment = kDefaultAlignment;
  for (const auto& [k, v] : kv_)
    if (k == "general.alignment") alignment = alignment_of(v, path + ": key " + k);

  AtomicFile file(path);
  Sink s(file);
  s.put(kMagic);
  s.put(kVersion);
  s.put<uint64_t>(tensors_.size());
  s.put<uint64_t>(kv_.size());
  for (const auto& [k, v] : kv_) {
    s.string(k);
    s.put(static_cast<uint32_t>(v.type));
    write_payload(s, v);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    s.string(t.name);
    s.put(static_cast<uint32_t>(t.ne.size()));
    for (auto x : t.ne) s.put(static_cast<uint64_t>(x));
    s.put(static_cast<uint32_t>(t.type));
    s.put(offset);
    offset += pad_to(t.nbytes, alignment);
  }
  s.pad(alignment);
  const auto total = static_cast<int64_t>(tensors_.size());
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const auto& t = tensors_[i];
    const std::vector<uint8_t> bytes = t.produce();
    QUENCH_CHECK(bytes.size() == t.nbytes, path, ": tensor ", t.name, ": producer returned ", bytes.size(), " bytes, expected ", t.nbytes,
                 " for ", ggml_info(t.type).name, " ", shape_str(t.ne));
    s.bytes(bytes.data(), bytes.size());
    s.pad(alignment);
    if (progress) progress(static_cast<int64_t>(i + 1), total);
  }
  file.commit();
}

}  // namespace quench
