#pragma once
// The store's schema history. Version 1 is the first schema ever written; each later version is
// a forward migration from the one before. A database is brought up to kSchemaVersion when it is
// opened, one migration per transaction. Never edit a shipped migration: add a new one.
#include <string>
#include <vector>

#include "core/store/sqlite.h"

namespace quench {

// PRAGMA application_id of every Quench database ("QNCH"): tells our files from other SQLite files.
inline constexpr int kQuenchApplicationId = 0x514E4348;

struct Migration {
  int version;          // the user_version after it ran
  const char* summary;  // for people reading the history
  const char* sql;
  // Rebuilds tables that others reference: needs foreign keys off while it runs (SQLite's
  // documented 12-step table rebuild), then a foreign_key_check before commit.
  bool rebuilds_tables;
};

const std::vector<Migration>& migrations();
int schema_version_known();  // the newest version this program knows

// Brings db from its user_version up to `target` (default: the newest). Each step runs in its own
// IMMEDIATE transaction and re-reads the version inside it, so two processes opening an old file at
// once migrate it once. A version newer than this program knows is refused.
void migrate(sqlite::Db& db, int target = 0);

}  // namespace quench
