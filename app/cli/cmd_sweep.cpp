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
// --db FILE: the store the tasks are collected into. The default is described, not computed:
// Store::default_path() throws without HOME and XDG_DATA_HOME, and --help must work regardless.
void add_db_option(Args& a) {
  a.option("db", "FILE",
           "the experiment store the tasks are collected into (default $XDG_DATA_HOME/quench/quench.db, else "
           "~/.local/share/quench/quench.db)");
}

std::string store_path(const Args& a) { return a.get("db").value_or(Store::default_path()); }

int plan_cmd(const Argv& argv) {
  Args a("sweep plan",
         "Checks a sweep description and prints the tasks it makes: one row per task with its kind, experiment name\n"
         "and arguments. Nothing is written. The description's keys are in docs/sweeps.md.");
  a.positional("DESCRIPTION", "the sweep's description, a JSON file");
  a.option("dir", "DIR", "the folder `sweep run --dir DIR` would start it in: the grid's generated recipes are named as "
                         "they would be written there (without --dir they are shown as DIR/recipes/...)");
  a.flag("json", "the plan as JSON, with \"generated_recipes\": {file name: recipe} for the grid");
  if (!a.parse(argv)) return 0;
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
    t.add({std::to_string(job.index), run_kind_name(job.kind), job.name, args});
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
  Args a("sweep run",
         "Starts the sweep in DIR, or continues the one there: every task that has not completed and is not queued\n"
         "runs (again), its earlier attempt kept in DIR/attempts/. Here (--local, the default) the tasks run one after\n"
         "another and are then collected into the store; with --slurm they are submitted as one Slurm job array.");
  a.positional("DESCRIPTION", "the sweep's description, a JSON file (docs/sweeps.md); needed to start a sweep, optional "
                              "to continue one (DIR must then hold a sweep planned from it)",
               false);
  a.option("dir", "DIR", "the sweep folder: a new one to start, or one holding a sweep to continue (on a cluster, a "
                         "folder every node sees)")
      ->required();
  a.option("tasks", "LIST", "only these tasks, such as 0-3,7 (default: every task not completed and not queued)");
  a.flag("local", "run the tasks here, one after another (the default)");
  a.flag("slurm", "write DIR/sweep.sbatch and submit it as one job array with sbatch");
  a.one_of({"local", "slurm"}, false);
  a.flag("no-collect", "do not collect the tasks into the store afterwards; `sweep collect` does (as the window does)");
  add_db_option(a);
  // The options of --slurm: what sbatch gets, and the program the nodes run.
  a.option("partition", "P", "the Slurm partition the tasks run in");
  a.option("gres", "SPEC", "generic resources per task, such as gpu:1 (sbatch --gres)");
  a.option("time", "LIMIT", "time limit per task, such as 2:00:00 (sbatch --time)");
  a.option("cpus", "N", "CPUs per task (sbatch --cpus-per-task)");
  a.option("mem", "SIZE", "memory per task, such as 32G (sbatch --mem)");
  a.repeated("sbatch-arg", "ARG", "any other sbatch option, such as --sbatch-arg=--account=X");
  a.option("quench-cli", "PATH", "the quench-cli the nodes run (default: this one)");
  for (const char* o : {"partition", "gres", "time", "cpus", "mem", "sbatch-arg", "quench-cli"}) a.declared(o)->needs(a.declared("slurm"));
  a.footer("--partition, --gres, --time, --cpus, --mem, --sbatch-arg and --quench-cli go with --slurm.\n"
           "Exit 1 when a task run now failed or the run was stopped (tasks not picked are not failures); failed tasks are\n"
           "named with the command that runs them again. One `sweep run` at a time works in a folder (DIR/sweep.lock).");
  if (!a.parse(argv)) return 0;
  const bool slurm = a.flag("slurm");
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
  Args a("sweep status",
         "Each task's state: not submitted, queued, running, completed, failed, or lost (gone from Slurm's queue\n"
         "without an outcome); then the tail of each failed or lost task's log, and the command that resubmits them.");
  a.positional("DIR", "the sweep folder");
  a.flag("json", "a JSON array: per task its name, state, scheduler, Slurm job, detail, log and outcome");
  if (!a.parse(argv)) return 0;
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
  Args a("sweep collect",
         "Imports every completed task into the store (a sensitivity analysis's chunks merged into one run once all\n"
         "have completed); running it again adds nothing. Exit 1 while tasks have failed, with the command that\n"
         "resubmits them.");
  a.positional("DIR", "the sweep folder");
  add_db_option(a);
  a.flag("json", "{\"imported\", \"present\", \"collected\", \"failed\", \"waiting\", \"sensitivity_id\"}");
  if (!a.parse(argv)) return 0;
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
  Args a("sweep task",
         "Runs one task of the sweep in DIR: what each array task of sweep.sbatch does. Its exit code is the task's.");
  a.positional("DIR", "the sweep folder");
  a.positional("TASK", "the task's number (sweep plan lists them)");
  if (!a.parse(argv)) return 0;
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
  const char* summary;
  int (*run)(const Argv&);
};
const Sub kSubs[] = {
    {"plan", "checks a description and prints the tasks it makes", plan_cmd},
    {"run", "starts or continues a sweep in a folder: here (--local) or as a Slurm job array (--slurm)", run_cmd},
    {"status", "each task's state; failed and lost tasks with their log's tail", status_cmd},
    {"collect", "imports every completed task into the store", collect_cmd},
    {"task", "runs one task (what each array task of sweep.sbatch does)", task_cmd},
};

void print_help() {
  std::cout << "usage: quench-cli sweep SUBCOMMAND [ARGS] [OPTIONS]\n\n"
               "Many independent jobs over one model (recipes, a grid of weight settings, a sensitivity analysis in\n"
               "chunks), each into its own database in a sweep folder, then collected into your experiment store.\n"
               "The description's keys and the folder's layout are in docs/sweeps.md.\n\nsubcommands:\n";
  for (const auto& s : kSubs) std::cout << "  " << s.name << std::string(10 - std::string(s.name).size(), ' ') << s.summary << "\n";
  std::cout << "\nquench-cli sweep SUBCOMMAND --help describes its arguments and options.\n";
}
}  // namespace

int cmd_sweep(const Argv& argv) {
  if (argv.empty()) throw UsageError("missing subcommand (plan, run, status, collect, task)");
  if (argv[0] == "--help" || argv[0] == "-h" || argv[0] == "help") {
    print_help();
    return 0;
  }
  for (const auto& s : kSubs)
    if (argv[0] == s.name) return s.run(Argv(argv.begin() + 1, argv.end()));
  throw UsageError("unknown subcommand '" + argv[0] + "' (plan, run, status, collect, task)");
}

}  // namespace quench::cli
