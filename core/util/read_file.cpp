#include "core/util/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/util/error.h"

namespace quench {

namespace {
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

const char* kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISFIFO(m)) return "a pipe";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}
}  // namespace

void check_regular_file(const std::string& path, const char* what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) fail(path, ": cannot open the ", what, " file: ", std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail(path, ": the ", what, " file is ", kind_of(st.st_mode), ", not a regular file");
}

std::string read_file(const std::string& path, uint64_t max_bytes, const char* what) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
  if (f.fd < 0) fail(path, ": cannot open the ", what, " file: ", std::strerror(errno));
  struct stat st {};
  QUENCH_CHECK(::fstat(f.fd, &st) == 0, path, ": cannot stat the ", what, " file: ", std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail(path, ": the ", what, " file is ", kind_of(st.st_mode), ", not a regular file");
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes)
    fail(path, ": the ", what, " file is ", size, " bytes; Quench reads at most ", max_bytes, " bytes for a ", what);
  std::string out(size, '\0');
  size_t got = 0;
  while (got < size) {
    const ssize_t n = ::read(f.fd, out.data() + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(path, ": reading the ", what, " file failed: ", std::strerror(errno));
    if (n == 0) break;  // shrank while reading: keep what is there
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return out;
}

}  // namespace quench
