// quench-cli experiments: browse, compare, edit and export the experiment database.
#include <filesystem>
#include <iostream>
#include <regex>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "app/cli/experiments_view.h"
#include "core/io/atomic_file.h"
#include "core/store/import.h"
#include "core/store/record_json.h"
#include "core/store/store.h"

namespace quench::cli {

namespace {
// --db FILE, as every subcommand takes it. The default is described, not computed:
// Store::default_path() throws without HOME and XDG_DATA_HOME, and --help must work regardless.
void add_db_option(Args& a, const std::string& what) {
  a.option("db", "FILE",
           what + " (default $XDG_DATA_HOME/quench/quench.db, else ~/.local/share/quench/quench.db). A missing file is "
                  "created; a file that is not a Quench database is refused and left unchanged");
}

// The experiment id every subcommand but list and import starts with.
void add_id_positional(Args& a, const std::string& help) { a.positional("ID", help + " (experiments list shows the ids)"); }

int64_t parse_id(const std::string& s) {
  try {
    size_t pos = 0;
    const long long v = std::stoll(s, &pos);
    if (pos == s.size() && v > 0) return v;
  } catch (const std::exception&) {
  }
  throw UsageError("experiment id must be a positive number, got '" + s + "'");
}

Store open_store(const Args& a) { return Store::open(a.get("db").value_or(Store::default_path())); }

// Reading commands open the database for writing when they can (so runs whose process died are
// shown as interrupted), and read-only when they cannot: a read-only folder, a full disk.
Store open_store_to_read(const Args& a) {
  const std::string path = a.get("db").value_or(Store::default_path());
  try {
    return Store::open(path);
  } catch (const BusyError&) {
    throw;
  } catch (const Error& writable) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw;
    try {
      return Store::open_read_only(path);
    } catch (const Error&) {
      throw writable;
    }
  }
}

// ISO 8601 as the store writes it: a date, optionally with a time ("2026-12-02", "2026-12-02T16:00").
std::string parse_time_bound(const Args& a, const char* option) {
  const std::string v = a.get(option, "");
  if (v.empty()) return v;
  static const std::regex iso(R"(\d{4}-\d{2}-\d{2}([T ]\d{2}(:\d{2}(:\d{2}(\.\d+)?)?)?Z?)?)");
  if (!std::regex_match(v, iso))
    throw UsageError(std::string("--") + option + " expects a date such as 2026-12-02 or 2026-12-02T16:00, got '" + v + "'");
  return v;
}

ListFilter::Order parse_order(const std::string& s) {
  using O = ListFilter::Order;
  const std::pair<const char*, O> names[] = {{"newest", O::Newest}, {"oldest", O::Oldest}, {"name", O::Name},
                                             {"kind", O::Kind},     {"status", O::Status}, {"model", O::Model}};
  for (const auto& [n, o] : names)
    if (s == n) return o;
  throw UsageError("--sort expects newest, oldest, name, kind, status or model, got '" + s + "'");
}

int list(const Argv& argv) {
  Args a("experiments list",
         "One row per stored run: id, name, kind, status, model, start time, duration and tags, newest first unless\n"
         "--sort says otherwise. The filters combine: a run is listed when it matches every one given.");
  a.option("model", "TEXT", "runs whose model path or architecture contains TEXT");
  std::string kinds;
  for (RunKind k : kRunKinds)
    kinds += std::string(kinds.empty() ? "" : k == kRunKinds[std::size(kRunKinds) - 1] ? " or " : ", ") + run_kind_name(k);
  a.option("kind", "KIND", "runs of this kind: " + kinds);
  a.option("status", "STATUS", "runs in this state: running, completed, failed, cancelled or interrupted");
  a.option("tag", "TAG", "runs tagged TAG");
  a.option("since", "DATE", "runs started at or after DATE, in ISO 8601 as stored (UTC): 2026-11-22 or 2026-11-22T16:00");
  a.option("until", "DATE", "runs started before DATE (same form as --since)");
  a.option("search", "TEXT", "runs whose name or notes contain TEXT, ignoring case");
  a.option("sort", "newest|oldest|name|kind|status|model", "the order of the rows", "newest");
  a.option("limit", "N", "at most N runs (0: all)", "0");
  a.flag("json", "a JSON array of the runs, each as stored with \"duration_s\" added (null while running)");
  add_db_option(a, "the experiment database");
  if (!a.parse(argv)) return 0;
  ListFilter f;
  f.model = a.get("model", "");
  if (const auto kind = a.get("kind")) f.kind = parse_run_kind(*kind);
  if (auto s = a.get("status")) f.status = parse_status(*s);
  f.tag = a.get("tag", "");
  f.since = parse_time_bound(a, "since");
  f.until = parse_time_bound(a, "until");
  f.text = a.get("search", "");
  f.order = parse_order(*a.get("sort"));
  f.limit = a.get_int("limit");
  if (f.limit < 0) throw UsageError("--limit must not be negative");
  Store store = open_store_to_read(a);
  const auto runs = store.list(f);
  if (a.flag("json")) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& e : runs) {
      nlohmann::json x = e;
      const auto secs = run_seconds(e);
      x["duration_s"] = secs ? nlohmann::json(*secs) : nlohmann::json(nullptr);
      j.push_back(x);
    }
    std::cout << j.dump() << "\n";
  } else if (runs.empty()) {
    std::cout << "no experiments in " << store.path() << "\n";
  } else {
    std::cout << view_list(runs);
  }
  return 0;
}

