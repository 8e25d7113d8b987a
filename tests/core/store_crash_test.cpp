// Crash safety and concurrency of the experiment store, with real second processes
// (tests/helpers/store_helper.cpp) and threads.
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <thread>

#include "child_process.h"
#include "core/store/process.h"
#include "core/store/record_json.h"
#include "core/store/store.h"
#include "test_util.h"

using namespace quench;

namespace {
const std::string kHelper = QUENCH_STORE_HELPER;

int64_t started_id(test::Child& c) {
  auto line = c.read_line(30000);
  EXPECT_TRUE(line && line->rfind("started ", 0) == 0) << (line ? *line : "(no output)");
  return line ? std::stoll(line->substr(8)) : -1;
}

int64_t record_completed(Store& s, const std::string& name) {
  auto w = s.begin({name, RunKind::Evaluate});
  w.add_metric("perplexity", 12.25);
  LayerResult r;
  r.layer = "model.layers.0.q_proj";
  r.bits = 4;
  w.add_layer_result(r);
  w.finish();
  return w.id();
}
}  // namespace

// A disk that fills during a run: the recording process fails with a message (no crash), the run
// stays `running` (nothing more can be written, not even "failed"), queries still read it, and
// the first writable open after that process is gone marks it interrupted.
TEST(StoreCrash, AFullDiskLeavesTheRunRunningUntilTheNextWritableOpenMarksItInterrupted) {
  test::TempDir dir;
  const std::string db = dir.file("q.db");
  const int64_t earlier = [&] {
    Store s = Store::open(db);
    return record_completed(s, "earlier");
  }();
  test::Child child({kHelper, "full", db, "filled"});
  const int64_t id = started_id(child);
  EXPECT_EQ(child.wait(), 1);
  const std::string err = child.read_stderr();
  EXPECT_NE(err.find("q.db"), std::string::npos) << err;
  {
    Store ro = Store::open_read_only(db);
    EXPECT_EQ(ro.get(id).summary.status, RunStatus::Running);
    EXPECT_EQ(ro.get(earlier).summary.status, RunStatus::Completed);
  }
  Store s = Store::open(db);
  EXPECT_EQ(s.integrity_check(), "ok");
  EXPECT_EQ(s.interrupted_on_open(), std::vector<int64_t>{id});
  EXPECT_EQ(s.get(id).summary.status, RunStatus::Interrupted);
}

TEST(StoreCrash, KilledWriterLeavesAConsistentDatabaseAndAnInterruptedRun) {
  test::TempDir dir;
  const std::string db = dir.file("q.db");
  int64_t earlier;
  std::string earlier_json;
  {
    Store s = Store::open(db);
    earlier = record_completed(s, "earlier");
    earlier_json = nlohmann::json(s.get(earlier)).dump();
  }
  test::Child child({kHelper, "slow", db, "killed", "100000", "2"});
  const int64_t id = started_id(child);
  // Let it commit a few layers, then kill it at an arbitrary point, likely inside a transaction.
  for (int i = 0; i <= 5; ++i) ASSERT_TRUE(child.read_line(30000)) << "helper stopped early: " << child.read_stderr();
  child.kill(SIGKILL);
  EXPECT_EQ(child.wait(), 128 + SIGKILL);

  Store s = Store::open(db);
  EXPECT_EQ(s.integrity_check(), "ok");
  EXPECT_EQ(s.interrupted_on_open(), std::vector<int64_t>{id});
  const auto run = s.get(id);
  EXPECT_EQ(run.summary.status, RunStatus::Interrupted);
  EXPECT_NE(run.summary.error.find("pid " + std::to_string(child.pid())), std::string::npos) << run.summary.error;
  ASSERT_TRUE(run.summary.finished_at);
  EXPECT_EQ(*run.summary.finished_at, run.summary.updated_at);
  EXPECT_GE(run.layers.size(), 6u);
  for (size_t i = 0; i < run.layers.size(); ++i) {  // every committed layer is whole
    EXPECT_EQ(run.layers[i].layer, "model.layers." + std::to_string(i) + ".mlp.down_proj");
    EXPECT_EQ(run.layers[i].settings["group_size"], 128);
  }
  EXPECT_EQ(nlohmann::json(s.get(earlier)).dump(), earlier_json);
  // Reopening again finds nothing new to mark.
  EXPECT_TRUE(Store::open(db).interrupted_on_open().empty());
}

