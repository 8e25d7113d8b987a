#include "core/io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "core/io/atomic_file.h"
#include "core/io/mapped_file.h"
#include "core/util/error.h"

namespace quench {

namespace {
constexpr uint64_t kMaxHeader = 100'000'000;  // the reference reader's bound

struct DtypeRow {
  StDtype dtype;
  const char* name;
  int64_t size;
};
constexpr DtypeRow kDtypes[] = {
    {StDtype::BOOL, "BOOL", 1}, {StDtype::U8, "U8", 1},   {StDtype::I8, "I8", 1},
    {StDtype::I16, "I16", 2},   {StDtype::U16, "U16", 2}, {StDtype::I32, "I32", 4},
    {StDtype::U32, "U32", 4},   {StDtype::I64, "I64", 8}, {StDtype::U64, "U64", 8},
    {StDtype::F16, "F16", 2},   {StDtype::BF16, "BF16", 2}, {StDtype::F32, "F32", 4},
    {StDtype::F64, "F64", 8},   {StDtype::F8_E4M3, "F8_E4M3", 1}, {StDtype::F8_E5M2, "F8_E5M2", 1},
};
}  // namespace

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

const char* dtype_name(StDtype d) {
  for (const auto& r : kDtypes)
    if (r.dtype == d) return r.name;
  return "unknown";
}

int64_t dtype_size(StDtype d) {
  for (const auto& r : kDtypes)
    if (r.dtype == d) return r.size;
  return 0;
}

StDtype dtype_from_name(const std::string& s) {
  for (const auto& r : kDtypes)
    if (s == r.name) return r.dtype;
  return StDtype::Other;
}

at::ScalarType to_scalar_type(StDtype d, const std::string& context) {
  switch (d) {
    case StDtype::BOOL: return at::kBool;
    case StDtype::U8: return at::kByte;
    case StDtype::I8: return at::kChar;
    case StDtype::I16: return at::kShort;
    case StDtype::I32: return at::kInt;
    case StDtype::I64: return at::kLong;
    case StDtype::F16: return at::kHalf;
    case StDtype::BF16: return at::kBFloat16;
    case StDtype::F32: return at::kFloat;
    case StDtype::F64: return at::kDouble;
    case StDtype::F8_E4M3:
    case StDtype::F8_E5M2:
      fail(context, ": dtype ", dtype_name(d),
           " (8-bit float) is not supported; dequantize the checkpoint to BF16 or F16 first "
           "(e.g. load it in transformers and save_pretrained with torch_dtype=torch.bfloat16)");
    default:
      fail(context, ": dtype ", dtype_name(d), " is not supported (libtorch has no such tensor type)");
  }
}

StDtype from_scalar_type(at::ScalarType t) {
  switch (t) {
    case at::kBool: return StDtype::BOOL;
    case at::kByte: return StDtype::U8;
    case at::kChar: return StDtype::I8;
    case at::kShort: return StDtype::I16;
    case at::kInt: return StDtype::I32;
    case at::kLong: return StDtype::I64;
    case at::kHalf: return StDtype::F16;
    case at::kBFloat16: return StDtype::BF16;
    case at::kFloat: return StDtype::F32;
    case at::kDouble: return StDtype::F64;
    default: fail("cannot write tensors of type ", c10::toString(t), " to safetensors");
  }
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  map_ = std::make_shared<MappedFile>(path);
  const uint64_t fsize = map_->size();
  QUENCH_CHECK(fsize >= 8, path, ": not a safetensors file: ", fsize, " bytes, shorter than the 8-byte header length");
  uint64_t n = 0;
  std::memcpy(&n, map_->data(), 8);  // little-endian hosts only (x86-64, aarch64)
  QUENCH_CHECK(n <= kMaxHeader, path, ": header length ", n, " exceeds the 100,000,000-byte limit (corrupt or not safetensors)");
  QUENCH_CHECK(n <= fsize - 8, path, ": header length ", n, " runs past the end of the file (", fsize, " bytes): truncated?");
  data_start_ = 8 + n;
  const char* hbeg = reinterpret_cast<const char*>(map_->data() + 8);

  // Detect duplicate top-level names: nlohmann keeps the last silently.
  std::set<std::string> seen;
  std::string dup;
  nlohmann::json::parser_callback_t cb = [&](int depth, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
    if (depth == 1 && ev == nlohmann::json::parse_event_t::key) {
      auto k = parsed.get<std::string>();
      if (!seen.insert(k).second && dup.empty()) dup = k;
    }
    return true;
  };
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(hbeg, hbeg + n, cb);
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": header is not valid JSON: ", e.what());
  }
  QUENCH_CHECK(dup.empty(), path, ": tensor '", dup, "' appears twice in the header");
  QUENCH_CHECK(header.is_object(), path, ": header is not a JSON object");

  const uint64_t buf_size = fsize - data_start_;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      QUENCH_CHECK(v.is_object(), path, ": __metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        QUENCH_CHECK(m.value().is_string(), path, ": __metadata__ key '", m.key(), "' is not a string");
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string ctx = path + ": tensor '" + name + "'";
    QUENCH_CHECK(v.is_object(), ctx, ": entry is not an object");
    QUENCH_CHECK(v.contains("dtype") && v["dtype"].is_string(), ctx, ": missing or non-string 'dtype'");
    QUENCH_CHECK(v.contains("shape") && v["shape"].is_array(), ctx, ": missing or non-array 'shape'");
    QUENCH_CHECK(v.contains("data_offsets") && v["data_offsets"].is_array() && v["data_offsets"].size() == 2, ctx,
                 ": 'data_offsets' must be [begin, end]");
    for (auto k = v.begin(); k != v.end(); ++k)
      QUENCH_CHECK(k.key() == "dtype" || k.key() == "shape" || k.key() == "data_offsets", ctx, ": unknown key '", k.key(), "'");
    TensorInfo t;
    t.name = name;
    t.dtype_name = v["dtype"].get<std::string>();
    t.dtype = dtype_from_name(t.dtype_name);
    QUENCH_CHECK(t.dtype != StDtype::Other, ctx, ": unknown dtype '", t.dtype_name, "'");
    uint64_t elems = 1;
    for (const auto& d : v["shape"]) {
      QUENCH_CHECK(d.is_number_unsigned(), ctx, ": shape entries must be non-negative integers");
      const uint64_t dim = d.get<uint64_t>();
      QUENCH_CHECK(dim <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), ctx, ": shape dimension too large");
      QUENCH_CHECK(dim == 0 || elems <= std::numeric_limits<uint64_t>::max() / dim, ctx, ": shape overflows");
      elems *= dim;
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    for (const auto& o : v["data_offsets"])
      QUENCH_CHECK(o.is_number_unsigned(), ctx, ": data_offsets must be non-negative integers");
    t.begin = v["data_offsets"][0].get<uint64_t>();
    t.end = v["data_offsets"][1].get<uint64_t>();
    QUENCH_CHECK(t.begin <= t.end, ctx, ": data_offsets [", t.begin, ", ", t.end, "] are reversed");
    QUENCH_CHECK(t.end <= buf_size, ctx, ": data_offsets [", t.begin, ", ", t.end, "] run past the data buffer (",
                 buf_size, " bytes): truncated file?");
    const uint64_t esize = static_cast<uint64_t>(dtype_size(t.dtype));
    QUENCH_CHECK(elems <= std::numeric_limits<uint64_t>::max() / esize, ctx, ": byte size overflows");
    QUENCH_CHECK(elems * esize == t.end - t.begin, ctx, ": ", t.dtype_name, " shape [", [&] {
      std::string s;
      for (size_t i = 0; i < t.shape.size(); ++i) s += (i ? "," : "") + std::to_string(t.shape[i]);
      return s;
    }(), "] needs ", elems * esize, " bytes but data_offsets span ", t.end - t.begin);
    index_[name] = tensors_.size();
    tensors_.push_back(std::move(t));
  }

  // The tensors, sorted by offset, must tile the buffer exactly: no gaps, no overlaps.
  std::vector<const TensorInfo*> order;
  for (const auto& t : tensors_) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->begin != b->begin ? a->begin < b->begin : a->end < b->end; });
  uint64_t cursor = 0;
  for (const auto* t : order) {
    QUENCH_CHECK(t->begin >= cursor, path, ": tensor '", t->name, "' [", t->begin, ", ", t->end,
                 ") overlaps the previous tensor, which ends at ", cursor);
    QUENCH_CHECK(t->begin == cursor, path, ": gap in the data buffer before tensor '", t->name, "' (", cursor, " to ", t->begin, ")");
    cursor = t->end;
  }
  QUENCH_CHECK(cursor == buf_size, path, ": data buffer has ", buf_size, " bytes but the tensors cover ", cursor,
               " (trailing bytes or truncated file)");
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

