// quench-cli sweep: many jobs over one model, run here or as a Slurm job array, collected into the store.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "app/cli/format.h"
#include "core/store/connection.h"
#include "core/store/store.h"
#include "core/sweep/sweep.h"
#include "core/sweep/sweep_dir.h"
#include "core/sweep/sweep_tasks.h"
#include "core/util/error.h"
#include "core/util/file_lock.h"
#include "core/util/subprocess.h"

namespace fs = std::filesystem;

namespace quench::cli {

namespace {
const char* kUsage =
    "usage: quench-cli sweep SUBCOMMAND [ARGS]\n"
    "Many independent jobs over one model (recipes, a grid of weight settings, a sensitivity analysis in\n"
    "chunks), each into its own database in a sweep folder, then collected into your experiment store.\n"
    "The description's keys and the folder's layout are in docs/sweeps.md.\n"
    "\n"
    "  plan DESCRIPTION.json [--dir DIR] [--json]\n"
    "                         checks the description and prints the jobs it makes\n"
    "  run [DESCRIPTION.json] --dir DIR [--local | --slurm [SLURM OPTIONS]] [--tasks LIST] [--db FILE]\n"
    "                         starts the sweep in DIR (a new folder; on a cluster one every node sees), or\n"
    "                         continues the one there: tasks that have not completed and are not queued run\n"
    "                         again (their earlier attempt is kept in DIR/attempts/). --tasks 0-3,7 picks tasks.\n"
    "       --local           (the default) one task after another here, then collects them into the store\n"
    "                         (--no-collect: leaves that to `sweep collect`, as the window does)\n"
    "       --slurm           writes DIR/sweep.sbatch and submits it as one job array with sbatch\n"
    "         --partition P  --gres gpu:1  --time 2:00:00  --cpus N  --mem 32G  --sbatch-arg --account=X\n"
    "                         (repeatable)  --quench-cli PATH: the program the nodes run (default: this one)\n"
    "  status DIR [--json]    each task's state: not submitted, queued, running, completed, failed, lost\n"
    "                         (gone from Slurm's queue without an outcome); failures with their log's tail\n"
    "  collect DIR [--db FILE] [--json]\n"
    "                         imports every completed task into the store (the sensitivity chunks merged\n"
    "                         into one run once all have completed); running it again adds nothing. Exit 1\n"
    "                         while tasks have failed, with the command that resubmits them\n"
    "  task DIR I             runs task I (what each array task of sweep.sbatch does)\n"
    "\n"
    "  --db FILE   the store (default $XDG_DATA_HOME/quench/quench.db, else ~/.local/share/quench/quench.db)\n";

std::string store_path(const Args& a) { return a.get("db").value_or(Store::default_path()); }

int plan_cmd(const Argv& argv) {
  Args a(argv, {"json"}, {"dir"});
  a.expect_positional({"DESCRIPTION"});
  // Grid recipes are named by where `run` would write them; nothing is written here.
  const SweepPlan p = plan_sweep(a.positional()[0], a.get("dir") ? SweepDir(*a.get("dir")).recipes_dir() : "DIR/recipes");
  if (a.flag("json")) {
    nlohmann::json j = p.to_json();
    j["generated_recipes"] = nlohmann::json::object();
    for (const auto& [file, r] : p.generated_recipes) j["generated_recipes"][fs::path(file).filename().string()] = r;
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  Table t({"task", "kind", "experiment", "arguments"}, {true, false, false, false});
  for (const auto& job : p.jobs) {
    std::string args;
    for (size_t i = 1; i < job.args.size(); ++i) args += (i > 1 ? " " : "") + job.args[i];
    t.add({std::to_string(job.index), job.kind, job.name, args});
  }
  std::cout << t.str() << p.jobs.size() << " task" << (p.jobs.size() == 1 ? "" : "s") << " in sweep '" << p.name << "'";
  if (p.sensitivity) std::cout << "; " << p.sensitivity->jobs.size() << " of them chunks of '" << p.sensitivity->name << "', merged when collected";
  std::cout << "\n";
  return 0;
}

void print_collect(const CollectReport& r, const SweepDir& d, const std::string& db) {
  std::cout << "collected " << r.collected.size() << " task" << (r.collected.size() == 1 ? "" : "s") << " into " << db << ": " << r.imported
            << " experiment" << (r.imported == 1 ? "" : "s") << " added, " << r.present << " already there\n";
  if (r.sensitivity_id) std::cout << "sensitivity (merged from its chunks) is experiment #" << *r.sensitivity_id << "\n";
  if (!r.waiting.empty()) std::cout << r.waiting.size() << " task(s) not finished: " << task_list_text(r.waiting) << "\n";
  if (!r.failed.empty())
    std::cout << r.failed.size() << " task(s) failed: " << task_list_text(r.failed) << " (logs in " << d.path()
              << "/logs/); resubmit them with `quench-cli sweep run --dir " << d.path() << " --tasks " << task_list_text(r.failed)
              << "` (add --slurm ... for the cluster)\n";
}

// Tasks to run now: the ones asked for, or every one that has not completed and is not queued.
std::vector<int> select_tasks(const SweepDir& d, const Args& a, const std::vector<TaskStatus>& st) {
  std::vector<int> out;
  if (auto list = a.get("tasks")) {
    for (int i : parse_task_list(*list, static_cast<int>(st.size()))) {
      const auto& s = st[i];
      if (s.state == TaskState::Completed)
        throw UsageError("task " + std::to_string(i) + " has completed (" + d.exit_file(i) + "); `quench-cli sweep collect " + d.path() +
                         "` imports it");
      if (s.state == TaskState::Queued || s.state == TaskState::Running)
        throw UsageError("task " + std::to_string(i) + " is " + task_state_name(s.state) + (s.job.empty() ? "" : " (Slurm job " + s.job + ")") +
                         "; wait for it or cancel it first");
      if (s.state == TaskState::Unknown)
        throw UsageError("task " + std::to_string(i) + "'s state is unknown (" + s.detail + "); it may still run, so it is not started again");
      out.push_back(i);
    }
    return out;
  }
  for (const auto& s : st)
    if (s.state == TaskState::NotSubmitted || s.state == TaskState::Failed || s.state == TaskState::Lost) out.push_back(s.index);
  return out;
}

int run_cmd(const Argv& argv) {
  Args a(argv, {"local", "slurm", "no-collect"}, {"dir", "tasks", "db", "partition", "gres", "time", "cpus", "mem", "quench-cli"}, {"sbatch-arg"});
  a.expect_positional({"DESCRIPTION"}, 1);
  if (a.flag("local") && a.flag("slurm")) throw UsageError("give --local or --slurm, not both");
  const bool slurm = a.flag("slurm");
  for (const char* o : {"partition", "gres", "time", "cpus", "mem", "quench-cli"})
    if (a.get(o) && !slurm) throw UsageError(std::string("--") + o + " is a Slurm option: add --slurm");
  if (!a.get_all("sbatch-arg").empty() && !slurm) throw UsageError("--sbatch-arg is a Slurm option: add --slurm");
  const SweepDir d(a.require("dir"));

  if (!a.positional().empty()) {
    const SweepPlan p = plan_sweep(a.positional()[0], d.recipes_dir());
    if (!d.exists()) {
      d.create(p);
      std::cout << "sweep '" << p.name << "': " << p.jobs.size() << (p.jobs.size() == 1 ? " task in " : " tasks in ") << d.path() << "\n";
    } else if (d.plan().to_json() != p.to_json()) {
      throw UsageError(d.path() + " holds a sweep planned from another description (or this one before it changed); choose another --dir, "
                       "or continue that sweep with `quench-cli sweep run --dir " + d.path() + "`");
    }
  } else if (!d.exists()) {
    throw UsageError(d.path() + " holds no sweep yet: give the description, `quench-cli sweep run DESCRIPTION.json --dir " + d.path() + "`");
  }
  // One `sweep run` at a time per folder: two would pick, archive and run the same tasks.
  const auto lock = FileLock::try_acquire(d.path() + "/sweep.lock");
  if (!lock) throw Error(d.path() + ": another `quench-cli sweep run` is working in this folder (it holds " + d.path() + "/sweep.lock); wait for it");
  const auto status = sweep_status(d);
  std::vector<int> tasks;
  for (int i : select_tasks(d, a, status)) {
    // Looked at again just before its files move: a task that completed since is left alone.
    if (const auto o = read_outcome(d, i); o && o->ok()) continue;
    tasks.push_back(i);
  }
  if (tasks.empty()) {
    std::cout << "nothing to run: every task has completed or is in the queue (`quench-cli sweep status " << d.path() << "`)\n";
    if (slurm || a.flag("no-collect")) return 0;
    const CollectReport r = collect_sweep(d, store_path(a));
    print_collect(r, d, store_path(a));
    return r.failed.empty() ? 0 : 1;
  }
  for (int i : tasks) d.archive_attempt(i);

  if (slurm) {
    SlurmOptions o;
    o.partition = a.get("partition", "");
    o.gres = a.get("gres", "");
    o.time = a.get("time", "");
    o.cpus = a.get("cpus", "");
    o.mem = a.get("mem", "");
    o.extra = a.get_all("sbatch-arg");
    o.cli = fs::absolute(a.get("quench-cli").value_or(self_executable())).string();
    const std::string job = submit_slurm(d, tasks, o);
    std::cout << "submitted Slurm job " << job << ", array tasks " << task_list_text(tasks) << " (" << d.path() << "/sweep.sbatch)\n"
              << "follow it with `quench-cli sweep status " << d.path() << "`, then `quench-cli sweep collect " << d.path() << "`\n";
    return 0;
  }

  nlohmann::json sub = identity_json();
  sub["scheduler"] = "local";
  sub["tasks"] = tasks;
  sub["submitted_at"] = now_utc();
  d.add_submission(sub);
  const SweepPlan p = d.plan();
  const std::string cli = self_executable();
  int done = 0;
  bool any_failed = false;
  for (int i : tasks) {
    ++done;
    std::cout << "[" << done << "/" << tasks.size() << "] task " << i << " " << p.jobs[i].name << " … " << std::flush;
    const auto t0 = std::chrono::steady_clock::now();
    const TaskOutcome o = run_task(d, i, cli);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (o.ok()) {
      std::cout << "completed in " << fixed(s, 1) << " s\n";
      continue;
    }
    any_failed = true;
    std::cout << (o.signal ? "stopped by signal " + std::to_string(o.signal) : "failed (exit " + std::to_string(o.exit_code) + ")") << ", log "
              << d.task_log(i) << ":\n"
              << tail_lines(d.task_log(i), 5);
    // Interrupted by the user (or the machine): stop here; the rest stays for the next `sweep run`.
    if (o.signal == SIGINT || o.signal == SIGTERM || o.signal == SIGHUP) break;
  }
  if (!a.flag("no-collect")) {
    const CollectReport r = collect_sweep(d, store_path(a));
    print_collect(r, d, store_path(a));
  }
  // Exit 1 when a task run now failed or the run was stopped (tasks not picked are not failures).
  return any_failed || done < static_cast<int>(tasks.size()) ? 1 : 0;
}

int status_cmd(const Argv& argv) {
  Args a(argv, {"json"}, {});
  a.expect_positional({"DIR"});
  const SweepDir d(a.positional()[0]);
  const SweepPlan p = d.plan();
  const auto st = sweep_status(d);
  if (a.flag("json")) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& s : st) {
      nlohmann::json x = {{"task", s.index}, {"name", p.jobs[s.index].name}, {"state", task_state_name(s.state)}, {"scheduler", s.scheduler},
                          {"slurm_job", s.job}, {"detail", s.detail}, {"log", s.log}};
      if (s.outcome) x["outcome"] = {{"exit_code", s.outcome->exit_code}, {"signal", s.outcome->signal}, {"finished_at", s.outcome->finished_at},
                                     {"host", s.outcome->host}};
      j.push_back(x);
    }
    std::cout << j.dump() << "\n";
    return 0;
  }
  Table t({"task", "experiment", "state", "where", "detail"}, {true, false, false, false, false});
  std::map<TaskState, int> counts;
  for (const auto& s : st) {
    ++counts[s.state];
    std::string where = s.scheduler.empty() ? "" : s.job.empty() ? s.scheduler : "slurm " + s.job;
    std::string detail = s.detail;
    if (s.outcome) {
      if (!s.outcome->host.empty()) where += " on " + s.outcome->host;
      detail = s.outcome->ok() ? "finished " + s.outcome->finished_at
                               : (s.outcome->signal ? "signal " + std::to_string(s.outcome->signal) : "exit " + std::to_string(s.outcome->exit_code));
    }
    t.add({std::to_string(s.index), p.jobs[s.index].name, task_state_name(s.state), where, detail});
  }
  std::cout << t.str();
  std::string summary;
  for (const auto& [state, n] : counts) summary += (summary.empty() ? "" : ", ") + std::to_string(n) + " " + task_state_name(state);
  std::cout << summary << "\n";
  std::vector<int> bad;
  for (const auto& s : st)
    if (s.state == TaskState::Failed || s.state == TaskState::Lost) {
      bad.push_back(s.index);
      std::cout << "\ntask " << s.index << " " << task_state_name(s.state) << ", " << s.log << ":\n" << tail_lines(s.log, 8);
    }
  if (!bad.empty())
    std::cout << "\nresubmit with `quench-cli sweep run --dir " << d.path() << " --tasks " << task_list_text(bad) << "` (add --slurm ... for the cluster)\n";
  return 0;
}

int collect_cmd(const Argv& argv) {
  Args a(argv, {"json"}, {"db"});
  a.expect_positional({"DIR"});
  const SweepDir d(a.positional()[0]);
  const CollectReport r = collect_sweep(d, store_path(a));
  if (a.flag("json")) {
    nlohmann::json j = {{"imported", r.imported}, {"present", r.present}, {"collected", r.collected}, {"failed", r.failed}, {"waiting", r.waiting}};
    j["sensitivity_id"] = r.sensitivity_id ? nlohmann::json(*r.sensitivity_id) : nlohmann::json();
    std::cout << j.dump() << "\n";
  } else {
    print_collect(r, d, store_path(a));
  }
  return r.failed.empty() ? 0 : 1;
}

int task_cmd(const Argv& argv) {
  Args a(argv, {}, {});
  a.expect_positional({"DIR", "TASK"});
  const SweepDir d(a.positional()[0]);
  int i = -1;
  try {
    size_t pos = 0;
    i = std::stoi(a.positional()[1], &pos);
    if (pos != a.positional()[1].size()) i = -1;
  } catch (const std::exception&) {
  }
  if (i < 0) throw UsageError("TASK must be a task number, got '" + a.positional()[1] + "'");
  const TaskOutcome o = run_task(d, i, self_executable());
  return o.signal ? 128 + o.signal : o.exit_code;
}

struct Sub {
  const char* name;
  int (*run)(const Argv&);
};
const Sub kSubs[] = {{"plan", plan_cmd}, {"run", run_cmd}, {"status", status_cmd}, {"collect", collect_cmd}, {"task", task_cmd}};
}  // namespace

int cmd_sweep(const Argv& argv) {
  if (argv.empty()) throw UsageError("missing subcommand (plan, run, status, collect, task)");
  for (const auto& x : argv)
    if (x == "--help" || x == "-h" || x == "help") {
      std::cout << kUsage;
      return 0;
    }
  for (const auto& s : kSubs)
    if (argv[0] == s.name) return s.run(Argv(argv.begin() + 1, argv.end()));
  throw UsageError("unknown subcommand '" + argv[0] + "' (plan, run, status, collect, task)");
}

}  // namespace quench::cli
