#pragma once
// Where Quench keeps what it can compute again (GGUF conversions, weight statistics):
// $XDG_CACHE_HOME/quench/<what>, else ~/.cache/quench/<what>, else the temporary directory.
#include <filesystem>
#include <string>

namespace quench {

std::filesystem::path user_cache_dir(const std::string& what);

}  // namespace quench