int show(const Argv& argv) {
  Args a("experiments show",
         "One run in full: kind, status, model, datasets, times, device, versions, tags and notes, then its metrics,\n"
         "per-layer results, statistics and artifacts.");
  add_id_positional(a, "the run");
  a.flag("json", "the run as one JSON object, every row included");
  add_db_option(a, "the experiment database");
  if (!a.parse(argv)) return 0;
  const int64_t id = parse_id(a.positional()[0]);
  Store store = open_store_to_read(a);
  const auto d = store.get(id);
  if (a.flag("json"))
    std::cout << nlohmann::json(d).dump() << "\n";
  else
    std::cout << view_show(d);
  return 0;
}

int compare(const Argv& argv) {
  Args a("experiments compare",
         "Two or more runs side by side: each metric with its delta against the first run, and the layers whose\n"
         "settings or errors differ between them.");
  add_id_positional(a, "the run the others are compared against");
  // Not required for CLI11: a lone id gets the message below, which says what is missing. CLI11
  // gives a positional more than its minimum of values only with allow_extra_args.
  a.positional("ID...", "the runs compared with it (at least one)", false)->expected(1, -1)->allow_extra_args();
  a.flag("json", "the comparison as one JSON object: metrics with their values and deltas, differing layers");
  add_db_option(a, "the experiment database");
  if (!a.parse(argv)) return 0;
  if (!a.given("ID...")) throw UsageError("compare needs at least two experiment ids");
  std::vector<int64_t> ids = {parse_id(a.positional()[0])};
  for (const auto& p : a.get_all("ID...")) ids.push_back(parse_id(p));
  Store store = open_store_to_read(a);
  const auto c = store.compare(ids);
  if (a.flag("json"))
    std::cout << nlohmann::json(c).dump() << "\n";
  else
    std::cout << view_compare(c);
  return 0;
}

int remove(const Argv& argv) {
  Args a("experiments delete",
         "Removes a run and all its rows: metrics, per-layer results, statistics, tags, artifact records. Its model,\n"
         "datasets and files on disk are left alone. A run still being recorded is refused.");
  add_id_positional(a, "the run");
  add_db_option(a, "the experiment database");
  if (!a.parse(argv)) return 0;
  const int64_t id = parse_id(a.positional()[0]);
  Store store = open_store(a);
  const std::string name = store.get(id).summary.name;
  store.remove(id);
  std::cout << "deleted experiment " << id << " (" << name << ")\n";
  return 0;
}

int rename(const Argv& argv) {
  Args a("experiments rename", "Gives a run a new name.");
  add_id_positional(a, "the run");
  a.positional("NAME", "its new name");
  add_db_option(a, "the experiment database");
  if (!a.parse(argv)) return 0;
  const int64_t id = parse_id(a.positional()[0]);
  Store store = open_store(a);
  store.rename(id, a.positional()[1]);
  std::cout << "renamed experiment " << id << " to " << a.positional()[1] << "\n";
  return 0;
}

int notes(const Argv& argv) {
  Args a("experiments notes", "Replaces a run's notes.");
  add_id_positional(a, "the run");
  a.positional("TEXT", "the new notes (\"\" clears them)");
  add_db_option(a, "the experiment database");
  if (!a.parse(argv)) return 0;
  Store store = open_store(a);
  store.set_notes(parse_id(a.positional()[0]), a.positional()[1]);
  return 0;
}

int tag(const Argv& argv) {
  Args a("experiments tag", "Replaces a run's tags.");
  add_id_positional(a, "the run");
  a.positional("TAG...", "its new tags (none: removes them all)", false)->expected(1, -1)->allow_extra_args();
  add_db_option(a, "the experiment database");
  if (!a.parse(argv)) return 0;
  const int64_t id = parse_id(a.positional()[0]);
  Store store = open_store(a);
  store.set_tags(id, a.get_all("TAG..."));
  return 0;
}

