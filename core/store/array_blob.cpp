#include "core/store/array_blob.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "core/util/error.h"

namespace quench {

namespace {
constexpr char kMagic[4] = {'Q', 'S', 'A', '1'};
constexpr size_t kMaxDims = 8;

// The format is little-endian; on a big-endian host every element and header field is swapped.
void swap_to_le(uint8_t* p, size_t n, size_t item) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  for (size_t i = 0; i + item <= n; i += item) std::reverse(p + i, p + i + item);
#else
  (void)p, (void)n, (void)item;
#endif
}

void put_u64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(uint8_t(v >> (8 * i)));
}

uint64_t get_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

template <typename T>
StatArray from_values(const std::vector<T>& v, ArrayDtype d) {
  StatArray a;
  a.dtype = d;
  a.shape = {static_cast<int64_t>(v.size())};
  a.data.resize(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(a.data.data(), v.data(), a.data.size());
  swap_to_le(a.data.data(), a.data.size(), sizeof(T));
  return a;
}

template <typename T>
void append_doubles(const StatArray& a, std::vector<double>& out) {
  std::vector<uint8_t> host(a.data);
  swap_to_le(host.data(), host.size(), sizeof(T));  // the swap is its own inverse
  const size_t n = host.size() / sizeof(T);
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    T x;
    std::memcpy(&x, host.data() + i * sizeof(T), sizeof(T));
    out.push_back(static_cast<double>(x));
  }
}
}  // namespace

const char* array_dtype_name(ArrayDtype d) {
  switch (d) {
    case ArrayDtype::F32: return "f32";
    case ArrayDtype::F64: return "f64";
    case ArrayDtype::I32: return "i32";
    case ArrayDtype::I64: return "i64";
    case ArrayDtype::U8: return "u8";
  }
  return "?";
}

size_t array_dtype_size(ArrayDtype d) {
  switch (d) {
    case ArrayDtype::F32: return 4;
    case ArrayDtype::F64: return 8;
    case ArrayDtype::I32: return 4;
    case ArrayDtype::I64: return 8;
    case ArrayDtype::U8: return 1;
  }
  return 0;
}

StatArray StatArray::from(const std::vector<float>& v) { return from_values(v, ArrayDtype::F32); }
StatArray StatArray::from(const std::vector<double>& v) { return from_values(v, ArrayDtype::F64); }
StatArray StatArray::from(const std::vector<int64_t>& v) { return from_values(v, ArrayDtype::I64); }

StatArray StatArray::from(const at::Tensor& t_in) {
  at::Tensor t = t_in.detach().to(at::kCPU);
  ArrayDtype d;
  switch (t.scalar_type()) {
    case at::kFloat:
    case at::kHalf:
    case at::kBFloat16:
      t = t.to(at::kFloat), d = ArrayDtype::F32;
      break;
    case at::kDouble: d = ArrayDtype::F64; break;
    case at::kInt: d = ArrayDtype::I32; break;
    case at::kLong: d = ArrayDtype::I64; break;
    case at::kByte: d = ArrayDtype::U8; break;
    default: fail("statistics array: tensors of dtype ", t.scalar_type(), " cannot be stored (use float, int or uint8)");
  }
  QUENCH_CHECK(t.dim() <= static_cast<int64_t>(kMaxDims), "statistics array: ", t.dim(), " dimensions (at most ", kMaxDims,
               ")");
  t = t.contiguous();
  StatArray a;
  a.dtype = d;
  a.shape = t.sizes().vec();
  a.data.resize(static_cast<size_t>(t.numel()) * array_dtype_size(d));
  if (!a.data.empty()) std::memcpy(a.data.data(), t.data_ptr(), a.data.size());
  swap_to_le(a.data.data(), a.data.size(), array_dtype_size(d));
  return a;
}

int64_t StatArray::numel() const {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  return n;
}

