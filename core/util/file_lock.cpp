#include "core/util/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/util/error.h"

namespace quench {

FileLock::FileLock(const std::string& path) : FileLock(path, true) {}

FileLock::FileLock(const std::string& path, bool wait) : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
  QUENCH_CHECK(fd_ >= 0, path, ": cannot open the lock file (", std::strerror(errno), ")");
  for (;;) {
    if (::flock(fd_, LOCK_EX | (wait ? 0 : LOCK_NB)) == 0) {
      held_ = true;
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK && !wait) return;
    const int e = errno;
    ::close(fd_);
    fd_ = -1;
    fail(path, ": cannot lock (", std::strerror(e), ")");
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);
}

std::unique_ptr<FileLock> FileLock::try_acquire(const std::string& path) {
  std::unique_ptr<FileLock> l(new FileLock(path, false));
  if (!l->held_) return nullptr;
  return l;
}

}  // namespace quench
