#include "cli_util.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace quench::test {

std::string fixture(const std::string& rel) { return std::string(QUENCH_FIXTURES) + "/" + rel; }
std::string demo(const std::string& rel) { return std::string(QUENCH_DEMO) + "/" + rel; }

namespace {
std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

CliResult run_cli(const std::vector<std::string>& args, const std::string& stdin_text) {
  char out_tmpl[] = "/tmp/quench-cli-out-XXXXXX";
  char err_tmpl[] = "/tmp/quench-cli-err-XXXXXX";
  char in_tmpl[] = "/tmp/quench-cli-in-XXXXXX";
  const int out_fd = mkstemp(out_tmpl), err_fd = mkstemp(err_tmpl), in_fd = mkstemp(in_tmpl);
  if (out_fd < 0 || err_fd < 0 || in_fd < 0) throw std::runtime_error("mkstemp failed");
  if (!stdin_text.empty() && write(in_fd, stdin_text.data(), stdin_text.size()) < 0) throw std::runtime_error("write failed");
  lseek(in_fd, 0, SEEK_SET);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(in_fd, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    std::vector<char*> argv;
    std::string exe = QUENCH_CLI;
    argv.push_back(exe.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(exe.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  close(out_fd);
  close(err_fd);
  close(in_fd);
  CliResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out_tmpl);
  r.err = slurp(err_tmpl);
  unlink(out_tmpl);
  unlink(err_tmpl);
  unlink(in_tmpl);
  return r;
}

}  // namespace quench::test