std::vector<double> StatArray::to_doubles() const {
  std::vector<double> out;
  switch (dtype) {
    case ArrayDtype::F32: append_doubles<float>(*this, out); break;
    case ArrayDtype::F64: append_doubles<double>(*this, out); break;
    case ArrayDtype::I32: append_doubles<int32_t>(*this, out); break;
    case ArrayDtype::I64: append_doubles<int64_t>(*this, out); break;
    case ArrayDtype::U8: append_doubles<uint8_t>(*this, out); break;
  }
  return out;
}

at::Tensor StatArray::to_tensor() const {
  at::ScalarType st = at::kFloat;
  switch (dtype) {
    case ArrayDtype::F32: st = at::kFloat; break;
    case ArrayDtype::F64: st = at::kDouble; break;
    case ArrayDtype::I32: st = at::kInt; break;
    case ArrayDtype::I64: st = at::kLong; break;
    case ArrayDtype::U8: st = at::kByte; break;
  }
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(st));
  std::vector<uint8_t> host(data);
  swap_to_le(host.data(), host.size(), array_dtype_size(dtype));
  if (!host.empty()) std::memcpy(t.data_ptr(), host.data(), host.size());
  return t;
}

std::vector<uint8_t> encode_array(const StatArray& a) {
  QUENCH_CHECK(a.shape.size() <= kMaxDims, "statistics array: ", a.shape.size(), " dimensions (at most ", kMaxDims, ")");
  for (auto s : a.shape) QUENCH_CHECK(s >= 0, "statistics array: negative dimension ", s);
  QUENCH_CHECK(a.data.size() == static_cast<size_t>(a.numel()) * array_dtype_size(a.dtype), "statistics array: ",
               a.data.size(), " data bytes for ", a.numel(), " elements of ", array_dtype_name(a.dtype));
  std::vector<uint8_t> out(kMagic, kMagic + 4);
  out.push_back(static_cast<uint8_t>(a.dtype));
  out.push_back(static_cast<uint8_t>(a.shape.size()));
  out.push_back(0), out.push_back(0);
  for (auto s : a.shape) put_u64(out, static_cast<uint64_t>(s));
  out.insert(out.end(), a.data.begin(), a.data.end());
  return out;
}

StatArray decode_array(const std::vector<uint8_t>& b, const std::string& context) {
  QUENCH_CHECK(b.size() >= 8 && std::memcmp(b.data(), kMagic, 4) == 0, context,
               ": not a statistics array (expected the QSA1 blob header)");
  StatArray a;
  const uint8_t code = b[4];
  QUENCH_CHECK(code >= 1 && code <= 5, context, ": unknown array dtype code ", int(code));
  a.dtype = static_cast<ArrayDtype>(code);
  const size_t ndim = b[5];
  QUENCH_CHECK(ndim <= kMaxDims, context, ": ", ndim, " dimensions (at most ", kMaxDims, ")");
  QUENCH_CHECK(b.size() >= 8 + 8 * ndim, context, ": blob of ", b.size(), " bytes is shorter than its shape header");
  uint64_t numel = 1;
  for (size_t i = 0; i < ndim; ++i) {
    const uint64_t s = get_u64(b.data() + 8 + 8 * i);
    QUENCH_CHECK(s <= uint64_t(std::numeric_limits<int64_t>::max()) && (s == 0 || numel <= UINT64_MAX / s / 8), context,
                 ": implausible dimension ", s);
    numel *= s;
    a.shape.push_back(static_cast<int64_t>(s));
  }
  const size_t start = 8 + 8 * ndim;
  const uint64_t want = numel * array_dtype_size(a.dtype);
  QUENCH_CHECK(b.size() - start == want, context, ": ", b.size() - start, " data bytes, expected ", want, " for shape [",
               [&] {
                 std::string s;
                 for (size_t i = 0; i < a.shape.size(); ++i) s += (i ? ", " : "") + std::to_string(a.shape[i]);
                 return s;
               }(),
               "] of ", array_dtype_name(a.dtype));
  a.data.assign(b.begin() + static_cast<std::ptrdiff_t>(start), b.end());
  return a;
}

}  // namespace quench
