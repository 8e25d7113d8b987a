#pragma once
// Hand-written matchers for the split regexes nearly every byte-level tokenizer carries:
//   GPT-2:   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//   Llama-3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//   Qwen2:   the Llama-3 pattern with \p{N} in place of \p{N}{1,3}
// Why by hand: these patterns match every character, so a match is decided by the class of
// one or two characters and a run length; a scanner does that about five times faster than
// PCRE2's JIT and uses exactly Unicode White_Space for \s, as Oniguruma (the tokenizers
// library's engine) does. The Regex engine stays the fallback for every other pattern, and
// tests/core/split_scanner_test.cpp checks both agree on real and adversarial text.
#include <cstddef>
#include <optional>
#include <string_view>

namespace quench::text {

enum class SplitScheme { Gpt2, Llama3, Qwen2 };

// The scheme whose pattern is exactly `pattern`, if any.
std::optional<SplitScheme> known_split_scheme(std::string_view pattern);
const char* split_scheme_pattern(SplitScheme scheme);

// End of the match starting at byte i < s.size() (matches are consecutive and cover s).
// s must be valid UTF-8.
size_t split_match_end(SplitScheme scheme, std::string_view s, size_t i);

}  // namespace quench::text
