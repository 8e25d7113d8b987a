#include "core/util/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/util/error.h"

extern char** environ;

namespace quench {

namespace {
std::atomic<pid_t> g_child{0};

void forward(int sig) {
  const pid_t p = g_child.load();
  if (p > 0) ::kill(p, sig);
}

// Installs the forwarding handlers for its lifetime and restores the previous ones after.
class SignalForwarding {
 public:
  explicit SignalForwarding(bool on) : on_(on) {
    if (!on_) return;
    struct sigaction sa {};
    sa.sa_handler = forward;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < kSignals.size(); ++i) ::sigaction(kSignals[i], &sa, &old_[i]);
  }
  ~SignalForwarding() {
    if (!on_) return;
    for (size_t i = 0; i < kSignals.size(); ++i) ::sigaction(kSignals[i], &old_[i], nullptr);
  }
  SignalForwarding(const SignalForwarding&) = delete;
  SignalForwarding& operator=(const SignalForwarding&) = delete;

 private:
  static constexpr std::array<int, 3> kSignals = {SIGTERM, SIGINT, SIGHUP};
  bool on_;
  std::array<struct sigaction, 3> old_{};
};

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

class FileActions {
 public:
  FileActions() { posix_spawn_file_actions_init(&fa_); }
  ~FileActions() { posix_spawn_file_actions_destroy(&fa_); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
  posix_spawn_file_actions_t* get() { return &fa_; }

 private:
  posix_spawn_file_actions_t fa_;
};
}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options) {
  QUENCH_CHECK(!argv.empty(), "run_process: no program");
  FileActions fa;
  Fd read_end, write_end, log;
  if (options.log_file.empty()) {
    int p[2];
    QUENCH_CHECK(::pipe2(p, O_CLOEXEC) == 0, "cannot make a pipe for ", argv[0], " (", std::strerror(errno), ")");
    read_end.reset(p[0]);
    write_end.reset(p[1]);
    posix_spawn_file_actions_adddup2(fa.get(), write_end.get(), 1);
    posix_spawn_file_actions_adddup2(fa.get(), write_end.get(), 2);
  } else {
    log.reset(::open(options.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    QUENCH_CHECK(log.get() >= 0, options.log_file, ": cannot open the log (", std::strerror(errno), ")");
    posix_spawn_file_actions_adddup2(fa.get(), log.get(), 1);
    posix_spawn_file_actions_adddup2(fa.get(), log.get(), 2);
  }
  posix_spawn_file_actions_addopen(fa.get(), 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  SignalForwarding fw(options.forward_signals);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, args[0], fa.get(), nullptr, args.data(), environ);
  if (rc != 0) fail("cannot start ", argv[0], " (", std::strerror(rc), ")");
  g_child = pid;
  write_end.reset();
  log.reset();

  ProcessResult r;
  if (read_end.get() >= 0) {
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(read_end.get(), buf, sizeof buf);
      if (n > 0) r.output.append(buf, static_cast<size_t>(n));
      else if (n == 0 || errno != EINTR) break;
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  g_child = 0;
  if (WIFSIGNALED(status)) {
    r.signal = WTERMSIG(status);
    r.exit_code = 128 + r.signal;
  } else {
    r.exit_code = WEXITSTATUS(status);
  }
  return r;
}

std::string self_executable() {
  std::error_code ec;
  const auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  QUENCH_CHECK(!ec, "cannot find this program's path (/proc/self/exe: ", ec.message(), ")");
  return p.string();
}

std::string host_name() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

}  // namespace quench
