#pragma once
// Unicode canonical normalization (NFC, NFD) for the tokenizer's normalizers. Qwen2-style
// tokenizers put NFC in front of everything, so the common case must be cheap: text whose
// characters all pass the NFC quick check is returned untouched after one scan.
#include <string>
#include <string_view>

namespace quench::text {

// False when every character passes the NFC quick check (so NFC(s) == s).
bool may_change_under_nfc(std::string_view s);
std::string nfc(std::string_view s);  // input: valid UTF-8
std::string nfd(std::string_view s);  // input: valid UTF-8

}  // namespace quench::text
