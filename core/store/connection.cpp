#include "core/store/connection.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "core/store/schema.h"

namespace fs = std::filesystem;

namespace quench {

namespace {
constexpr char kSqliteMagic[16] = {'S', 'Q', 'L', 'i', 't', 'e', ' ', 'f', 'o', 'r', 'm', 'a', 't', ' ', '3', '\0'};

[[noreturn]] void not_ours(const std::string& path, const std::string& why) {
  fail(path, ": not a Quench database (", why, "); it was left unchanged");
}
}  // namespace

FileState inspect_database_file(const std::string& path) {
  std::error_code ec;
  const auto st = fs::status(path, ec);
  if (!fs::exists(st)) return FileState::Missing;
  QUENCH_CHECK(fs::is_regular_file(st), path, ": not a Quench database (not a regular file)");
  const auto size = fs::file_size(path, ec);
  QUENCH_CHECK(!ec, path, ": cannot read (", ec.message(), ")");
  if (size == 0) return FileState::Empty;

  // Sniff the SQLite header ourselves: SQLite would treat some non-database files as empty
  // databases and happily write into them.
  char head[16] = {};
  {
    std::ifstream in(path, std::ios::binary);
    QUENCH_CHECK(in, path, ": cannot open for reading (", std::strerror(errno), ")");
    in.read(head, sizeof head);
    if (in.gcount() != sizeof head || std::memcmp(head, kSqliteMagic, sizeof head) != 0)
      not_ours(path, "file is not a database");
  }

  int64_t app_id = 0, version = 0;
  std::string tables;
  try {
    sqlite::Db ro = open_reader(path);
    sqlite3_busy_timeout(ro.get(), 5000);
    app_id = ro.query_int("PRAGMA application_id");
    version = ro.query_int("PRAGMA user_version");
    auto s = ro.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name");
    while (s.step()) tables += (tables.empty() ? "" : ", ") + s.col_text(0);
  } catch (const BusyError&) {
    throw;
  } catch (const Error& e) {
    // Db names the file already; keep only SQLite's reason.
    std::string why = e.what();
    if (why.find("not a Quench database") != std::string::npos) not_ours(path, "file is not a database");
    if (why.compare(0, path.size() + 2, path + ": ") == 0) why = why.substr(path.size() + 2);
    not_ours(path, "SQLite cannot read it: " + why);
  }
  if (app_id == kQuenchApplicationId) {
    QUENCH_CHECK(version <= schema_version_known(), path, ": written by a newer Quench (schema version ", version,
                 "; this program knows up to ", schema_version_known(), "). Not opened, nothing was changed");
    return FileState::Quench;
  }
  if (app_id != 0) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%08llx", static_cast<unsigned long long>(static_cast<uint32_t>(app_id)));
    not_ours(path, std::string("a SQLite database of another application, application_id ") + hex);
  }
  if (!tables.empty()) not_ours(path, "a SQLite database with other tables: " + tables);
  return FileState::Empty;
}

sqlite::Db open_reader(const std::string& path) {
  // A WAL database is read through its -shm file, which SQLite creates beside it; in a read-only
  // folder that fails, and the file can only be read as immutable (no other writer assumed).
  try {
    sqlite::Db db(path, SQLITE_OPEN_READONLY, sqlite::Db::file_uri(path, "mode=ro"));
    (void)db.query_int("PRAGMA user_version");  // WAL files are opened on the first read
    return db;
  } catch (const BusyError&) {
    throw;
  } catch (const Error&) {
    sqlite::Db db(path, SQLITE_OPEN_READONLY, sqlite::Db::file_uri(path, "immutable=1"));
    (void)db.query_int("PRAGMA user_version");
    return db;
  }
}

sqlite::Db open_connection(const std::string& path, int busy_timeout_ms, bool uri) {
  sqlite::Db db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, uri ? sqlite::Db::file_uri(path, "mode=rwc") : std::string());
  sqlite3_busy_timeout(db.get(), busy_timeout_ms);
  db.exec("PRAGMA foreign_keys = ON");
  // WAL: readers never block the writer and a killed writer leaves only an uncommitted WAL tail,
  // which the next connection discards. The mode is stored in the file, so this is a no-op after
  // the first open.
  const std::string mode = db.query_text("PRAGMA journal_mode = WAL");
  QUENCH_CHECK(mode == "wal", path, ": cannot use write-ahead logging (journal mode stays '", mode,
               "'); is the file on a network file system?");
  // NORMAL in WAL mode: a killed process loses nothing it committed; a power cut can lose the
  // last commits but never corrupts the file.
  db.exec("PRAGMA synchronous = NORMAL");
  return db;
}

std::string now_utc() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  const std::time_t t = system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

}  // namespace quench
