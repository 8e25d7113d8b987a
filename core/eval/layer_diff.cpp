#include "core/eval/layer_diff.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "core/export/gguf_import.h"
#include "core/export/gguf_names.h"
#include "core/io/checkpoint.h"
#include "core/io/ct_decode.h"
#include "core/io/gguf.h"
#include "core/io/safetensors.h"
#include "core/models/model.h"
#include "core/util/error.h"

namespace quench {

double LayerDiff::sqnr_db() const { return exact() ? std::numeric_limits<double>::infinity() : 10.0 * std::log10(signal / error); }

double LayerDiff::rel_mse() const {
  if (signal > 0) return error / signal;
  return error > 0 ? std::numeric_limits<double>::infinity() : 0.0;
}

LayerDiff diff_layer(const Layer& f, const Layer& q, int64_t top) {
  QUENCH_CHECK(f.weight().sizes() == q.weight().sizes(), f.name(), ": shape ", f.weight().sizes(), " in the float model but ", q.weight().sizes(),
               " in the compressed one");
  LayerDiff r;
  r.layer = f.name();
  r.shape = f.shape();
  at::NoGradGuard ng;
  // Double: a 4096² layer's sums of squares lose digits in float, and "exact" must mean exact. In
  // chunks of rows, so that an 8B model's 128256 × 4096 embedding needs 0.1 GB, not 8 GB, of doubles.
  const at::Tensor fw = f.weight().detach().reshape({f.out_features(), -1}), qw = q.weight().detach().reshape({f.out_features(), -1});
  const int64_t rows = fw.size(0), cols = fw.size(1);
  const int64_t chunk = std::max<int64_t>(1, (int64_t{1} << 23) / std::max<int64_t>(cols, 1));
  at::Tensor per_channel = at::zeros({cols}, at::kDouble), amax = at::zeros({cols}, at::kDouble);
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const int64_t n = std::min(chunk, rows - r0);
    const at::Tensor w = fw.narrow(0, r0, n).to(at::kCPU, at::kDouble);
    const at::Tensor d = w - qw.narrow(0, r0, n).to(at::kCPU, at::kDouble);
    r.signal += w.square().sum().item<double>();
    per_channel += d.square().sum(0);
    amax = at::maximum(amax, w.abs().amax(0));
  }
  r.error = per_channel.sum().item<double>();
  const at::Tensor pc = per_channel.to(at::kFloat).contiguous();
  r.channel_error.assign(pc.data_ptr<float>(), pc.data_ptr<float>() + pc.numel());
  if (r.error > 0 && top > 0) {
    const auto k = std::min<int64_t>(top, per_channel.numel());
    const auto [vals, idx] = per_channel.topk(k);
    for (int64_t i = 0; i < k; ++i) {
      const int64_t c = idx[i].item<int64_t>();
      r.worst.push_back({c, vals[i].item<double>() / r.error, amax[c].item<double>()});
    }
  }
  return r;
}

StoredTypes::StoredTypes(const std::string& path, const Model& compressed) : model_(compressed) {
  if (is_gguf_file(path)) {
    gguf_ = std::make_unique<GgufFile>(path);
    arch_ = gguf_->key("general.architecture").as_string(path + ": general.architecture");
    return;
  }
  if (compressed.checkpoint().compressed_tensors_format().empty()) return;
  std::vector<std::string> stored;
  for (const auto& f : compressed.checkpoint().files()) {
    const SafetensorsFile file(f);
    for (const auto& t : file.tensors()) stored.push_back(t.name);
  }
  ct_ = CtDecoder::open(compressed.checkpoint(), stored);
}

StoredTypes::~StoredTypes() = default;

std::string StoredTypes::of(const std::string& layer) const {
  const std::string weight = layer + ".weight";
  if (gguf_) {
    const GgufTensorInfo* t = gguf_->find(gguf_tensor_name(arch_, weight));
    if (!t && layer == "lm_head") t = gguf_->find("token_embd.weight");  // tied head: llama.cpp reads the embedding
    return t ? ggml_type_code_name(t->type_code) : "";
  }
  if (!ct_) return "";
  std::string d = ct_->describe(weight);
  if (d.empty() && model_.checkpoint().has(weight)) d = model_.checkpoint().info(weight).dtype_name;
  return d;
}

}  // namespace quench
