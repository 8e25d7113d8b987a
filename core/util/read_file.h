#pragma once
// Whole-file reads of user-named files, bounded: a config.json linked to /dev/zero, a FIFO or a
// directory passed as --text would otherwise be read forever or misreported as empty.
#include <cstdint>
#include <string>

namespace quench {

// Limits by what the file is; generous for real files (Gemma's tokenizer.json is 34 MB).
inline constexpr uint64_t kMaxJsonBytes = 64ull << 20;        // config.json, index files
inline constexpr uint64_t kMaxRecipeBytes = 4ull << 20;        // recipes: tens of kB even for 8B models
inline constexpr uint64_t kMaxTokenizerBytes = 256ull << 20;  // tokenizer.json
inline constexpr uint64_t kMaxTextBytes = 2ull << 30;         // evaluation and calibration text

// The contents of a regular file of at most max_bytes. Throws naming the path when it is missing,
// not a regular file (directory, device, FIFO, socket), larger than max_bytes, or unreadable.
// `what` says what the file is for, in messages ("recipe", "text").
std::string read_file(const std::string& path, uint64_t max_bytes, const char* what);

// Throws naming the path unless it is an existing regular file (for readers that open the file
// themselves, like libpng's and libjpeg's: a FIFO would block them, a device feed them forever).
void check_regular_file(const std::string& path, const char* what);

}  // namespace quench