at::Tensor SafetensorsFile::load(const std::string& name) const {
  const TensorInfo* t = find(name);
  QUENCH_CHECK(t, path_, ": no tensor named '", name, "'");
  const auto st = to_scalar_type(t->dtype, path_ + ": tensor '" + name + "'");
  auto opts = at::TensorOptions().dtype(st);
  if (t->numel() == 0) return at::empty(t->shape, opts);
  uint8_t* p = map_->data() + data_start_ + t->begin;
  const auto esize = static_cast<uintptr_t>(dtype_size(t->dtype));
  auto keep = map_;
  auto view = at::from_blob(p, t->shape, [keep](void*) {}, opts);
  if (reinterpret_cast<uintptr_t>(p) % esize != 0) return view.clone();  // misaligned: own the bytes
  return view;
}

void SafetensorsFile::release_pages() const { map_->release_pages(); }

at::Tensor SafetensorsFile::load_bytes(const std::string& name) const {
  const TensorInfo* t = find(name);
  QUENCH_CHECK(t, path_, ": no tensor named '", name, "'");
  auto keep = map_;
  const int64_t n = static_cast<int64_t>(t->end - t->begin);
  if (n == 0) return at::empty({0}, at::kByte);
  return at::from_blob(map_->data() + data_start_ + t->begin, {n}, [keep](void*) {}, at::TensorOptions().dtype(at::kByte));
}

