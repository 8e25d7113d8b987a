// Opening the experiment database: creation, and refusal (file untouched) of anything that is
// not a Quench database of a schema this program knows.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "core/store/schema.h"
#include "core/store/store.h"
#include "test_util.h"

using namespace quench;
namespace fs = std::filesystem;

namespace {
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// Opening must fail with a message naming the file and containing `fragment`, leaving the bytes as they were.
void expect_refused(const std::string& path, const std::string& fragment) {
  const std::string before = test::read_file(path);
  try {
    Store::open(path);
    ADD_FAILURE() << path << " was opened";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
  }
  EXPECT_EQ(test::read_file(path), before);
}
}  // namespace

TEST(StoreOpen, CreatesMissingFileAndDirectories) {
  test::TempDir dir;
  const std::string path = dir.file("a/b/quench.db");
  Store s = Store::open(path);
  EXPECT_TRUE(fs::exists(path));
  EXPECT_EQ(s.schema_version(), schema_version_known());
  EXPECT_EQ(s.integrity_check(), "ok");
  EXPECT_TRUE(s.list().empty());
}

TEST(StoreOpen, ZeroLengthFileBecomesADatabase) {
  test::TempDir dir;
  write_bytes(dir.file("q.db"), "");
  EXPECT_EQ(Store::open(dir.file("q.db")).schema_version(), schema_version_known());
}

TEST(StoreOpen, ReopeningKeepsData) {
  test::TempDir dir;
  {
    Store s = Store::open(dir.file("q.db"));
    s.begin({"first", RunKind::Evaluate}).finish();
  }
  Store s = Store::open(dir.file("q.db"));
  ASSERT_EQ(s.list().size(), 1u);
  EXPECT_EQ(s.list()[0].name, "first");
}

TEST(StoreOpen, RefusesFilesThatAreNotDatabases) {
  test::TempDir dir;
  write_bytes(dir.file("notes.txt"), "these are my notes, not a database, and they must survive\n");
  expect_refused(dir.file("notes.txt"), "not a Quench database (file is not a database)");
  write_bytes(dir.file("short"), "SQL");
  expect_refused(dir.file("short"), "not a Quench database (file is not a database)");
  // The right magic followed by garbage: SQLite itself has to reject it.
  std::string fake("SQLite format 3\0", 16);
  for (int i = 0; i < 8192; ++i) fake += static_cast<char>((i * 131 + 7) & 0xff);
  write_bytes(dir.file("corrupt.db"), fake);
  expect_refused(dir.file("corrupt.db"), "not a Quench database");
  fs::create_directory(dir.file("adir"));
  EXPECT_THROW(Store::open(dir.file("adir")), Error);
}

TEST(StoreOpen, RefusesOtherApplicationsDatabases) {
  test::TempDir dir;
  {
    sqlite::Db db(dir.file("other.db"), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    db.exec("CREATE TABLE people (name TEXT); INSERT INTO people VALUES ('ada')");
  }
  expect_refused(dir.file("other.db"), "other tables: people");
  {
    sqlite::Db db(dir.file("app.db"), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    db.exec("PRAGMA application_id = 1234");
  }
  expect_refused(dir.file("app.db"), "another application");
}

TEST(StoreOpen, RefusesANewerSchemaWithoutTouchingIt) {
  test::TempDir dir;
  const std::string path = dir.file("q.db");
  {
    Store s = Store::open(path);
    s.begin({"kept", RunKind::Evaluate}).finish();
  }
  {
    sqlite::Db db(path, SQLITE_OPEN_READWRITE);
    db.exec("PRAGMA user_version = " + std::to_string(schema_version_known() + 1));
  }
  expect_refused(path, "written by a newer Quench (schema version " + std::to_string(schema_version_known() + 1));
}

TEST(StoreOpen, DefaultPathFollowsXdg) {
  // Saves and restores the variables it changes, so later tests see the environment they expect.
  struct Env {
    std::string name;
    std::optional<std::string> old;
    explicit Env(std::string n) : name(std::move(n)) {
      if (const char* v = std::getenv(name.c_str())) old = v;
    }
    ~Env() { old ? ::setenv(name.c_str(), old->c_str(), 1) : ::unsetenv(name.c_str()); }
  } xdg("XDG_DATA_HOME"), home("HOME");
  ::setenv("HOME", "/home/someone", 1);
  ::setenv("XDG_DATA_HOME", "/data/me", 1);
  EXPECT_EQ(Store::default_path(), "/data/me/quench/quench.db");
  ::setenv("XDG_DATA_HOME", "relative/is/ignored", 1);
  EXPECT_EQ(Store::default_path(), "/home/someone/.local/share/quench/quench.db");
  ::unsetenv("XDG_DATA_HOME");
  EXPECT_EQ(Store::default_path(), "/home/someone/.local/share/quench/quench.db");
  ::unsetenv("HOME");
  EXPECT_THROW(Store::default_path(), Error);
}
