#pragma once
// An exclusive lock on a file (flock) for an object's lifetime: one `sweep run` per sweep folder,
// one merge of a sweep's sensitivity chunks at a time. Held by the open file, so a process that
// dies releases it.
#include <memory>
#include <string>

namespace quench {

class FileLock {
 public:
  // Waits until the lock is free. Creates the file when missing; throws naming it when it cannot.
  explicit FileLock(const std::string& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  // The lock if it is free now, nullptr when another process holds it.
  static std::unique_ptr<FileLock> try_acquire(const std::string& path);

 private:
  FileLock(const std::string& path, bool wait);
  int fd_ = -1;
  bool held_ = false;
};

}  // namespace quench
