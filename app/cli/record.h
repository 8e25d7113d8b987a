#pragma once
// How a command records its run in the experiment store: --db FILE (default: the XDG location),
// --name NAME, --no-record. Shared by eval, calibrate, compress, sensitivity.
#include <ATen/ATen.h>

#include <optional>
#include <string>

#include "app/cli/args.h"
#include "core/models/model.h"
#include "core/store/store.h"

namespace quench::cli {

// Declares --db, --name and --no-record; `kind` names the experiment in --name's help.
void add_record_options(Args& a, RunKind kind);

// The store the run goes into, or nullopt with --no-record. Opened before the work starts, so a
// database that cannot be used is reported before minutes of computing.
std::optional<Store> open_store_for(const Args& a);

// For commands whose run code always records (compress, sensitivity: core/runs): with --no-record
// the run goes into a scratch database that is deleted afterwards, so the same code runs either way
// and the user's database is never opened.
class StoreOrScratch {
 public:
  explicit StoreOrScratch(const Args& a);
  ~StoreOrScratch();
  StoreOrScratch(const StoreOrScratch&) = delete;
  StoreOrScratch& operator=(const StoreOrScratch&) = delete;
  Store& store() { return *store_; }
  bool recorded() const { return scratch_.empty(); }

 private:
  std::string scratch_;
  std::optional<Store> store_;
};

// "cpu", "cuda:0 (NVIDIA H100 80GB HBM3)".
std::string device_description(const at::Device& d);

// A spec with the model and name filled in ("<kind> <model dir name>" unless --name).
ExperimentSpec experiment_spec(Store& store, const Args& a, const Model& model, RunKind kind);

}  // namespace quench::cli
