#include "app/cli/record.h"

#include <ATen/Context.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "core/store/fingerprint.h"

namespace quench::cli {

void add_record_options(Args& a, RunKind kind) {
  // The default is described, not computed: Store::default_path() throws without HOME.
  a.option("db", "FILE",
           "the experiment store the run is recorded in (default $XDG_DATA_HOME/quench/quench.db, else "
           "~/.local/share/quench/quench.db)");
  a.option("name", "NAME", "the experiment's name (default \"" + std::string(run_kind_name(kind)) + " <model folder>\")");
  a.flag("no-record", "run and print without recording an experiment (the database is not touched)");
}

std::optional<Store> open_store_for(const Args& a) {
  if (a.flag("no-record")) return std::nullopt;
  return Store::open(a.get("db", Store::default_path()));
}

StoreOrScratch::StoreOrScratch(const Args& a) {
  if (!a.flag("no-record")) {
    store_.emplace(Store::open(a.get("db", Store::default_path())));
    return;
  }
  char tmpl[] = "/tmp/quench-norecord-XXXXXX";
  const int fd = ::mkstemp(tmpl);
  QUENCH_CHECK(fd >= 0, "--no-record: cannot create a scratch database in /tmp");
  ::close(fd);
  std::remove(tmpl);  // Store::open creates it as a fresh database
  scratch_ = tmpl;
  store_.emplace(Store::open(scratch_));
}

StoreOrScratch::~StoreOrScratch() {
  store_.reset();
  if (scratch_.empty()) return;
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((scratch_ + suffix).c_str());
}

std::string device_description(const at::Device& d) {
  return d.str();
}

ExperimentSpec experiment_spec(Store& store, const Args& a, const Model& model, RunKind kind) {
  ExperimentSpec spec;
  spec.kind = kind;
  spec.model_id = store.add_model(model_record(model));
  const std::string dir = std::filesystem::path(model.checkpoint().dir()).lexically_normal().filename().string();
  spec.name = a.get("name", std::string(run_kind_name(kind)) + " " + (dir.empty() ? model.architecture() : dir));
  spec.device = device_description(model.device());
  return spec;
}

}  // namespace quench::cli
