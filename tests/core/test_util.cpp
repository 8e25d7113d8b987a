#include "test_util.h"
#include "core/util/remove_tree.h"

#include "core/util/threads.h"

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace quench::test {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "quench-test-XXXXXX").string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
  path_ = buf.data();
}

TempDir::~TempDir() {
  remove_tree(path_);
}

}  // namespace quench::test

namespace {
// Tests run with the same runtime settings as the programs (threads from QUENCH_THREADS, malloc).
const int kThreads = quench::configure_threads();
}  // namespace
