#include "core/util/subprocess.h"

#include <fcntl.h>
#include <pthread.h>
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
  const int saved = errno;
  const pid_t p = g_child.load();
  if (p > 0) ::kill(p, sig);
  errno = saved;
}

constexpr std::array<int, 3> kForwarded = {SIGTERM, SIGINT, SIGHUP};

// Installs the forwarding handlers for its lifetime and restores the previous ones after. A signal
// this process ignores (SIGHUP under nohup) stays ignored, and so stays ignored in the child.
class SignalForwarding {
 public:
  explicit SignalForwarding(bool on) {
    if (!on) return;
    struct sigaction sa {};
    sa.sa_handler = forward;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < kForwarded.size(); ++i) {
      ::sigaction(kForwarded[i], nullptr, &old_[i]);
      if (old_[i].sa_handler == SIG_IGN) continue;
      ::sigaction(kForwarded[i], &sa, nullptr);
      installed_[i] = true;
    }
  }
  ~SignalForwarding() {
    for (size_t i = 0; i < kForwarded.size(); ++i)
      if (installed_[i]) ::sigaction(kForwarded[i], &old_[i], nullptr);
  }
  SignalForwarding(const SignalForwarding&) = delete;
  SignalForwarding& operator=(const SignalForwarding&) = delete;

 private:
  std::array<struct sigaction, 3> old_{};
  std::array<bool, 3> installed_{};
};

// Blocks the forwarded signals for its lifetime, so that one arriving between the spawn and the
// moment the child's pid is known is held, then delivered (and forwarded) when unblocked.
class SignalsHeld {
 public:
  SignalsHeld() {
    sigset_t set;
    sigemptyset(&set);
    for (int s : kForwarded) sigaddset(&set, s);
    ::pthread_sigmask(SIG_BLOCK, &set, &previous_);
  }
  ~SignalsHeld() { ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  SignalsHeld(const SignalsHeld&) = delete;
  SignalsHeld& operator=(const SignalsHeld&) = delete;
  const sigset_t& previous() const { return previous_; }

 private:
  sigset_t previous_;
};

class SpawnAttributes {
 public:
  SpawnAttributes() { posix_spawnattr_init(&a_); }
  ~SpawnAttributes() { posix_spawnattr_destroy(&a_); }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
  posix_spawnattr_t* get() { return &a_; }

 private:
  posix_spawnattr_t a_;
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
  {
    SignalsHeld held;
    // The child starts with this thread's mask as it was before the signals were held.
    SpawnAttributes attr;
    posix_spawnattr_setsigmask(attr.get(), &held.previous());
    posix_spawnattr_setflags(attr.get(), POSIX_SPAWN_SETSIGMASK);
    const int rc = ::posix_spawnp(&pid, args[0], fa.get(), attr.get(), args.data(), environ);
    if (rc != 0) fail("cannot start ", argv[0], " (", std::strerror(rc), ")");
    g_child = pid;
  }
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
  // Waited for without reaping first, so no signal is forwarded to a pid already handed to another process.
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
  }
  g_child = 0;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
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
