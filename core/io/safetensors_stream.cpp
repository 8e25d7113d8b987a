#include "core/io/safetensors_stream.h"

#include "core/io/safetensors.h"
#include "core/util/error.h"

namespace quench {

namespace {
// A tensor's header entry, {"dtype":"BF16","shape":[…],"data_offsets":[a,b]}, is at most this
// much more than its (JSON-escaped) name: 8 dimensions and 2 offsets of 20 digits each.
constexpr uint64_t kEntryOverhead = 64 + 10 * 21;
}  // namespace

SafetensorsStreamWriter::SafetensorsStreamWriter(const std::string& path, const std::vector<std::string>& names,
                                                 const std::map<std::string, std::string>& metadata)
    : path_(path), out_(path), header_(nlohmann::json::object()) {
  if (!metadata.empty()) header_["__metadata__"] = metadata;
  uint64_t bound = header_.dump().size() + 2;
  for (const auto& n : names) {
    QUENCH_CHECK(expected_.insert(n).second, path, ": tensor '", n, "' named twice");
    bound += nlohmann::json(n).dump().size() + kEntryOverhead;
  }
  reserved_ = (bound + 7) / 8 * 8;  // 8 + reserved_ keeps the data 8-byte aligned
  const std::string blank(8 + reserved_, ' ');
  out_.write(blank);
}

void SafetensorsStreamWriter::add(const std::string& name, const at::Tensor& t) {
  QUENCH_CHECK(expected_.count(name), path_, ": tensor '", name, "' was not announced");
  QUENCH_CHECK(added_.insert(name).second, path_, ": tensor '", name, "' given twice");
  QUENCH_CHECK(t.defined(), path_, ": tensor '", name, "' is undefined");
  QUENCH_CHECK(t.dim() <= 8, path_, ": tensor '", name, "' has ", t.dim(), " dimensions");
  const at::Tensor c = t.to(at::kCPU).contiguous();
  const uint64_t bytes = static_cast<uint64_t>(c.numel()) * static_cast<uint64_t>(c.element_size());
  header_[name] = {{"dtype", dtype_name(from_scalar_type(c.scalar_type()))}, {"shape", c.sizes().vec()},
                   {"data_offsets", {offset_, offset_ + bytes}}};
  out_.write(c.data_ptr(), static_cast<size_t>(bytes));
  offset_ += bytes;
}

void SafetensorsStreamWriter::commit() {
  for (const auto& n : expected_) QUENCH_CHECK(added_.count(n), path_, ": tensor '", n, "' was announced but never written");
  std::string h = header_.dump();
  QUENCH_CHECK(h.size() <= reserved_, path_, ": header of ", h.size(), " bytes exceeds the ", reserved_, " reserved");
  h.resize(reserved_, ' ');
  const uint64_t n = reserved_;
  out_.write_at(0, &n, 8);
  out_.write_at(8, h.data(), h.size());
  out_.commit();
}

}  // namespace quench