TEST(StoreCrash, ALiveWritersRunIsNotMarkedInterrupted) {
  test::TempDir dir;
  const std::string db = dir.file("q.db");
  test::Child child({kHelper, "hold", db, "live"});
  const int64_t id = started_id(child);
  {
    Store s = Store::open(db);
    EXPECT_TRUE(s.interrupted_on_open().empty());
    EXPECT_EQ(s.get(id).summary.status, RunStatus::Running);
  }
  child.close_stdin();
  ASSERT_EQ(child.wait(), 0) << child.read_stderr();
  Store s = Store::open(db);
  const auto run = s.get(id);
  EXPECT_EQ(run.summary.status, RunStatus::Completed);
  ASSERT_EQ(run.metrics.size(), 1u);
  EXPECT_EQ(run.metrics[0].value, 12.5);
}

TEST(StoreCrash, OwnerIdentitySurvivesPidReuse) {
  const ProcessIdentity me = current_process();
  ASSERT_GT(me.start_ticks, 0);
  EXPECT_EQ(owner_state(me), OwnerState::Alive);
  ProcessIdentity reused = me;
  reused.start_ticks += 1;  // same pid, another process
  EXPECT_EQ(owner_state(reused), OwnerState::Gone);
  ProcessIdentity rebooted = me;
  rebooted.boot_id = "another-boot";
  EXPECT_EQ(owner_state(rebooted), OwnerState::Gone);
  ProcessIdentity remote = me;
  remote.host = me.host + "-elsewhere";
  EXPECT_EQ(owner_state(remote), OwnerState::OtherHost);
  pid_t dead;
  {
    test::Child c({"/bin/true"});
    c.wait();
    dead = c.pid();
  }
  EXPECT_FALSE(process_start_ticks(dead));

  // In the database: a `running` row whose pid is alive but whose start time is not that process's.
  test::TempDir dir;
  const std::string db = dir.file("q.db");
  { Store::open(db); }
  {
    sqlite::Db raw(db, SQLITE_OPEN_READWRITE);
    raw.prepare(
           "INSERT INTO experiments (name, kind, status, started_at, updated_at, owner_host, owner_boot, owner_pid, owner_start) "
           "VALUES ('reused', 'compress', 'running', '2026-01-01', '2026-01-01', ?1, ?2, ?3, ?4)")
        .bind(1, me.host)
        .bind(2, me.boot_id)
        .bind(3, me.pid)
        .bind(4, me.start_ticks + 1)
        .run();
    raw.prepare(
           "INSERT INTO experiments (name, kind, status, started_at, updated_at, owner_host, owner_boot, owner_pid, owner_start) "
           "VALUES ('remote', 'compress', 'running', '2026-01-01', '2026-01-01', 'some-other-host', 'x', 1, 1)")
        .run();
  }
  Store s = Store::open(db);
  ASSERT_EQ(s.interrupted_on_open().size(), 1u);
  EXPECT_EQ(s.get(s.interrupted_on_open()[0]).summary.name, "reused");
  ListFilter running;
  running.status = RunStatus::Running;
  ASSERT_EQ(s.list(running).size(), 1u);  // another host's run cannot be judged from here
  EXPECT_EQ(s.list(running)[0].name, "remote");
}

