#include "core/sweep/sweep_dir.h"

#include <filesystem>
#include <fstream>
#include <set>

#include "core/io/atomic_file.h"
#include "core/runs/sensitivity_merge.h"
#include "core/store/connection.h"
#include "core/store/import.h"
#include "core/store/store.h"
#include "core/sweep/sweep_tasks.h"
#include "core/util/error.h"
#include "core/util/file_lock.h"
#include "core/util/subprocess.h"

namespace fs = std::filesystem;

namespace quench {

namespace {
void make_dirs(const fs::path& p) {
  std::error_code ec;
  fs::create_directories(p, ec);
  QUENCH_CHECK(!ec, p.string(), ": cannot create the folder (", ec.message(), ")");
}

nlohmann::json read_json_file(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  QUENCH_CHECK(in, path, ": cannot open ", what);
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    fail(path, ": ", what, " is not valid JSON (", e.what(), ")");
  }
}

}  // namespace

SweepDir::SweepDir(std::string dir) : dir_(fs::absolute(dir).lexically_normal().string()) {
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
}

bool SweepDir::exists() const {
  std::error_code ec;
  return fs::exists(plan_file(), ec);
}

void SweepDir::create(const SweepPlan& plan) const {
  QUENCH_CHECK(!exists(), dir_, ": already holds a sweep (", plan_file(),
               "); resubmit its tasks with `quench-cli sweep run --dir ", dir_, " --tasks …`, or choose another --dir");
  for (const char* sub : {"tasks", "logs", "attempts", "merged", "recipes"}) make_dirs(fs::path(dir_) / sub);
  for (const auto& [file, recipe] : plan.generated_recipes) write_file_atomic(file, recipe.dump(2) + "\n");
  nlohmann::json j = plan.to_json();
  j["submissions"] = nlohmann::json::array();
  write_file_atomic(plan_file(), j.dump(2) + "\n");
}

nlohmann::json SweepDir::read_json() const {
  QUENCH_CHECK(exists(), dir_, ": not a sweep folder (no sweep.json); start one with `quench-cli sweep run DESCRIPTION.json --dir ", dir_, "`");
  return read_json_file(plan_file(), "the sweep plan");
}

SweepPlan SweepDir::plan() const { return SweepPlan::from_json(read_json(), plan_file()); }

nlohmann::json SweepDir::submissions() const {
  const auto j = read_json();
  return j.value("submissions", nlohmann::json::array());
}

void SweepDir::add_submission(const nlohmann::json& s) const {
  nlohmann::json j = read_json();
  j["submissions"].push_back(s);
  write_file_atomic(plan_file(), j.dump(2) + "\n");
}

void SweepDir::archive_attempt(int i) const {
  const std::vector<std::string> files = {task_db(i), task_db(i) + "-wal", task_db(i) + "-shm", started_file(i), exit_file(i), task_log(i)};
  std::error_code ec;
  bool any = false;
  for (const auto& f : files) any = any || fs::exists(f, ec);
  if (!any) return;
  int n = 1;
  const fs::path attempts = fs::path(dir_) / "attempts";
  make_dirs(attempts);
  while (fs::exists(attempts / (std::to_string(i) + "." + std::to_string(n)), ec)) ++n;
  const fs::path to = attempts / (std::to_string(i) + "." + std::to_string(n));
  make_dirs(to);
  for (const auto& f : files)
    if (fs::exists(f, ec)) {
      fs::rename(f, to / fs::path(f).filename(), ec);
      QUENCH_CHECK(!ec, f, ": cannot move it to ", to.string(), " (", ec.message(), ")");
    }
}

