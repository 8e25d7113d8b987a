#pragma once
// Writing a model as it is now — after structured pruning, unstructured pruning or weight
// quantization — as a checkpoint directory that load_model() reads back: config.json (with the
// per-layer shapes an architecture reports, Model::shape_config), model.safetensors in the
// source checkpoint's dtype, and the tokenizer and preprocessor files copied from the source checkpoint.
// Quantized weights are written as their dequantized values: the file is a float checkpoint with
// the compressed model's behaviour, not a packed low-bit format.
//
// Only what lives in the weights can be saved. Online activation quantizers, Hadamard rotations,
// KV-cache quantization and low-rank kernels exist only in the forward pass; saveable_reason()
// says which layer prevents saving before any work is done.
#include <filesystem>
#include <string>

#include "core/compress/recipe.h"
#include "core/models/model.h"

namespace quench {

// "" when a model compressed with `plan` can be saved, else why not (naming the layer or point).
std::string saveable_reason(const ResolvedRecipe& plan);

// Copies the source checkpoint's other files (tokenizer, generation config, preprocessor) into
// dir: everything but config.json, weight files and hidden files. Shared by every exporter.
void copy_source_files(const Model& model, const std::string& dir);

// The temporary directory an exporter writes into before renaming it to `target`:
// <parent>/.<prefix>-<name>-<pid>, emptied. Leftovers of saves that were killed (same prefix and
// name, a pid that no longer runs on this machine) are removed first, so a kill -9 during a save
// leaves nothing behind after the next one.
std::filesystem::path save_temp_dir(const std::filesystem::path& target, const std::string& prefix);

// Throws unless `dir` is absent or an empty directory (checked before a run starts).
void check_save_target(const std::string& dir);

// Writes into a temporary directory beside `dir` and renames it into place, so a failure leaves
// nothing behind. Throws naming the layer for a layer computed by a kernel.
void save_model(const Model& model, const std::string& dir);

}  // namespace quench
