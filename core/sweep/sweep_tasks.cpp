#include "core/sweep/sweep_tasks.h"

#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/io/atomic_file.h"
#include "core/store/connection.h"
#include "core/store/process.h"
#include "core/util/error.h"
#include "core/util/subprocess.h"

namespace fs = std::filesystem;

namespace quench {

namespace {
std::optional<nlohmann::json> read_json_if_any(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

// Alive, gone, or on another host (not checkable from here): pid reuse cannot fool it.
OwnerState state_of(const nlohmann::json& j) {
  ProcessIdentity p;
  p.host = j.value("host", std::string());
  p.boot_id = j.value("boot_id", std::string());
  p.pid = j.value("pid", int64_t{0});
  p.start_ticks = j.value("start_ticks", int64_t{0});
  return owner_state(p);
}

// A Slurm array task's line in `squeue -h -r -o "%i %T"`: "1234_5 RUNNING".
struct QueueState {
  bool asked = false;
  std::string error;
  std::map<std::string, std::string> state;  // "1234_5" → "RUNNING"
};

QueueState ask_squeue(const std::string& job_id) {
  QueueState q;
  q.asked = true;
  ProcessResult r;
  try {
    r = run_process({"squeue", "-h", "-r", "-j", job_id, "-o", "%i %T"});
  } catch (const Error& e) {
    q.error = e.what();
    return q;
  }
  if (!r.ok()) {
    // squeue refuses a job id it has forgotten (all tasks ended long ago): nothing is queued.
    if (r.output.find("Invalid job id") != std::string::npos) return q;
    q.error = "squeue failed: " + r.output;
    while (!q.error.empty() && q.error.back() == '\n') q.error.pop_back();
    return q;
  }
  std::istringstream in(r.output);
  std::string id, st;
  while (in >> id >> st) q.state[id] = st;
  return q;
}

std::string slurm_log(const SweepDir& d, const std::string& job_id, int i) {
  return d.path() + "/logs/slurm-" + job_id + "_" + std::to_string(i) + ".out";
}

std::string sanitize_job_name(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
  return out.empty() ? "sweep" : out;
}

// Single quotes for the script's exec line: paths with spaces or quotes stay one word.
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// A word as a shell reads it: quoted only when it needs to be (logs and comments stay readable).
std::string shell_word(const std::string& a) {
  return a.find_first_of(" '\"$\\*?[]{}();&|<>`!#~") == std::string::npos && !a.empty() ? a : shell_quote(a);
}
}  // namespace

nlohmann::json identity_json() {
  const ProcessIdentity me = current_process();
  return {{"host", me.host}, {"boot_id", me.boot_id}, {"pid", me.pid}, {"start_ticks", me.start_ticks}};
}

TaskOutcome run_task(const SweepDir& d, int i, const std::string& cli) {
  const SweepPlan plan = d.plan();
  QUENCH_CHECK(i >= 0 && i < static_cast<int>(plan.jobs.size()), d.plan_file(), ": there is no task ", i, " (the sweep has ",
               plan.jobs.size(), ")");
  std::string job;
  if (const char* a = std::getenv("SLURM_ARRAY_JOB_ID")) job = std::string(a) + "_" + std::to_string(i);
  nlohmann::json started = identity_json();
  started["started_at"] = now_utc();
  started["slurm_job"] = job;
  write_file_atomic(d.started_file(i), started.dump() + "\n");
  std::vector<std::string> argv = {cli};
  argv.insert(argv.end(), plan.jobs[i].args.begin(), plan.jobs[i].args.end());
  argv.insert(argv.end(), {"--db", d.task_db(i)});
  {
    std::ofstream log(d.task_log(i), std::ios::app);
    // The command as one can paste it into a shell to run the job again by hand.
    log << "# task " << i << " (" << plan.jobs[i].name << ") on " << host_name() << " at " << now_utc() << "\n#";
    for (const auto& a : argv) log << " " << shell_word(a);
    log << "\n";
  }
  ProcessOptions po;
  po.log_file = d.task_log(i);
  po.forward_signals = true;
  TaskOutcome o;
  try {
    const ProcessResult r = run_process(argv, po);
    o.exit_code = r.exit_code;
    o.signal = r.signal;
  } catch (const Error& e) {
    std::ofstream(d.task_log(i), std::ios::app) << e.what() << "\n";
    o.exit_code = 127;
  }
  write_outcome(d, i, o);
  return *read_outcome(d, i);
}

const char* task_state_name(TaskState s) {
  switch (s) {
    case TaskState::NotSubmitted: return "not submitted";
    case TaskState::Queued: return "queued";
    case TaskState::Running: return "running";
    case TaskState::Completed: return "completed";
    case TaskState::Failed: return "failed";
    case TaskState::Lost: return "lost";
    case TaskState::Unknown: return "unknown";
  }
  return "?";
}

std::vector<TaskStatus> sweep_status(const SweepDir& d) {
  const SweepPlan plan = d.plan();
  const nlohmann::json subs = d.submissions();
  // The last submission that included each task.
  std::vector<const nlohmann::json*> last(plan.jobs.size(), nullptr);
  try {
    for (const auto& s : subs)
      for (const auto& t : s.at("tasks")) {
        const int k = t.get<int>();
        if (k >= 0 && k < static_cast<int>(last.size())) last[k] = &s;
      }
  } catch (const nlohmann::json::exception& e) {
    fail(d.plan_file(), ": its 'submissions' are damaged (", e.what(), ")");
  }
  // Slurm is asked before any outcome is read: a task that ends in between is then seen by its
  // outcome, never taken for lost.
  std::map<std::string, QueueState> queues;
  for (const auto* s : last)
    if (s && s->value("scheduler", "") == "slurm") {
      auto& q = queues[s->value("job_id", "")];
      if (!q.asked) q = ask_squeue(s->value("job_id", ""));
    }
  std::vector<TaskStatus> out;
  for (const auto& job : plan.jobs) {
    TaskStatus st;
    st.index = job.index;
    st.log = d.task_log(job.index);
    const nlohmann::json* sub = last[job.index];
    if (sub) st.scheduler = sub->value("scheduler", "");
    if (st.scheduler == "slurm") st.job = sub->value("job_id", "") + "_" + std::to_string(job.index);
    st.outcome = read_outcome(d, job.index);
    if (st.outcome) {
      st.state = st.outcome->ok() ? TaskState::Completed : TaskState::Failed;
    } else if (!sub) {
      st.state = TaskState::NotSubmitted;
    } else if (st.scheduler == "local") {
      const auto started = read_json_if_any(d.started_file(job.index));
      const OwnerState task = started ? state_of(*started) : OwnerState::Gone;
      const OwnerState runner = state_of(*sub);
      if (started && task == OwnerState::Alive) {
        st.state = TaskState::Running;
      } else if ((started && task == OwnerState::OtherHost) || (!started && runner == OwnerState::OtherHost)) {
        st.state = TaskState::Unknown;
        st.detail = "run by " + (started ? *started : *sub).value("host", std::string("?")) + ", which cannot be checked from here";
      } else if (started) {
        st.state = TaskState::Lost;
        st.detail = "its process ended without writing an outcome (killed)";
      } else if (runner == OwnerState::Alive) {
        st.state = TaskState::Queued;
      } else {
        st.state = TaskState::Lost;
        st.detail = "the local run stopped before this task began";
      }
    } else {
      const std::string job_id = sub->value("job_id", "");
      const QueueState& q = queues[job_id];
      if (!q.error.empty()) {
        st.state = TaskState::Unknown;
        st.detail = q.error;
      } else if (auto it = q.state.find(st.job); it != q.state.end()) {
        st.state = it->second == "PENDING" ? TaskState::Queued : TaskState::Running;
        st.detail = it->second;
      } else {
        // Gone from the queue without an outcome: the wrapper never ran or was killed outright.
        st.state = TaskState::Lost;
        st.detail = "Slurm no longer lists " + st.job +
                    " and it left no outcome (cancelled before it began, killed, out of memory, or its setup failed)";
        const std::string sl = slurm_log(d, job_id, job.index);
        std::error_code ec;
        if (fs::exists(sl, ec)) st.log = sl;
      }
    }
    out.push_back(st);
  }
  return out;
}

std::string tail_lines(const std::string& file, int lines) {
  std::ifstream in(file);
  if (!in) return "";
  std::deque<std::string> keep;
  std::string line;
  while (std::getline(in, line)) {
    keep.push_back(line);
    if (static_cast<int>(keep.size()) > lines) keep.pop_front();
  }
  std::string out;
  for (const auto& l : keep) out += l + "\n";
  return out;
}

std::string submit_slurm(const SweepDir& d, const std::vector<int>& tasks, const SlurmOptions& o) {
  QUENCH_CHECK(!tasks.empty(), d.path(), ": no tasks to submit");
  QUENCH_CHECK(fs::path(o.cli).is_absolute(), "the quench-cli for the nodes must be an absolute path, got '", o.cli, "'");
  const SweepPlan plan = d.plan();
  // Options go to sbatch as arguments, not #SBATCH lines: no word splitting of paths with spaces.
  // '%' in a path is doubled: sbatch expands %A, %a, … in --output.
  std::string out_pattern;
  for (char c : d.path() + "/logs/slurm-") out_pattern += c == '%' ? std::string("%%") : std::string(1, c);
  std::vector<std::string> argv = {"sbatch", "--parsable", "--array=" + task_list_text(tasks),
                                   "--job-name=" + sanitize_job_name("quench-" + plan.name), "--output=" + out_pattern + "%A_%a.out"};
  auto add = [&](const std::string& option, const std::string& v) {
    if (!v.empty()) argv.push_back("--" + option + "=" + v);
  };
  add("partition", o.partition);
  add("gres", o.gres);
  add("time", o.time);
  add("cpus-per-task", o.cpus);
  add("mem", o.mem);
  for (const auto& x : o.extra) {
    QUENCH_CHECK(x.rfind("--", 0) == 0, "--sbatch-arg expects an sbatch option such as --account=proj, got '", x, "'");
    argv.push_back(x);
  }
  const std::string script = d.path() + "/sweep.sbatch";
  argv.push_back(script);
  std::ostringstream s;
  s << "#!/bin/bash\n"
    << "# Written by quench-cli sweep run --slurm: one array task per sweep job (docs/sweeps.md), submitted as\n#";
  for (const auto& a : argv) s << " " << shell_word(a);
  s << "\nset -e\n";
  for (const auto& line : plan.setup) s << line << "\n";
  s << "exec " << shell_quote(o.cli) << " sweep task " << shell_quote(d.path()) << " \"$SLURM_ARRAY_TASK_ID\"\n";
  write_file_atomic(script, s.str());
  fs::permissions(script, fs::perms::owner_exec | fs::perms::group_exec, fs::perm_options::add);

  const ProcessResult r = run_process(argv);
  std::string text = r.output;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  QUENCH_CHECK(r.ok(), "sbatch refused ", script, ": ", text);
  // --parsable prints "JOBID" or "JOBID;CLUSTER", after any warnings on earlier lines.
  const auto nl = text.find_last_of('\n');
  const std::string last_line = nl == std::string::npos ? text : text.substr(nl + 1);
  const std::string job_id = last_line.substr(0, last_line.find(';'));
  QUENCH_CHECK(!job_id.empty() && job_id.find_first_not_of("0123456789") == std::string::npos, "sbatch did not print a job id for ", script,
               ": ", text);
  d.add_submission({{"scheduler", "slurm"}, {"job_id", job_id}, {"tasks", tasks}, {"submitted_at", now_utc()}, {"host", host_name()}});
  return job_id;
}

std::string task_list_text(const std::vector<int>& tasks) {
  std::string out;
  for (size_t i = 0; i < tasks.size();) {
    size_t j = i;
    while (j + 1 < tasks.size() && tasks[j + 1] == tasks[j] + 1) ++j;
    out += (out.empty() ? "" : ",") + std::to_string(tasks[i]) + (j > i ? "-" + std::to_string(tasks[j]) : "");
    i = j + 1;
  }
  return out;
}

std::vector<int> parse_task_list(const std::string& s, int task_count) {
  std::set<int> out;
  std::stringstream ss(s);
  std::string item;
  auto number = [&](const std::string& t) {
    size_t pos = 0;
    int v = -1;
    try {
      v = std::stoi(t, &pos);
    } catch (const std::exception&) {
      pos = 0;
    }
    QUENCH_CHECK(pos == t.size() && !t.empty() && v >= 0, "--tasks: '", item, "' is not a task number or range such as 0-3");
    QUENCH_CHECK(v < task_count, "--tasks: there is no task ", v, " (the sweep has ", task_count, ", numbered from 0)");
    return v;
  };
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    const auto dash = item.find('-');
    if (dash == std::string::npos) {
      out.insert(number(item));
    } else {
      const int a = number(item.substr(0, dash)), b = number(item.substr(dash + 1));
      QUENCH_CHECK(a <= b, "--tasks: the range '", item, "' runs backwards");
      for (int k = a; k <= b; ++k) out.insert(k);
    }
  }
  QUENCH_CHECK(!out.empty(), "--tasks: no task numbers in '", s, "'");
  return {out.begin(), out.end()};
}

}  // namespace quench