std::optional<TaskOutcome> read_outcome(const SweepDir& d, int i) {
  // Opened rather than looked up: on NFS, open() revalidates what a cached stat may not yet show.
  std::ifstream in(d.exit_file(i));
  if (!in) return std::nullopt;
  nlohmann::json j;
  TaskOutcome o;
  try {
    j = nlohmann::json::parse(in);
    o.exit_code = j.at("exit_code").get<int>();
    o.signal = j.value("signal", 0);
    o.finished_at = j.value("finished_at", "");
    o.host = j.value("host", "");
  } catch (const nlohmann::json::exception& e) {
    fail(d.exit_file(i), ": not a task outcome (", e.what(), ")");
  }
  return o;
}

void write_outcome(const SweepDir& d, int i, const TaskOutcome& o) {
  const nlohmann::json j = {{"exit_code", o.exit_code}, {"signal", o.signal}, {"finished_at", o.finished_at.empty() ? now_utc() : o.finished_at},
                            {"host", o.host.empty() ? host_name() : o.host}};
  write_file_atomic(d.exit_file(i), j.dump() + "\n");
}

CollectReport collect_sweep(const SweepDir& d, const std::string& dest) { return collect_sweep(d, dest, sweep_status(d)); }

CollectReport collect_sweep(const SweepDir& d, const std::string& dest, const std::vector<TaskStatus>& statuses) {
  const SweepPlan plan = d.plan();
  CollectReport rep;
  std::set<int> chunks;
  if (plan.sensitivity) chunks.insert(plan.sensitivity->jobs.begin(), plan.sensitivity->jobs.end());
  bool chunks_done = plan.sensitivity.has_value();
  for (const TaskStatus& st : statuses) {
    const auto& job = plan.jobs[st.index];
    if (st.state != TaskState::Completed) {
      // Lost tasks (gone from the queue without an outcome) need a resubmission as failed ones do.
      (st.state == TaskState::Failed || st.state == TaskState::Lost ? rep.failed : rep.waiting).push_back(job.index);
      if (chunks.count(job.index)) chunks_done = false;
      continue;
    }
    if (chunks.count(job.index)) continue;
    const ImportReport ir = import_experiments(dest, d.task_db(job.index));
    rep.imported += static_cast<int>(ir.imported.size());
    rep.present += static_cast<int>(ir.present.size());
    rep.collected.push_back(job.index);
  }
  if (chunks_done) {
    // Merged once into merged/ (then only imported): merging again would make a new run each time.
    // One merge at a time (the window and `sweep collect` may collect together): a second merge
    // would record the analysis again under a new id.
    const FileLock lock(d.path() + "/merged/merge.lock");
    std::error_code ec;
    if (!fs::exists(d.merged_db(), ec)) {
      const std::string tmp = d.merged_db() + ".partial";
      for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(tmp + suffix, ec);
      std::vector<std::string> dbs;
      for (int k : plan.sensitivity->jobs) dbs.push_back(d.task_db(k));
      {
        Store s = Store::open(tmp);
        SensitivityMergeSpec ms;
        ms.name = plan.sensitivity->name;
        ms.layers = plan.sensitivity->layers;
        ms.budget = plan.sensitivity->budget;
        ms.budget_sparsity = plan.sensitivity->budget_sparsity;
        if (ms.budget || ms.budget_sparsity) ms.suggestion_path = (fs::path(d.path()) / "merged" / "suggested-recipe.json").string();
        merge_sensitivity_chunks(s, dbs, ms);
      }
      fs::rename(tmp, d.merged_db(), ec);
      QUENCH_CHECK(!ec, d.merged_db(), ": cannot move the merged analysis into place (", ec.message(), ")");
    }
    const ImportReport ir = import_experiments(dest, d.merged_db());
    rep.imported += static_cast<int>(ir.imported.size());
    rep.present += static_cast<int>(ir.present.size());
    if (!ir.imported.empty()) rep.sensitivity_id = ir.imported.front().second;
    else if (!ir.present.empty()) rep.sensitivity_id = ir.present.front().second;
    rep.collected.insert(rep.collected.end(), plan.sensitivity->jobs.begin(), plan.sensitivity->jobs.end());
  }
  return rep;
}

}  // namespace quench