std::map<std::string, at::Tensor> load_all_safetensors(const std::string& path) {
  SafetensorsFile f(path);
  std::map<std::string, at::Tensor> out;
  for (const auto& t : f.tensors()) out[t.name] = f.load(t.name).clone();
  return out;
}

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata, const std::map<std::string, StDtype>& stored_as) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<at::Tensor> cpu;
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    QUENCH_CHECK(names.insert(name).second, path, ": tensor '", name, "' given twice");
    QUENCH_CHECK(t.defined(), path, ": tensor '", name, "' is undefined");
    auto c = t.to(at::kCPU).contiguous();
    auto dt = from_scalar_type(c.scalar_type());
    if (const auto it = stored_as.find(name); it != stored_as.end()) {
      QUENCH_CHECK(dtype_size(it->second) == c.element_size(), path, ": tensor '", name, "' of ", c.element_size(),
                   "-byte elements cannot be stored as ", dtype_name(it->second));
      dt = it->second;
    }
    const uint64_t bytes = static_cast<uint64_t>(c.numel()) * static_cast<uint64_t>(c.element_size());
    header[name] = {{"dtype", dtype_name(dt)}, {"shape", c.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    cpu.push_back(std::move(c));
  }
  std::string h = header.dump();
  while ((8 + h.size()) % 8 != 0) h.push_back(' ');
  AtomicFile out(path);
  const uint64_t n = h.size();
  out.write(&n, 8);
  out.write(h.data(), h.size());
  for (const auto& c : cpu) out.write(c.data_ptr(), static_cast<size_t>(c.numel()) * c.element_size());
  out.commit();
}

}  // namespace quench
