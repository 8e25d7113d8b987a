#include "core/export/gguf_names.h"

#include <map>
#include <regex>
#include <vector>

#include "core/models/registry.h"

namespace quench {

namespace {

// A pattern as a regex: dots literal, {N} → (\d+), {W} → (weight|bias); and the replacement
// that writes the captures into the other side's pattern in order.
std::string to_regex(const std::string& p) {
  std::string r;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p.compare(i, 3, "{N}") == 0) r += R"((\d+))", i += 2;
    else if (p.compare(i, 3, "{W}") == 0) r += "(weight|bias)", i += 2;
    else if (p[i] == '.') r += "\\.";
    else r += p[i];
  }
  return r;
}
std::string to_replacement(const std::string& p) {
  std::string r;
  int group = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p.compare(i, 3, "{N}") == 0 || p.compare(i, 3, "{W}") == 0) r += "$" + std::to_string(++group), i += 2;
    else r += p[i];
  }
  return r;
}

struct Compiled {
  std::regex from;
  std::string to;
};

// Both directions of a family's table for one of its llama.cpp architectures, compiled once. A
// row whose GGUF side starts with "<arch>:" belongs to that architecture alone (Qwen3's q/k norms
// in the Llama family's table): a llama file holding such a tensor is refused by name on import.
struct Table {
  std::vector<Compiled> to_gguf, to_hf;
  std::string optional_prefix;
  Table(const Structure& s, const std::string& arch) : optional_prefix(s.gguf_optional_prefix) {
    for (const auto& [hf, row] : s.gguf_tensors) {
      std::string gguf = row;
      if (const auto colon = row.find(':'); colon != std::string::npos) {
        if (row.compare(0, colon, arch) != 0) continue;
        gguf = row.substr(colon + 1);
      }
      to_gguf.push_back({std::regex(to_regex(hf)), to_replacement(gguf)});
      to_hf.push_back({std::regex(to_regex(gguf)), to_replacement(hf)});
    }
  }
};

// The table of the family whose config names llama.cpp writes as `arch` (its architecture file
// declares both), with that architecture's own rows.
const Table* table(const std::string& arch) {
  static const std::map<std::string, Table> tables = [] {
    std::map<std::string, Table> t;
    for (const ArchitectureFamily* f : families())
      if (!f->structure.gguf_tensors.empty())
        for (const auto& n : f->names)
          if (*n.gguf_arch) t.emplace(n.gguf_arch, Table(f->structure, n.gguf_arch));
    return t;
  }();
  const auto it = tables.find(arch);
  return it == tables.end() ? nullptr : &it->second;
}

std::string map(const std::vector<Compiled>& rows, const std::string& name) {
  for (const auto& [re, to] : rows)
    if (std::regex_match(name, re)) return std::regex_replace(name, re, to);
  return "";
}

}  // namespace

std::string gguf_arch_of_model_type(const std::string& t) {
  for (const auto& a : architectures())
    if (t == a.model_type) return a.gguf_arch;
  return "";
}

std::string hf_architecture_of_gguf(const std::string& arch) {
  for (const auto& a : architectures())
    if (!arch.empty() && arch == a.gguf_arch) return a.name;
  return "";
}

bool gguf_arch_supported(const std::string& arch) { return table(arch) != nullptr; }

std::string gguf_tensor_name(const std::string& arch, const std::string& hf) {
  const Table* t = table(arch);
  if (!t) return "";
  std::string g = map(t->to_gguf, hf);
  if (g.empty() && !t->optional_prefix.empty()) g = map(t->to_gguf, t->optional_prefix + hf);
  return g;
}

std::string hf_tensor_name(const std::string& arch, const std::string& gguf) {
  const Table* t = table(arch);
  return t ? map(t->to_hf, gguf) : "";
}

at::Tensor qk_row_order(int64_t rows, int64_t heads) {
  const int64_t d = rows / heads;
  return at::arange(rows, at::kLong).view({heads, 2, d / 2}).transpose(1, 2).reshape({rows});
}

}  // namespace quench
