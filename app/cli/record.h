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

// The options every recording command accepts (add them to its Args' valued/flag sets).
inline const std::set<std::string> kRecordValued = {"db", "name"};
inline const std::set<std::string> kRecordFlags = {"no-record"};
std::set<std::string> with_record_options(std::set<std::string> valued);
std::set<std::string> with_record_flags(std::set<std::string> flags);

// The store the run goes into, or nullopt with --no-record. Opened before the work starts, so a
// database that cannot be used is reported before minutes of computing.
std::optional<Store> open_store_for(const Args& a);

// "cpu", "cuda:0 (NVIDIA H100 80GB HBM3)".
std::string device_description(const at::Device& d);

// A spec with the model and name filled in ("<kind> <model dir name>" unless --name).
ExperimentSpec experiment_spec(Store& store, const Args& a, const Model& model, const std::string& kind);

}  // namespace quench::cli
