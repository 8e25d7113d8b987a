#pragma once
// Running a sweep's tasks and following them: one task here (what a Slurm array task or the local
// runner does), a job array handed to sbatch, and each task's state from its outcome file, its
// start marker and the scheduler's queue.
#include <optional>
#include <string>
#include <vector>

#include "core/sweep/sweep_dir.h"

namespace quench {

// Runs task i: `cli job-args --db tasks/I.db`, its output appended to logs/task-I.log, then writes
// tasks/I.exit. Signals to this process reach the job. Returns the outcome.
TaskOutcome run_task(const SweepDir& d, int i, const std::string& cli);

// This process as a local submission and a task's start marker record it (host, boot, pid, start
// time), so that its state can be told from here later without being fooled by a reused pid.
nlohmann::json identity_json();

enum class TaskState { NotSubmitted, Queued, Running, Completed, Failed, Lost, Unknown };
const char* task_state_name(TaskState s);

struct TaskStatus {
  int index = 0;
  TaskState state = TaskState::NotSubmitted;
  std::optional<TaskOutcome> outcome;
  std::string scheduler;  // of the last submission that included the task: "local", "slurm", ""
  std::string job;        // Slurm's id of the array task ("1234_5"), when submitted to Slurm
  std::string detail;     // why Unknown, or what a Lost task's scheduler said
  std::string log;        // the file that says most about a failure
};

// Every task's state. Asks squeue about tasks submitted to Slurm that have not ended; when squeue
// cannot be asked (no Slurm here), those tasks are Unknown with the reason.
std::vector<TaskStatus> sweep_status(const SweepDir& d);

// The last lines of a file (a failed task's log), "" when it cannot be read.
std::string tail_lines(const std::string& file, int lines);

struct SlurmOptions {
  std::string partition, gres, time, cpus, mem;
  std::vector<std::string> extra;  // more sbatch options, each "--name=value"
  std::string cli;                 // the quench-cli the nodes run (an absolute path they can see)
};

// Writes D/sweep.sbatch and submits `tasks` as one job array; records the submission. Returns
// Slurm's job id. Throws with sbatch's message when it refuses.
std::string submit_slurm(const SweepDir& d, const std::vector<int>& tasks, const SlurmOptions& o);

// "0-3,5,7-8" for the task list (sbatch --array and the messages).
std::string task_list_text(const std::vector<int>& tasks);
// The inverse; throws naming the bad element.
std::vector<int> parse_task_list(const std::string& s, int task_count);

}  // namespace quench