TEST(StoreConcurrency, TwoProcessesWritingAtOnce) {
  test::TempDir dir;
  const std::string db = dir.file("new/q.db");  // both also race to create it
  test::Child a({kHelper, "burst", db, "a", "15", "10"});
  test::Child b({kHelper, "burst", db, "b", "15", "10"});
  const int ra = a.wait(), rb = b.wait();
  const std::string ea = a.read_stderr(), eb = b.read_stderr();
  // Each one either succeeded or was told plainly that the database was busy.
  for (const auto& [rc, err] : {std::make_pair(ra, ea), std::make_pair(rb, eb)}) {
    if (rc != 0) {
      EXPECT_EQ(rc, 3) << err;
      EXPECT_NE(err.find("database is busy"), std::string::npos) << err;
    }
  }
  EXPECT_TRUE(ra == 0 || rb == 0) << ea << eb;
  Store s = Store::open(db);
  EXPECT_EQ(s.integrity_check(), "ok");
  ListFilter completed;
  completed.status = RunStatus::Completed;
  EXPECT_EQ(s.list(completed).size(), size_t((ra == 0) + (rb == 0)) * 15);
  for (const auto& e : s.list(completed)) EXPECT_EQ(s.get(e.id).metrics.size(), 10u) << e.name;
}

TEST(StoreConcurrency, ReaderListsWhileWriterRecords) {
  test::TempDir dir;
  const std::string db = dir.file("q.db");
  { Store::open(db); }
  constexpr int kRuns = 20, kLayers = 15;
  std::atomic<bool> done{false};
  std::string writer_error;
  std::thread writer([&] {
    try {
      Store s = Store::open(db);
      for (int r = 0; r < kRuns; ++r) {
        auto w = s.begin({"run " + std::to_string(r), RunKind::Compress});
        for (int i = 0; i < kLayers; ++i) {
          LayerResult l;
          l.layer = "layer." + std::to_string(i);
          l.bits = 4;
          w.add_layer_result(l);
        }
        w.add_metric("perplexity", r);
        w.finish();
      }
    } catch (const std::exception& e) {
      writer_error = e.what();
    }
    done = true;
  });
  Store reader = Store::open(db);
  int reads = 0;
  size_t seen_max = 0;
  while (!done) {
    const auto all = reader.list();
    EXPECT_GE(all.size(), seen_max);  // runs never disappear
    seen_max = std::max(seen_max, all.size());
    for (const auto& e : all) {
      ASSERT_TRUE(e.status == RunStatus::Running || e.status == RunStatus::Completed) << status_name(e.status);
      const auto d = reader.get(e.id);
      // One snapshot: a completed run is seen whole, a running one with a prefix of its layers.
      if (d.summary.status == RunStatus::Completed) {
        EXPECT_EQ(d.layers.size(), size_t(kLayers));
        EXPECT_EQ(d.metrics.size(), 1u);
      } else {
        EXPECT_LE(d.layers.size(), size_t(kLayers));
      }
    }
    ++reads;
  }
  writer.join();
  EXPECT_EQ(writer_error, "");
  EXPECT_GT(reads, 1);
  ListFilter completed;
  completed.status = RunStatus::Completed;
  EXPECT_EQ(reader.list(completed).size(), size_t(kRuns));
}

TEST(StoreConcurrency, AWriterLockedOutPastTheTimeoutGetsAClearBusyError) {
  test::TempDir dir;
  const std::string db = dir.file("q.db");
  StoreOptions quick;
  quick.busy_timeout_ms = 100;
  Store s = Store::open(db, quick);
  auto w = s.begin({"waiting", RunKind::Calibrate});
  {
    // Another program holding the write lock for longer than the timeout.
    sqlite::Db other(db, SQLITE_OPEN_READWRITE);
    sqlite::Transaction hold(other);
    try {
      w.add_metric("m", 1);
      ADD_FAILURE() << "no busy error";
    } catch (const BusyError& e) {
      EXPECT_EQ(std::string(e.what()).rfind(db + ": database is busy", 0), 0u) << e.what();
    }
    EXPECT_THROW(s.begin({"another", RunKind::Calibrate}), BusyError);
    EXPECT_EQ(s.list().size(), 1u);  // reading is never blocked
  }
  // Nothing was half-written, and the run goes on once the lock is free.
  EXPECT_TRUE(s.get(w.id()).metrics.empty());
  w.add_metric("m", 2);
  w.finish();
  EXPECT_EQ(s.get(w.id()).metrics.at(0).value, 2);
  EXPECT_EQ(s.list().size(), 1u);
}
