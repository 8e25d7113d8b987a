#pragma once
// GPT-2's reversible byte → character map: bytes 0x21–0x7E, 0xA1–0xAC and 0xAE–0xFF stand for
// themselves; the other 68 bytes, in increasing order, become U+0100 + n (space → 'Ġ' U+0120,
// newline → 'Ċ' U+010A). Byte-level BPE vocabularies are written in these characters.
#include <cstdint>
#include <string>
#include <string_view>

namespace quench::text {

uint32_t byte_to_char(uint8_t b);
// The byte a character stands for, or -1 when it is not one of the 256.
int char_to_byte(uint32_t cp);
// Each byte of raw as its character, UTF-8 encoded.
std::string bytes_to_chars(std::string_view raw);
// The inverse: false (out untouched beyond what was appended) when a character is not a byte character.
bool chars_to_bytes(std::string_view mapped, std::string& out);

}  // namespace quench::text
