#pragma once
// Content identities for the store's model and dataset rows, so the same model moved to another
// directory is one model, and a re-downloaded dataset that changed is a different one.
#include <string>

#include "core/store/records.h"

namespace quench {

class Model;
class Checkpoint;

// sha256 over config.json (without the cosmetic keys _name_or_path and transformers_version) and the
// tensor index (name, dtype, shape, sorted by name), plus a sha256 of each tensor's first 4 KiB:
// fine-tunes share the index, and hashing whole multi-GB checkpoints would take minutes.
std::string model_content_hash(const Checkpoint& ckpt);

// A ModelRecord for a loaded model (parameters as the model counts them, tied weights once).
ModelRecord model_record(const Model& model);

// A DatasetRecord for a file or a directory tree. The hash covers every byte: for a directory,
// each regular file's relative path, size and content, in sorted order. samples stays unset
// (the loader knows it; set it before Store::add_dataset).
DatasetRecord dataset_record(const std::string& path, const std::string& kind);

}  // namespace quench
