#pragma once
// Running another program and waiting for it: a sweep task's quench-cli job, and the Slurm
// commands (sbatch, squeue) the sweep talks to the scheduler with. No shell is involved, so
// arguments need no quoting.
#include <string>
#include <vector>

namespace quench {

struct ProcessResult {
  int exit_code = 0;   // the program's exit status; 128 + signal when a signal ended it
  int signal = 0;      // the signal that ended it, 0 if none
  std::string output;  // stdout and stderr together, when captured
  bool ok() const { return exit_code == 0 && signal == 0; }
};

struct ProcessOptions {
  // Where stdout and stderr go: appended to this file; "" captures them into ProcessResult::output.
  std::string log_file;
  // SIGTERM, SIGINT and SIGHUP received while waiting are passed on to the program (a scheduler
  // cancelling or timing out a task signals the task's wrapper, which must let the job stop cleanly).
  bool forward_signals = false;
};

// argv[0] is a path, or a name looked up in PATH. Throws when the program cannot be started
// (naming it); a program that runs and fails is reported in the result.
ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// The path of the running executable (to start quench-cli again for each task).
std::string self_executable();
// This machine's name (a task's outcome says where it ran).
std::string host_name();

}  // namespace quench
