#include "core/util/cache_dir.h"

#include <cstdlib>

namespace quench {

std::filesystem::path user_cache_dir(const std::string& what) {
  namespace fs = std::filesystem;
  fs::path base;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x && fs::path(x).is_absolute()) base = x;
  else if (const char* h = std::getenv("HOME"); h && *h) base = fs::path(h) / ".cache";
  else base = fs::temp_directory_path();
  return base / "quench" / what;
}

}  // namespace quench
