#include "core/compress/schemes.h"

#include <cctype>

namespace quench {

namespace {

// Reads the decimal number at s[i…], advancing i; -1 when there is none.
int64_t read_number(const std::string& s, size_t& i) {
  if (i >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i]))) return -1;
  int64_t v = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && v < 1000000) v = v * 10 + (s[i++] - '0');
  return v;
}

}  // namespace

std::optional<SchemeSections> expand_scheme(const std::string& name_in) {
  std::string s;
  for (char c : name_in) s += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  // A ggml block type is a scheme of its own: weight-only, on exactly the grid GGUF stores.
  // MXFP4A16 and NVFP4A16 are llm-compressor's names for weight-only MXFP4 and NVFP4, which are
  // also ggml's MXFP4 and NVFP4 blocks.
  for (const char* t : {"Q8_0", "Q4_0", "Q5_0", "Q4_1", "Q5_1", "Q4_K", "Q6_K", "MXFP4A16", "NVFP4A16"})
    if (s == t) {
      std::string lower = s == "MXFP4A16" ? "MXFP4" : s == "NVFP4A16" ? "NVFP4" : s;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      SchemeSections out;
      out.weights = nlohmann::json::object({{"format", lower}});
      out.activations = nullptr;
      return out;
    }
  // llm-compressor's FP8 schemes: FP8_DYNAMIC (per-channel weights, per-token dynamic activations,
  // no calibration) and FP8 (per-tensor weights, static per-tensor activations).
  // llm-compressor's W4A4 FP4 schemes: weights and activations both MXFP4 or both NVFP4.
  if (s == "MXFP4" || s == "NVFP4") {
    std::string lower = s == "MXFP4" ? "mxfp4" : "nvfp4";
    SchemeSections out;
    out.weights = nlohmann::json::object({{"format", lower}});
    out.activations = nlohmann::json::object({{"format", lower}});
    return out;
  }
  if (s == "FP8_DYNAMIC" || s == "FP8") {
    const bool dyn = s == "FP8_DYNAMIC";
    SchemeSections out;
    out.weights = nlohmann::json::object({{"type", "float"}, {"strategy", dyn ? "channel" : "tensor"}});
    out.activations = dyn ? nlohmann::json::object({{"type", "float"}, {"strategy", "token"}})
                          : nlohmann::json::object({{"type", "float"}, {"strategy", "tensor"}, {"dynamic", false}});
    return out;
  }
  size_t i = 0;
  if (i >= s.size() || s[i++] != 'W') return std::nullopt;
  const int64_t wb = read_number(s, i);
  if (i >= s.size() || s[i++] != 'A') return std::nullopt;
  const int64_t ab = read_number(s, i);
  int64_t group = 0;
  if (i < s.size()) {
    if (s[i] == '-' || s[i] == '_') ++i;
    if (i >= s.size() || s[i++] != 'G') return std::nullopt;
    group = read_number(s, i);
    if (group <= 0) return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  if (wb < 2 || wb > 8) return std::nullopt;
  if (ab != 16 && (ab < 2 || ab > 8)) return std::nullopt;
  SchemeSections out;
  out.weights = {{"bits", wb}, {"symmetric", true}};
  if (group > 0) {
    out.weights["strategy"] = "group";
    out.weights["group_size"] = group;
  } else if (wb == 8) {
    out.weights["strategy"] = "channel";
  } else {
    out.weights["strategy"] = "group";
    out.weights["group_size"] = 128;
  }
  // A scheme is a default: on a layer whose inputs the group does not divide (sotu-llama's
  // down_proj, 688) it takes the largest divisor below, and the plan says so.
  if (out.weights.contains("group_size")) out.weights["group_fallback"] = true;
  if (ab == 16) out.activations = nullptr;
  else out.activations = {{"bits", ab}, {"symmetric", true}, {"strategy", "token"}, {"dynamic", true}};
  return out;
}

const char* scheme_examples() { return "W8A8, W8A16, W4A16, W4A8, W4A16-G64, W3A16-G128; GGUF grids Q8_0, Q4_0, Q5_0, Q4_1, Q5_1, Q4_K, Q6_K, MXFP4A16, NVFP4A16; FP8_DYNAMIC, FP8; MXFP4, NVFP4 (W4A4)"; }

}  // namespace quench
