#include "core/util/remove_tree.h"

#include <ftw.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace quench {

namespace {
int remove_one(const char* p, const struct stat*, int, struct FTW*) { return std::remove(p); }
}  // namespace

bool remove_tree(const std::string& path) noexcept {
  if (::access(path.c_str(), F_OK) != 0) return errno == ENOENT;
  return ::nftw(path.c_str(), remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0;
}

}  // namespace quench
