#pragma once
// Recursive removal of a directory tree with POSIX nftw(), not std::filesystem::remove_all: the
// libtorch.so of PyTorch's pip wheels exports its own std::filesystem::remove_all, which our
// binaries bind to and which crashes (seen on the GPU machine, libtorch 2.11).
#include <string>

namespace quench {
// Removes path and everything under it; a missing path is not an error. Returns false on failure.
bool remove_tree(const std::string& path) noexcept;
}  // namespace quench
