#pragma once
// RAII around the SQLite C API, for the store module only (no SQL outside core/store/).
// Every error names the database file and what was being done; SQLITE_BUSY becomes
// BusyError so callers can tell "another process holds the lock" from real failures.
#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/util/error.h"

namespace quench {

// The database stayed locked by another connection for longer than the busy timeout.
class BusyError : public Error {
 public:
  explicit BusyError(const std::string& what) : Error(what) {}
};

namespace sqlite {

class Stmt;

// One connection. Closed (with sqlite3_close_v2, which defers until statements finish) on destruction.
class Db {
 public:
  // flags: SQLITE_OPEN_* (SQLITE_OPEN_NOMUTEX is added: a connection is used by one thread at a time).
  // uri: when given, opened instead of path (SQLITE_OPEN_URI), while messages keep naming path.
  Db(const std::string& path, int flags, const std::string& uri = "");
  // "file:PATH?QUERY", the path percent-escaped as SQLite's URI rules ask.
  static std::string file_uri(const std::string& path, const std::string& query);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  Db(Db&& o) noexcept;
  Db& operator=(Db&& o) noexcept;

  sqlite3* get() const { return db_; }
  const std::string& path() const { return path_; }
  // Runs one or more statements without results (DDL, PRAGMAs).
  void exec(const std::string& sql, const char* what = nullptr);
  Stmt prepare(const std::string& sql) const;
  int64_t last_insert_id() const { return sqlite3_last_insert_rowid(db_); }
  int64_t changes() const { return sqlite3_changes(db_); }
  // A one-row, one-column query (PRAGMAs, counts).
  int64_t query_int(const std::string& sql) const;
  std::string query_text(const std::string& sql) const;
  // Throws Error (or BusyError) naming the file, `what` and SQLite's message for rc.
  [[noreturn]] void raise(int rc, const std::string& what) const;

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

// A prepared statement. bind() indices start at 1, column indices at 0 (as in SQLite).
class Stmt {
 public:
  Stmt(const Db& db, const std::string& sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt(Stmt&& o) noexcept;

  Stmt& bind(int i, int64_t v);
  Stmt& bind(int i, int v) { return bind(i, static_cast<int64_t>(v)); }
  Stmt& bind(int i, double v);  // NaN is stored as NULL (SQLite has no NaN)
  Stmt& bind(int i, const std::string& v);
  Stmt& bind(int i, const char* v) { return bind(i, std::string(v)); }
  Stmt& bind(int i, const std::vector<uint8_t>& blob);
  Stmt& bind_null(int i);
  template <typename T>
  Stmt& bind(int i, const std::optional<T>& v) {
    return v ? bind(i, *v) : bind_null(i);
  }

  // One step: true when a row is available, false when done.
  bool step();
  // Steps to completion (INSERT/UPDATE/DELETE).
  void run();
  void reset();

  bool is_null(int c) const { return sqlite3_column_type(s_, c) == SQLITE_NULL; }
  int64_t col_int(int c) const { return sqlite3_column_int64(s_, c); }
  double col_double(int c) const;  // NULL reads back as NaN
  std::string col_text(int c) const;
  std::vector<uint8_t> col_blob(int c) const;
  std::optional<int64_t> col_opt_int(int c) const;
  std::optional<double> col_opt_double(int c) const;
  std::optional<std::string> col_opt_text(int c) const;

 private:
  const Db* db_;
  sqlite3_stmt* s_ = nullptr;
  std::string sql_;
};

// BEGIN IMMEDIATE … COMMIT; rolled back when destroyed without commit(). IMMEDIATE takes the
// write lock up front, so waiting for another writer happens here (under the busy timeout)
// instead of failing half-way through with an unretryable SQLITE_BUSY_SNAPSHOT.
class Transaction {
 public:
  explicit Transaction(Db& db, bool immediate = true);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Db& db_;
  bool open_ = false;
};

}  // namespace sqlite
}  // namespace quench
