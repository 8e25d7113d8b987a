#pragma once
// Scheme names users know from compressed-tensors / llm-compressor, expanded into recipe sections:
//   W8A8   weights int8 symmetric per output channel, activations int8 symmetric dynamic per token
//   W8A16  weights int8 per channel, activations kept
//   W4A16  weights int4 symmetric, groups of 128 along the input, activations kept
//   W4A8   weights int4 g128, activations int8 dynamic per token
// The general form is W<b>A<a>[-G<n>]: b = 2…8 weight bits, a = 16 (activations kept) or 2…8
// (dynamic per-token activations), -G<n> groups of n inputs. Without -G, 8-bit weights are per
// channel and fewer bits use groups of 128 (as compressed-tensors' presets do).
// Q8_0, Q4_0, Q5_0, Q4_1, Q5_1, Q4_K, Q6_K: weight-only, {"format": "q4_0"} — the grid of that
// GGUF block type (core/ops/ggml_grid.h), so a GGUF export stores exactly what was evaluated.
#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace quench {

struct SchemeSections {
  nlohmann::json weights;      // object
  nlohmann::json activations;  // object, or null for A16
};

// nullopt when the name is not a scheme (case-insensitive).
std::optional<SchemeSections> expand_scheme(const std::string& name);
// Examples for messages: "W8A8, W8A16, W4A16, W4A8, W4A16-G64, W3A16-G128".
const char* scheme_examples();

}  // namespace quench
