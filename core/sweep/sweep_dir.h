#pragma once
// A sweep's folder, shared by the machine that submits and the nodes that run the tasks:
//   sweep.json        the plan (every job's quench-cli arguments) and the submissions so far
//   recipes/          recipes the grid generated
//   tasks/I.db        task I's experiment database; tasks/I.started where and when it began;
//                     tasks/I.exit its outcome, written when it ends
//   logs/task-I.log   task I's output; logs/slurm-JOB_I.out what Slurm saw of it
//   attempts/         earlier attempts of resubmitted tasks (database, start marker, outcome, log)
//   merged/           the sensitivity analysis put together from its chunks
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "core/sweep/sweep.h"

namespace quench {

struct TaskStatus;  // core/sweep/sweep_tasks.h

class SweepDir {
 public:
  explicit SweepDir(std::string dir);
  const std::string& path() const { return dir_; }
  std::string plan_file() const { return dir_ + "/sweep.json"; }
  std::string task_db(int i) const { return dir_ + "/tasks/" + std::to_string(i) + ".db"; }
  std::string exit_file(int i) const { return dir_ + "/tasks/" + std::to_string(i) + ".exit"; }
  std::string started_file(int i) const { return dir_ + "/tasks/" + std::to_string(i) + ".started"; }
  std::string task_log(int i) const { return dir_ + "/logs/task-" + std::to_string(i) + ".log"; }
  std::string merged_db() const { return dir_ + "/merged/sensitivity.db"; }
  std::string recipes_dir() const { return dir_ + "/recipes"; }
  bool exists() const;

  // Writes a new sweep (its folders, grid recipes and sweep.json); refuses a folder that holds one.
  void create(const SweepPlan& plan) const;
  SweepPlan plan() const;
  // sweep.json's "submissions": [{"scheduler": "slurm"|"local", "job_id", "tasks", "submitted_at"}].
  nlohmann::json submissions() const;
  void add_submission(const nlohmann::json& s) const;

  // Moves what an earlier attempt of task i left (database, outcome, log) into attempts/, so a
  // resubmission starts clean and nothing of the failure is lost.
  void archive_attempt(int i) const;

 private:
  nlohmann::json read_json() const;
  std::string dir_;
};

// What a task's outcome file says; nullopt when it has none (not run, running, or killed without
// a chance to write it).
struct TaskOutcome {
  int exit_code = 0;      // the job's exit status; 128 + signal when a signal ended it
  int signal = 0;         // the signal that ended it, 0 if none
  std::string finished_at;
  std::string host;
  bool ok() const { return exit_code == 0 && signal == 0; }
};
std::optional<TaskOutcome> read_outcome(const SweepDir& d, int i);
void write_outcome(const SweepDir& d, int i, const TaskOutcome& o);

struct CollectReport {
  int imported = 0;            // experiments added to the store now
  int present = 0;             // already there from an earlier collect
  std::vector<int> collected;  // task indices whose results are in the store
  std::vector<int> failed;     // tasks that ended with an error or were lost (their logs say why)
  std::vector<int> waiting;    // tasks not submitted, queued, running, or whose state is unknown
  std::optional<int64_t> sensitivity_id;  // the merged analysis' experiment id in the store
};

// Imports every completed task's experiments into dest (sensitivity chunks once all of them
// completed, merged into one run first). Running it again adds nothing.
CollectReport collect_sweep(const SweepDir& d, const std::string& dest);
// The same with the tasks' states already asked for (sweep_status), so squeue is not asked twice.
CollectReport collect_sweep(const SweepDir& d, const std::string& dest, const std::vector<TaskStatus>& statuses);

}  // namespace quench
