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
const char* kUsage =
    "usage: quench-cli experiments SUBCOMMAND [ARGS] [--db FILE]\n"
    "Browses, compares, edits and exports stored experiment runs.\n"
    "\n"
    "  list [--model TEXT] [--kind KIND] [--status STATUS] [--tag TAG] [--since DATE] [--until DATE]\n"
    "       [--search TEXT] [--sort newest|oldest|name|kind|status|model] [--limit N] [--json]\n"
    "                         one row per run, newest first; --model matches the model's path or\n"
    "                         architecture, --search the name or notes; DATE is ISO (2026-11-22)\n"
    "  show ID [--json]       one run in full: metrics, per-layer results, statistics, artifacts\n"
    "  compare ID ID [ID...] [--json]\n"
    "                         metrics side by side with deltas against the first run, and the\n"
    "                         layers whose settings or errors differ\n"
    "  delete ID              removes the run and all its rows (not its model, datasets or files)\n"
    "  rename ID NAME\n"
    "  notes ID TEXT          replaces the run's notes\n"
    "  tag ID [TAG...]        replaces the run's tags (none: removes them)\n"
    "  export ID --format json|csv [--out FILE]\n"
    "                         json: everything, arrays included; csv: one row per value\n"
    "                         (experiment_id, experiment, section, item, dataset, split, field, value)\n"
    "  import DB [--json]     copies every finished run of another Quench database (a sweep task's, a\n"
    "                         colleague's) into this one, with its model, data, statistics and artifacts;\n"
    "                         runs already imported are recognised and not added again; ids are renumbered\n"
    "\n"
    "  --db FILE   the database (default $XDG_DATA_HOME/quench/quench.db, else\n"
    "              ~/.local/share/quench/quench.db). A missing file is created; a file that is not a\n"
    "              Quench database is refused and left unchanged.\n"
    "  --json      machine-readable output (list: array of runs; show: the run; compare: the comparison)\n";

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
  Args a(argv, {"json"}, {"db", "model", "kind", "status", "tag", "since", "until", "search", "sort", "limit"});
  a.expect_positional({});
  ListFilter f;
  f.model = a.get("model", "");
  f.kind = a.get("kind", "");
  if (auto s = a.get("status")) f.status = parse_status(*s);
  f.tag = a.get("tag", "");
  f.since = parse_time_bound(a, "since");
  f.until = parse_time_bound(a, "until");
  f.text = a.get("search", "");
  f.order = parse_order(a.get("sort", "newest"));
  f.limit = a.get_int("limit", 0);
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
  Args a(argv, {"json"}, {"db"});
  a.expect_positional({"ID"});
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
  Args a(argv, {"json"}, {"db"});
  if (a.positional().size() < 2) throw UsageError("compare needs at least two experiment ids");
  std::vector<int64_t> ids;
  for (const auto& p : a.positional()) ids.push_back(parse_id(p));
  Store store = open_store_to_read(a);
  const auto c = store.compare(ids);
  if (a.flag("json"))
    std::cout << nlohmann::json(c).dump() << "\n";
  else
    std::cout << view_compare(c);
  return 0;
}

int remove(const Argv& argv) {
  Args a(argv, {}, {"db"});
  a.expect_positional({"ID"});
  const int64_t id = parse_id(a.positional()[0]);
  Store store = open_store(a);
  const std::string name = store.get(id).summary.name;
  store.remove(id);
  std::cout << "deleted experiment " << id << " (" << name << ")\n";
  return 0;
}

int rename(const Argv& argv) {
  Args a(argv, {}, {"db"});
  a.expect_positional({"ID", "NAME"});
  const int64_t id = parse_id(a.positional()[0]);
  Store store = open_store(a);
  store.rename(id, a.positional()[1]);
  std::cout << "renamed experiment " << id << " to " << a.positional()[1] << "\n";
  return 0;
}

int notes(const Argv& argv) {
  Args a(argv, {}, {"db"});
  a.expect_positional({"ID", "TEXT"});
  Store store = open_store(a);
  store.set_notes(parse_id(a.positional()[0]), a.positional()[1]);
  return 0;
}

int tag(const Argv& argv) {
  Args a(argv, {}, {"db"});
  if (a.positional().empty()) throw UsageError("missing argument ID");
  const int64_t id = parse_id(a.positional()[0]);
  Store store = open_store(a);
  store.set_tags(id, std::vector<std::string>(a.positional().begin() + 1, a.positional().end()));
  return 0;
}

int export_run(const Argv& argv) {
  Args a(argv, {}, {"db", "format", "out"});
  a.expect_positional({"ID"});
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
  Args a(argv, {"json"}, {"db"});
  a.expect_positional({"DB"});
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
  int (*run)(const Argv&);
};
const Sub kSubs[] = {{"list", list},     {"show", show},   {"compare", compare}, {"delete", remove},
                     {"rename", rename}, {"notes", notes}, {"tag", tag},         {"export", export_run},
                     {"import", import_db}};
}  // namespace

int cmd_experiments(const Argv& argv) {
  if (argv.empty()) throw UsageError("missing subcommand (list, show, compare, delete, rename, notes, tag, export, import)");
  if (argv[0] == "--help" || argv[0] == "-h" || argv[0] == "help") {
    std::cout << kUsage;
    return 0;
  }
  for (const auto& s : kSubs) {
    if (argv[0] != s.name) continue;
    const Argv rest(argv.begin() + 1, argv.end());
    for (const auto& x : rest)
      if (x == "--help" || x == "-h") {
        std::cout << kUsage;
        return 0;
      }
    return s.run(rest);
  }
  throw UsageError("unknown subcommand '" + argv[0] + "' (list, show, compare, delete, rename, notes, tag, export, import)");
}

}  // namespace quench::cli
