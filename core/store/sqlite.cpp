#include "core/store/sqlite.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <utility>

namespace quench::sqlite {

std::string Db::file_uri(const std::string& path, const std::string& query) {
  std::string out = "file:";
  for (unsigned char c : path) {
    if (c == '%' || c == '?' || c == '#' || c <= ' ' || c >= 0x7f) {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "?" + query;
}

Db::Db(const std::string& path, int flags, const std::string& uri) : path_(path) {
  const int rc = sqlite3_open_v2(uri.empty() ? path.c_str() : uri.c_str(), &db_,
                                 flags | SQLITE_OPEN_NOMUTEX | (uri.empty() ? 0 : SQLITE_OPEN_URI), nullptr);
  if (rc != SQLITE_OK) {
    const std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    if (rc == SQLITE_BUSY) throw BusyError(path + ": database is busy (" + msg + ")");
    fail(path, ": cannot open database (", msg, ")");
  }
  sqlite3_extended_result_codes(db_, 1);
}

Db::~Db() {
  if (db_) sqlite3_close_v2(db_);
}

Db::Db(Db&& o) noexcept : db_(std::exchange(o.db_, nullptr)), path_(std::move(o.path_)) {}

Db& Db::operator=(Db&& o) noexcept {
  if (this != &o) {
    if (db_) sqlite3_close_v2(db_);
    db_ = std::exchange(o.db_, nullptr);
    path_ = std::move(o.path_);
  }
  return *this;
}

void Db::raise(int rc, const std::string& what) const {
  const std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  const int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
    throw BusyError(path_ + ": database is busy (another process held its write lock past the busy timeout); try again");
  if (primary == SQLITE_NOTADB) fail(path_, ": not a Quench database (", msg, ")");
  if (primary == SQLITE_CORRUPT) fail(path_, ": the database is damaged (", msg, ") while ", what);
  fail(path_, ": ", what, ": ", msg);
}

void Db::exec(const std::string& sql, const char* what) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (err) sqlite3_free(err);
  if (rc != SQLITE_OK) raise(rc, what ? what : sql);
}

Stmt Db::prepare(const std::string& sql) const { return Stmt(*this, sql); }

int64_t Db::query_int(const std::string& sql) const {
  Stmt s(*this, sql);
  QUENCH_CHECK(s.step(), path_, ": no result from ", sql);
  return s.col_int(0);
}

std::string Db::query_text(const std::string& sql) const {
  Stmt s(*this, sql);
  QUENCH_CHECK(s.step(), path_, ": no result from ", sql);
  return s.col_text(0);
}

Stmt::Stmt(const Db& db, const std::string& sql) : db_(&db), sql_(sql) {
  const int rc = sqlite3_prepare_v2(db.get(), sql.c_str(), static_cast<int>(sql.size()), &s_, nullptr);
  if (rc != SQLITE_OK) db.raise(rc, "preparing " + sql);
}

Stmt::~Stmt() {
  if (s_) sqlite3_finalize(s_);
}

Stmt::Stmt(Stmt&& o) noexcept : db_(o.db_), s_(std::exchange(o.s_, nullptr)), sql_(std::move(o.sql_)) {}

namespace {
void check_bind(const Db& db, int rc, const std::string& sql) {
  if (rc != SQLITE_OK) db.raise(rc, "binding a parameter of " + sql);
}
}  // namespace

Stmt& Stmt::bind(int i, int64_t v) {
  check_bind(*db_, sqlite3_bind_int64(s_, i, v), sql_);
  return *this;
}

Stmt& Stmt::bind(int i, double v) {
  if (std::isnan(v)) return bind_null(i);
  check_bind(*db_, sqlite3_bind_double(s_, i, v), sql_);
  return *this;
}

Stmt& Stmt::bind(int i, const std::string& v) {
  check_bind(*db_, sqlite3_bind_text64(s_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8), sql_);
  return *this;
}

Stmt& Stmt::bind(int i, const std::vector<uint8_t>& blob) {
  // A zero-length blob is still a blob, not NULL: SQLite needs a non-null pointer for that.
  static const uint8_t empty = 0;
  check_bind(*db_, sqlite3_bind_blob64(s_, i, blob.empty() ? &empty : blob.data(), blob.size(), SQLITE_TRANSIENT), sql_);
  return *this;
}

Stmt& Stmt::bind_null(int i) {
  check_bind(*db_, sqlite3_bind_null(s_, i), sql_);
  return *this;
}

bool Stmt::step() {
  const int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  db_->raise(rc, sql_);
}

void Stmt::run() {
  while (step()) {
  }
}

void Stmt::reset() {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
}

double Stmt::col_double(int c) const {
  return is_null(c) ? std::numeric_limits<double>::quiet_NaN() : sqlite3_column_double(s_, c);
}

std::string Stmt::col_text(int c) const {
  const auto* p = sqlite3_column_text(s_, c);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(s_, c))) : std::string();
}

std::vector<uint8_t> Stmt::col_blob(int c) const {
  const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(s_, c));
  const int n = sqlite3_column_bytes(s_, c);
  return p ? std::vector<uint8_t>(p, p + n) : std::vector<uint8_t>();
}

std::optional<int64_t> Stmt::col_opt_int(int c) const {
  if (is_null(c)) return std::nullopt;
  return col_int(c);
}

std::optional<double> Stmt::col_opt_double(int c) const {
  if (is_null(c)) return std::nullopt;
  return sqlite3_column_double(s_, c);
}

std::optional<std::string> Stmt::col_opt_text(int c) const {
  if (is_null(c)) return std::nullopt;
  return col_text(c);
}

Transaction::Transaction(Db& db, bool immediate) : db_(db) {
  db_.exec(immediate ? "BEGIN IMMEDIATE" : "BEGIN", "starting a transaction");
  open_ = true;
}

Transaction::~Transaction() {
  // Never throws: a failed rollback leaves SQLite to roll back when the connection closes.
  if (open_) sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  db_.exec("COMMIT", "committing");
  open_ = false;
}

}  // namespace quench::sqlite