int export_run(const Argv& argv) {
  Args a("experiments export", "Writes one run out as JSON or CSV, for other tools.");
  add_id_positional(a, "the run");
  a.option("format", "json|csv",
           "json: everything, arrays included; csv: one row per value, with the columns experiment_id, experiment, "
           "section, item, dataset, split, field, value")
      ->required();
  a.option("out", "FILE", "write it to FILE (replaced whole, never left half-written) instead of standard output");
  add_db_option(a, "the experiment database");
  if (!a.parse(argv)) return 0;
  const int64_t id = parse_id(a.positional()[0]);
  const std::string format = a.require("format");
  if (format != "json" && format != "csv") throw UsageError("--format expects json or csv, got '" + format + "'");
  Store store = open_store_to_read(a);
  const std::string text = format == "json" ? store.export_json(id).dump(2) + "\n" : store.export_csv(id);
  if (auto out = a.get("out"))
    write_file_atomic(*out, text);
  else
    std::cout << text;
  return 0;
}

int import_db(const Argv& argv) {
  Args a("experiments import",
         "Copies every finished run of another Quench database (a sweep task's, a colleague's) into this one, with\n"
         "its model, data, statistics and artifacts. Runs already imported are recognised and not added again; the\n"
         "copies get new ids. Runs still going, or whose process died mid-run, are skipped.");
  a.positional("DB", "the database the runs are copied from");
  a.flag("json", "{\"imported\": [{\"source_id\", \"id\"}], \"present\": [{\"source_id\", \"id\"}], \"skipped_running\": [ids]}");
  add_db_option(a, "the database the runs are copied into");
  if (!a.parse(argv)) return 0;
  const std::string dest = a.get("db").value_or(Store::default_path());
  const ImportReport r = import_experiments(dest, a.positional()[0]);
  if (a.flag("json")) {
    nlohmann::json j = {{"imported", nlohmann::json::array()}, {"present", nlohmann::json::array()}, {"skipped_running", r.skipped_running}};
    for (const auto& [from, to] : r.imported) j["imported"].push_back({{"source_id", from}, {"id", to}});
    for (const auto& [from, to] : r.present) j["present"].push_back({{"source_id", from}, {"id", to}});
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::cout << "imported " << r.imported.size() << " experiment" << (r.imported.size() == 1 ? "" : "s") << " from " << a.positional()[0]
            << " into " << dest;
  if (!r.imported.empty()) {
    std::cout << " (ids";
    for (const auto& [from, to] : r.imported) std::cout << " " << from << "→" << to;
    std::cout << ")";
  }
  std::cout << "\n";
  if (!r.present.empty()) std::cout << r.present.size() << " already present from an earlier import\n";
  if (!r.skipped_running.empty())
    std::cout << r.skipped_running.size() << " skipped: still running, or their process died mid-run (ids in the source:"
              << [&] {
                   std::string s;
                   for (auto id : r.skipped_running) s += " " + std::to_string(id);
                   return s;
                 }()
              << ")\n";
  return 0;
}

struct Sub {
  const char* name;
  const char* summary;
  int (*run)(const Argv&);
};
const Sub kSubs[] = {
    {"list", "one row per run, newest first; filtered by model, kind, status, tag, dates or text", list},
    {"show", "one run in full: metrics, per-layer results, statistics, artifacts", show},
    {"compare", "metrics side by side with deltas against the first run, and the layers that differ", compare},
    {"delete", "removes a run and all its rows (not its model, datasets or files)", remove},
    {"rename", "gives a run a new name", rename},
    {"notes", "replaces a run's notes", notes},
    {"tag", "replaces a run's tags", tag},
    {"export", "one run as JSON or CSV", export_run},
    {"import", "copies the finished runs of another Quench database into this one", import_db},
};

void print_help() {
  std::cout << "usage: quench-cli experiments SUBCOMMAND [ARGS] [OPTIONS]\n\n"
               "Browses, compares, edits and exports the runs stored in the experiment database.\n\nsubcommands:\n";
  for (const auto& s : kSubs) std::cout << "  " << s.name << std::string(10 - std::string(s.name).size(), ' ') << s.summary << "\n";
  std::cout << "\nEach takes --db FILE, the database (default $XDG_DATA_HOME/quench/quench.db, else\n"
               "~/.local/share/quench/quench.db). quench-cli experiments SUBCOMMAND --help describes its arguments\n"
               "and options.\n";
}
}  // namespace

int cmd_experiments(const Argv& argv) {
  if (argv.empty()) throw UsageError("missing subcommand (list, show, compare, delete, rename, notes, tag, export, import)");
  if (argv[0] == "--help" || argv[0] == "-h" || argv[0] == "help") {
    print_help();
    return 0;
  }
  for (const auto& s : kSubs)
    if (argv[0] == s.name) return s.run(Argv(argv.begin() + 1, argv.end()));
  throw UsageError("unknown subcommand '" + argv[0] + "' (list, show, compare, delete, rename, notes, tag, export, import)");
}

}  // namespace quench::cli
