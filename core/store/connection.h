#pragma once
// Opening the database file safely: a file that is not ours is looked at read-only and refused
// before any connection that could write to it exists.
#include <string>

#include "core/store/sqlite.h"

namespace quench {

// What is at `path` before we write to it.
enum class FileState { Missing, Empty, Quench };

// Inspects `path` without modifying it and throws when it must not be written to: not a SQLite
// file, a damaged one, another program's database, or a Quench schema newer than this program.
// Missing and zero-length files are fine (they become new databases).
FileState inspect_database_file(const std::string& path);

// A read-write connection with the store's settings: busy timeout, foreign keys, WAL journal.
// A read-only connection to an existing database, also in a read-only folder (then immutable).
sqlite::Db open_reader(const std::string& path);

// Creates the file (not its directory) when missing. Call inspect_database_file first. uri: the
// connection understands file: URIs (ATTACH of another file read-only, as the import does).
sqlite::Db open_connection(const std::string& path, int busy_timeout_ms, bool uri = false);

// Now, UTC, ISO 8601 with milliseconds: "2026-11-22T19:47:34.123Z".
std::string now_utc();

}  // namespace quench
