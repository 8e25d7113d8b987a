#include "core/export/export_check.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "core/eval/fidelity.h"
#include "core/export/gguf_import.h"
#include "core/models/registry.h"
#include "core/util/error.h"
#include "core/util/remove_tree.h"

namespace quench {

namespace fs = std::filesystem;

namespace {
std::vector<ModelInputs> split_samples(const std::vector<ModelInputs>& batches) {
  std::vector<ModelInputs> out;
  for (const ModelInputs& in : batches)
    for (int64_t r = 0; r < batch_size(in); ++r) {
      ModelInputs one;
      if (in.input_ids.defined()) one.input_ids = in.input_ids.narrow(0, r, 1);
      if (in.pixel_values.defined()) one.pixel_values = in.pixel_values.narrow(0, r, 1);
      out.push_back(std::move(one));
    }
  return out;
}

// A directory removed with everything in it when the check ends, however it ends.
struct ScratchDir {
  fs::path path;
  ScratchDir() {
    static int counter = 0;
    path = fs::temp_directory_path() / ("quench-export-check-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
  }
  ~ScratchDir() { remove_tree(path.string()); }
};
}  // namespace

ExportCheck check_export(Model& compressed, const std::string& path, const CalibrationSet& inputs, int64_t samples) {
  const auto start = std::chrono::steady_clock::now();
  ScratchDir scratch;
  std::string dir = path;
  if (is_gguf_file(path)) dir = import_gguf(path, (scratch.path / "checkpoint").string());
  LoadOptions lo;
  lo.device = compressed.device();
  lo.dtype = compressed.dtype();
  std::unique_ptr<Model> reopened;
  try {
    // A streamed model's file is read back the same way, one block at a time, never whole.
    lo.materialize = !compressed.streaming();
    reopened = load_model(dir, lo);
    if (compressed.streaming()) reopened->stream(lo.device, lo.dtype);
  } catch (const Error& e) {
    fail("export check: the file just written does not open: ", e.what());
  }
  at::NoGradGuard no_grad;
  FidelityAccumulator acc;
  double max_diff = 0, max_ref = 0;
  ExportCheck out;
  std::vector<ModelInputs> batches = inputs.first(samples);
  // A streamed model is checked one sample at a time: a batch's logits over a 128k vocabulary
  // are GB of memory, and streaming is for when memory is short.
  if (compressed.streaming()) batches = split_samples(batches);
  for (const ModelInputs& in : batches) {
    const at::Tensor a = compressed.forward(in).logits.to(at::kFloat), b = reopened->forward(in).logits.to(at::kFloat);
    QUENCH_CHECK(a.sizes() == b.sizes(), "export check: ", path, " gives logits of shape ", b.sizes(), " where the compressed model gives ", a.sizes());
    acc.add(a, b);
    max_diff = std::max(max_diff, (a - b).abs().max().item<double>());
    max_ref = std::max(max_ref, a.abs().max().item<double>());
    out.samples += batch_size(in);
  }
  const Fidelity f = acc.result();
  out.positions = f.positions;
  out.top1_agreement = f.top1_agreement;
  out.kl = std::max(0.0, f.kl);
  out.rel_error = max_ref > 0 ? max_diff / max_ref : max_diff;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

WeightCheck check_export_weights(const Model& compressed, const std::string& gguf_path) {
  const auto start = std::chrono::steady_clock::now();
  at::NoGradGuard no_grad;
  WeightCheck out;
  auto compare = [&](const std::string& name, const at::Tensor& stored) {
    at::Tensor mine;
    if (const auto it = compressed.params().find(name); it != compressed.params().end()) mine = it->second;
    const auto dot = name.rfind('.');
    if (!mine.defined() && dot != std::string::npos) {
      if (const Layer* l = compressed.find_layer(name.substr(0, dot))) {
        const std::string what = name.substr(dot + 1);
        mine = what == "weight" ? l->weight() : what == "bias" ? l->bias() : at::Tensor();
      }
    }
    QUENCH_CHECK(mine.defined(), "export check: ", gguf_path, " holds ", name, ", which the compressed model does not have");
    QUENCH_CHECK(mine.numel() == stored.numel(), "export check: ", gguf_path, ": ", name, " has ", stored.numel(),
                 " values where the compressed model has ", mine.numel());
    QUENCH_CHECK(mine.sizes() == stored.sizes(), "export check: ", gguf_path, ": ", name, " has shape ", stored.sizes(),
                 " where the compressed model has ", mine.sizes());
    // In the file's dtype (a float layer stored as F16 or BF16 is compared after that rounding), in
    // chunks: an 8B model's embedding is 0.5 G values.
    const at::Tensor m = mine.detach().reshape({-1}), f = stored.reshape({-1});
    constexpr int64_t kChunk = int64_t{1} << 23;
    double err = 0;
    for (int64_t i = 0; i < f.numel() && !std::isnan(err); i += kChunk) {
      const int64_t n = std::min(kChunk, f.numel() - i);
      const at::Tensor a = m.narrow(0, i, n).to(at::kCPU).to(f.scalar_type()).to(at::kDouble);
      const double e = (a - f.narrow(0, i, n).to(at::kDouble)).abs().max().item<double>();
      err = std::isnan(e) ? e : std::max(err, e);
    }
    ++out.tensors;
    // Mamba's A is stored as −exp(A_log) (llama.cpp's form) and read back through a log: that
    // round trip is exact to float rounding, not bit for bit.
    const bool via_exp = name.size() > 6 && name.compare(name.size() - 6, 6, ".A_log") == 0;
    const double allowed = via_exp ? 1e-6 * std::max(1.0, m.abs().max().item<double>()) : 0.0;
    if (!(err <= allowed)) ++out.inexact;
    // NaN (a non-finite value on one side) is the worst there is.
    const bool worse = std::isnan(err) ? !std::isnan(out.max_abs_error) : err > out.max_abs_error;
    if (worse) {
      out.max_abs_error = err;
      out.worst = name;
    }
  };
  for_each_gguf_tensor(gguf_path, compare, /*layer_layout=*/true);
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace quench
