#include "core/export/compressed_tensors.h"

#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>

#include "core/compress/save_model.h"
#include "core/compress/weight_method.h"
#include "core/io/atomic_file.h"
#include "core/io/safetensors.h"
#include "core/ops/fake_quant.h"
#include "core/ops/fp8.h"
#include "core/util/error.h"
#include "core/util/remove_tree.h"

namespace quench {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kCtVersion = "0.12.2";  // the compressed-tensors release whose layout this follows

bool is_24(const LayerPlan& l) { return l.prune && l.prune->nm() && l.prune->n == 2 && l.prune->m == 4; }

// A quantized layer's on-disk format: int8 `weight` when activations are quantized too (W8A8) or
// when the layer is 2:4-sparse (the sparse compressor runs on the int8 weight; packed words
// cannot be sparse-compressed), packed int32 words otherwise (llm-compressor's choice).
// MXFP4 and NVFP4 weights have packed formats of their own (two E2M1 values a byte).
const char* weight_format(const LayerPlan& l) {
  if (l.weights && l.weights->ggml == GgmlType::MXFP4) return "mxfp4-pack-quantized";
  if (l.weights && l.weights->ggml == GgmlType::NVFP4) return "nvfp4-pack-quantized";
  if (l.weights && l.weights->fp8) return "float-quantized";
  return l.input || is_24(l) ? "int-quantized" : "pack-quantized";
}

bool is_fp4(const WeightQuant& w) { return w.ggml == GgmlType::MXFP4 || w.ggml == GgmlType::NVFP4; }

json weight_args(const WeightQuant& w) {
  if (is_fp4(w)) {
    // compressed-tensors' presets: NVFP4A16 is tensor_group (E4M3 scales per 16 under a global
    // scale), MXFP4A16 group 32 (E8M0 exponents).
    const bool nv = w.ggml == GgmlType::NVFP4;
    return {{"num_bits", 4}, {"type", "float"}, {"symmetric", true}, {"strategy", nv ? "tensor_group" : "group"},
            {"group_size", nv ? 16 : 32}, {"block_structure", nullptr}, {"dynamic", false}, {"observer", "minmax"},
            {"observer_kwargs", json::object()}, {"actorder", nullptr}};
  }
  const char* strategy = w.strategy == WeightStrategy::Group ? "group" : w.strategy == WeightStrategy::Channel ? "channel" : "tensor";
  json j = {{"num_bits", w.bits}, {"type", w.fp8 ? "float" : "int"}, {"symmetric", w.symmetric}, {"strategy", strategy},
            {"group_size", w.strategy == WeightStrategy::Group ? json(w.group_size) : json()}, {"block_structure", nullptr},
            {"dynamic", false}, {"observer", "minmax"}, {"observer_kwargs", json::object()}};
  // Quench records a column → group index only for GPTQ act-order with groups (gptq.cpp).
  j["actorder"] = w.has_option("act_order") && w.flag("act_order") && w.strategy == WeightStrategy::Group ? json("group") : json();
  return j;
}

json input_args(const ActQuant& a) {
  // A static quantizer's observer is how its scale was found; vLLM reads only the stored scale.
  const char* observer = a.observer == ActObserver::Mse ? "mse" : a.observer == ActObserver::Percentile ? "percentile" : "minmax";
  return {{"num_bits", a.bits}, {"type", a.fp8 ? "float" : "int"}, {"symmetric", a.symmetric},
          {"strategy", a.strategy == ActStrategy::Token ? "token" : "tensor"}, {"group_size", nullptr},
          {"block_structure", nullptr}, {"dynamic", a.dynamic}, {"observer", a.dynamic ? json() : json(observer)},
          {"observer_kwargs", json::object()}, {"actorder", nullptr}};
}

std::string regex_escape(const std::string& s) {
  std::string r;
  for (char c : s) {
    if (std::string("\\^$.|?*+()[]{}").find(c) != std::string::npos) r += '\\';
    r += c;
  }
  return r;
}
// compressed-tensors matches "re:" targets with re.match (anchored at the start only).
std::string exact_target(const std::string& layer) { return "re:^" + regex_escape(layer) + "$"; }

// sparse-24-bitmask of t [rows, cols] (cols % 4 == 0): exactly two positions of every four, the
// non-zero ones first, then the lowest-indexed zeros (compressed-tensors keeps the top-2 |x|).
void sparse24(const std::string& layer, const at::Tensor& t, std::vector<std::pair<std::string, at::Tensor>>& out) {
  const int64_t rows = t.size(0), cols = t.size(1);
  QUENCH_CHECK(cols % 4 == 0, layer, ": 2:4 sparsity needs the input width (", cols, ") to be a multiple of 4");
  const at::Tensor nz = (t != 0).view({rows, cols / 4, 4});
  const at::Tensor cnt = nz.sum(-1, /*keepdim=*/true);
  if (cnt.gt(2).any().item<bool>()) {
    const int64_t k = cnt.reshape(-1).gt(2).nonzero().reshape(-1)[0].item<int64_t>();
    fail(layer, ": not 2:4 sparse (row ", k / (cols / 4), ", columns ", 4 * (k % (cols / 4)), "–", 4 * (k % (cols / 4)) + 3,
         " hold more than two non-zero weights)");
  }
  const at::Tensor zero = nz.logical_not();
  const at::Tensor add = zero.logical_and(zero.to(at::kInt).cumsum(-1).le(at::rsub(cnt, 2)));
  const at::Tensor mask = nz.logical_or(add).view({rows, cols});
  const at::Tensor values = t.masked_select(mask).view({rows, cols / 2});
  const int64_t nb = (cols + 7) / 8;
  at::Tensor m8 = at::zeros({rows, nb * 8}, at::kByte);
  m8.narrow(1, 0, cols).copy_(mask.to(at::kByte));
  const at::Tensor weights = at::tensor({1, 2, 4, 8, 16, 32, 64, 128}, at::kInt);  // bit i ← column 8k + i
  const at::Tensor bits = (m8.view({rows, nb, 8}).to(at::kInt) * weights).sum(-1).to(at::kByte);
  out.emplace_back(layer + ".shape", at::tensor({rows, cols}, at::kLong).view({2, 1}));
  out.emplace_back(layer + ".compressed", values.contiguous());
  out.emplace_back(layer + ".bitmask", bits.contiguous());
}

struct QuantTensors {
  at::Tensor q;  // int8 [out, in], compressed-tensors' signed range
  at::Tensor scale, zero;  // F32 / int8, compressed-tensors' shapes
};

// The integers of a quantized layer, checked to reproduce its weight exactly.
QuantTensors integers_of(const Layer& l, const WeightEncoding& e) {
  const ops::QuantSpec& spec = *e.spec;
  QUENCH_CHECK(spec.granularity != ops::Granularity::Column, "compressed-tensors export: per-column weight scales have no compressed-tensors strategy");
  // On the weight's device (an 8B model's integers are computed on the GPU in seconds); the results move to the CPU.
  const at::Tensor w = l.weight().detach().reshape({l.out_features(), -1});
  const int64_t out = w.size(0);
  const at::Tensor s = e.params.scale.detach().to(w.device(), at::kFloat);
  const at::Tensor q = grid_integers(w, e, l.name() + " (nothing was written)");
  const int64_t shift = spec.symmetric ? 0 : int64_t{1} << (spec.bits - 1);
  QuantTensors r;
  r.q = (q - static_cast<double>(shift)).to(at::kChar).cpu().contiguous();
  switch (spec.granularity) {
    case ops::Granularity::Tensor: r.scale = s.reshape({1}); break;
    case ops::Granularity::Row: r.scale = s.reshape({out, 1}); break;
    default: r.scale = s.reshape({out, -1}); break;
  }
  r.scale = r.scale.cpu().contiguous();
  if (!spec.symmetric) r.zero = (e.params.zero.detach().to(at::kCPU, at::kInt).reshape(r.scale.sizes()) - shift).to(at::kChar).contiguous();
  return r;
}

// An FP4 layer's tensors: E2M1 nibbles two a byte (the even column low), U8 [out, in/2]; the
// block scales as bytes (MXFP4: E8M0 exponents, NVFP4: E4M3 values), U8 [out, in/group]; NVFP4's
// global scale F32 [1]. The nibbles are ggml_blocks' codes, which checks the weight is on its grid.
struct Fp4Tensors {
  at::Tensor packed, scale, global;
};

Fp4Tensors fp4_of(const Layer& l, const WeightEncoding& e) {
  const ops::GgmlParams& p = *e.ggml;
  const at::Tensor w = l.weight().detach().reshape({l.out_features(), -1});
  const GgmlBlocks b = ops::ggml_blocks(w, p, l.name());
  const at::Tensor codes = at::from_blob(const_cast<uint8_t*>(b.code.data()), {b.rows, b.cols / 2, 2}, at::kByte);
  Fp4Tensors r;
  r.packed = at::bitwise_or(codes.select(2, 0), at::bitwise_left_shift(codes.select(2, 1), 4)).contiguous();
  const at::Tensor d = p.d.to(at::kCPU, at::kFloat).contiguous();
  at::Tensor bytes;
  if (p.type == GgmlType::MXFP4) {
    // d = 2^(e − 128) (the codes are E2M1 doubled): the E8M0 byte is e.
    bytes = (at::log2(d) + 128).round().clamp(0, 254);
    QUENCH_CHECK(at::equal(at::exp2(bytes - 128).to(at::kFloat), d), l.name(),
                 ": MXFP4 block scales are not powers of two an E8M0 byte holds; nothing was written");
  } else {
    // d = s/2, s ≥ 0 an E4M3 value (e4m3_bytes refuses any other).
    bytes = ops::e4m3_bytes(d * 2, l.name() + ": NVFP4 block scales");
    r.global = p.global.to(at::kCPU, at::kFloat).reshape({1}).contiguous();
  }
  r.scale = bytes.to(at::kByte).reshape({b.rows, -1}).contiguous();
  return r;
}

// An FP8 layer's E4M3 bytes [out, in] and F32 scales ([out, 1] per channel, [1] per tensor).
struct Fp8Tensors {
  at::Tensor values, scale;
};

Fp8Tensors fp8_of(const Layer& l, const WeightEncoding& e) {
  QUENCH_CHECK(e.spec && e.params.scale.defined(), l.name(), ": FP8 weights without their recorded scales");
  const at::Tensor w = l.weight().detach().reshape({l.out_features(), -1});
  const bool per_channel = e.spec->granularity == ops::Granularity::Row;
  const at::Tensor s = e.params.scale.detach().to(w.device(), at::kFloat).reshape({per_channel ? w.size(0) : 1, 1});
  // The layer holds (v·s) in its dtype; v is recovered by rounding (the dtype's error is far below
  // E4M3's spacing), and must give the weight back exactly.
  const at::Tensor v = ops::round_e4m3(w.to(at::kFloat) / s);
  const at::Tensor bad = (v * s).to(w.scalar_type()).ne(w);
  if (bad.any().item<bool>()) {
    const int64_t k = bad.reshape(-1).nonzero().reshape(-1)[0].item<int64_t>();
    fail(l.name(), ": the weight is not on its recorded FP8 grid (row ", k / w.size(1), ", column ", k % w.size(1), "); nothing was written");
  }
  Fp8Tensors r;
  r.values = ops::e4m3_bytes(v, l.name() + ".weight").cpu().contiguous();
  r.scale = s.reshape(per_channel ? std::vector<int64_t>{w.size(0), 1} : std::vector<int64_t>{1}).cpu().contiguous();
  return r;
}

json scheme_of(const LayerPlan& p, const std::string& fmt) {
  return {{"weights", weight_args(*p.weights)}, {"format", fmt}, {"output_activations", nullptr},
          {"input_activations", p.input ? input_args(*p.input) : json()}};
}

struct GroupKey {
  json scheme;  // weights, input_activations, format
  bool operator<(const GroupKey& o) const { return scheme.dump() < o.scheme.dump(); }
};

}  // namespace

std::string ct_exportable(const Model& model, const ResolvedRecipe& plan) {
  if (plan.structured) return "structured pruning: compressed-tensors loaders build every block with the config's shapes";
  const char* online = "exists only in Quench's forward pass; a compressed-tensors checkpoint cannot hold it";
  for (const auto& l : plan.layers) {
    const Layer* layer = model.find_layer(l.layer);
    if (l.hadamard) return l.layer + ": the online Hadamard rotation " + online;
    if (l.lowrank) return l.layer + ": low-rank factors have no compressed-tensors layout";
    if (l.output) return l.layer + ": output activation quantization has no compressed-tensors loader (vLLM reads input activations only)";
    if (l.input && l.input->log_sqrt2) return l.layer + ": log√2 input activations have no compressed-tensors scheme";
    if (l.input && l.input->fp4)
      return l.layer + ": " + ggml_info(*l.input->fp4).name +
             " activations are simulated with NVFP4's tensor scale taken from each input, where compressed-tensors stores a calibrated input_global_scale; "
             "export the weight-only scheme (MXFP4A16 / NVFP4A16)";
    if (l.input && !l.weights) return l.layer + ": activation quantization without weight quantization has no compressed-tensors scheme";
    if (l.weights && l.weights->olive)
      return l.layer + ": OliVe's outlier-victim pairs have no compressed-tensors layout (no engine runs them)";
    if (l.weights && *weight_method(l.weights->method).unexportable)
      return l.layer + ": " + weight_method(l.weights->method).unexportable + " have no compressed-tensors layout";
    if (l.weights && l.weights->ggml && !is_fp4(*l.weights))
      return l.layer + ": weights " + l.weights->describe() + " are a ggml block type; use --format gguf";
    if (l.weights && is_fp4(*l.weights) && l.input)
      return l.layer + ": FP4 weights with integer input activations have no compressed-tensors scheme";
    if (l.weights && is_fp4(*l.weights) && is_24(l))
      return l.layer + ": 2:4 sparsity with FP4 weights: compressed-tensors sparse-compresses unpacked values, and FP4 is stored packed";
    if (l.weights && l.input && l.weights->fp8 != l.input->fp8)
      return l.layer + ": " + (l.weights->fp8 ? "FP8 weights with integer" : "integer weights with FP8") +
             " input activations have no compressed-tensors scheme (FP8 goes with FP8)";
    if (l.weights && layer && layer->kind() != LayerKind::Linear)
      return l.layer + ": quantized " + kind_name(layer->kind()) + " layer; compressed-tensors quantizes Linear layers only";
    if (l.weights && is_24(l) && !l.weights->symmetric)
      return l.layer + ": 2:4 sparsity with asymmetric weights (compressed-tensors sparse-compresses the integers, where a pruned weight is the zero point, not 0)";
    if (l.prune && layer && layer->kind() == LayerKind::Embedding && is_24(l))
      return l.layer + ": 2:4 sparsity on an embedding; compressed-tensors sparse-compresses Linear layers only";
    if ((l.weights || l.prune) && layer && !model.checkpoint().has(l.layer + ".weight"))
      return l.layer + ": compressed while tied to the embedding; untie it (a checkpoint with tie_word_embeddings stores one matrix)";
  }
  for (const auto& k : plan.kv)
    if (k.kv.method == KvMethod::ZipCache)
      return k.module + ": ZipCache's mixed-precision KV cache (salient tokens at more bits) is not representable by kv_cache_scheme, "
                        "which holds static per-tensor k_scale / v_scale (use kv_cache method fp8)";
    else if (k.kv.fp4())
      return k.module + ": an " + k.kv.describe() + " KV cache has per-block scales, which kv_cache_scheme does not hold "
                        "(it holds static per-tensor k_scale / v_scale; use kv_cache method fp8)";
    else if (k.kv.method != KvMethod::Fp8)
      return k.module + ": KIVI KV-cache quantization (per-channel keys, per-token values, a full-precision residual) is not "
                        "representable by kv_cache_scheme, which holds static per-tensor k_scale / v_scale (use kv_cache method fp8)";
  if (!plan.kv.empty()) {
    // kv_cache_scheme is one setting for every attention module: a module left out would run
    // through the engine's FP8 cache with a default scale, not in float.
    std::set<std::string> quantized, all;
    for (const auto& k : plan.kv) quantized.insert(k.module);
    for (const auto& p : model.points())
      if (const auto colon = p.name.rfind(':'); colon != std::string::npos && p.name.substr(colon + 1) == "k") all.insert(p.name.substr(0, colon));
    for (const auto& m : all)
      if (!quantized.count(m))
        return m + ": its KV cache is kept in float while other attention modules' is FP8; kv_cache_scheme quantizes every "
                   "attention module's cache";
  }
  if (!plan.points.empty()) return plan.points.front().point + ": activation quantization of an internal point " + online;
  return "";
}

void check_ct_target(const std::string& dir, bool force) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    const fs::path parent = fs::absolute(dir).parent_path();
    QUENCH_CHECK(fs::is_directory(parent, ec), dir, ": cannot save the model there, ", parent.string(), " is not a directory");
    return;
  }
  if (!fs::is_directory(dir, ec)) throw UsageError(dir + ": exists and is not a directory; choose a directory for the checkpoint");
  if (!force && !fs::is_empty(dir, ec)) throw UsageError(dir + ": is not empty; pass --force to replace it");
}

void export_compressed_tensors(const Model& model, const ResolvedRecipe& plan, const std::string& dir, const CtExportOptions& o) {
  check_ct_target(dir, o.force);
  if (const std::string why = ct_exportable(model, plan); !why.empty()) throw UsageError("compressed-tensors: " + why);
  const std::string stored = model.checkpoint().dtype();
  const at::ScalarType dtype = stored == "F16" ? at::kHalf : stored == "BF16" ? at::kBFloat16 : at::kFloat;

  std::vector<std::pair<std::string, at::Tensor>> tensors;
  std::set<std::string> names;
  auto add = [&](const std::string& name, const at::Tensor& t) {
    QUENCH_CHECK(names.insert(name).second, "compressed-tensors export: tensor ", name, " written twice");
    const at::Tensor c = t.detach().to(at::kCPU);
    tensors.emplace_back(name, (at::isFloatingType(c.scalar_type()) ? c.to(dtype) : c).contiguous());
  };
  auto add_raw = [&](const std::string& name, const at::Tensor& t) {  // exact dtype (F32 scales, ints)
    QUENCH_CHECK(names.insert(name).second, "compressed-tensors export: tensor ", name, " written twice");
    tensors.emplace_back(name, t.detach().to(at::kCPU).contiguous());
  };

  std::map<GroupKey, std::vector<std::string>> groups;
  std::map<std::string, StDtype> stored_as;  // byte tensors whose dtype is F8_E4M3
  std::vector<std::string> ignore, sparse_layers;
  int64_t sparse_zeros = 0, sparse_total = 0;
  for (const auto& lp : model.layers()) {
    // A streamed model's earlier layers were copied out of its mapped files: their pages go.
    if (model.streaming()) model.release_pages();
    const Layer& l = *lp;
    QUENCH_CHECK(!l.kernel(), l.name(), ": computed by ", l.kernel()->describe(), ", which a checkpoint cannot hold");
    const LayerPlan* p = plan.find(l.name());
    const WeightEncoding* e = l.encoding();
    const bool quantized = p && p->weights && e && (e->spec || (e->ggml && is_fp4(*p->weights)));
    QUENCH_CHECK(!(p && p->weights) || quantized, l.name(), ": planned as ", p && p->weights ? p->weights->describe() : "",
                 " but carries no integer encoding (was the model compressed with this recipe?)");
    if (l.kind() == LayerKind::Linear && !quantized) ignore.push_back(l.name());
    const bool tied_head = !model.checkpoint().has(l.name() + ".weight");
    if (tied_head) {
      QUENCH_CHECK(!l.modified(), l.name(), ": changed while tied to the embedding");
      continue;
    }
    if (l.bias().defined()) add(l.name() + ".bias", l.bias());
    const bool s24 = p && is_24(*p);
    if (s24) {
      sparse_layers.push_back(l.name());
      sparse_zeros += (l.weight() == 0).sum().item<int64_t>();
      sparse_total += l.weight().numel();
    }
    if (p && p->input && !p->input->dynamic) {
      const auto it = o.static_inputs.find(l.name());
      QUENCH_CHECK(it != o.static_inputs.end() && it->second.scale.defined(), l.name(),
                   ": static input activation quantization without its calibrated scale (export the model as the compress run "
                   "that calibrated it)");
      const at::Tensor scale = it->second.scale.detach().to(at::kCPU, at::kFloat).reshape({1});
      QUENCH_CHECK(at::isfinite(scale).all().item<bool>() && scale.gt(0).all().item<bool>(), l.name(), ": input scale ",
                   scale.item<double>(), " is not a positive finite number");
      add_raw(l.name() + ".input_scale", scale);
      if (!p->input->symmetric) {
        QUENCH_CHECK(it->second.zero.defined(), l.name(), ": asymmetric static input quantization without its zero point");
        // Quench's z ∈ [0, 2^b − 1] against compressed-tensors' signed range, as for weights.
        const int64_t shift = int64_t{1} << (p->input->bits - 1);
        add_raw(l.name() + ".input_zero_point", (it->second.zero.detach().to(at::kCPU, at::kInt).reshape({1}) - shift).to(at::kChar));
      }
    }
    if (!quantized) {
      const at::Tensor w = l.weight().detach().to(at::kCPU);
      if (s24) sparse24(l.name(), w.reshape({l.out_features(), -1}).to(dtype), tensors);
      else add(l.name() + ".weight", w);
      continue;
    }
    const std::string fmt = weight_format(*p);
    if (is_fp4(*p->weights)) {
      QUENCH_CHECK(e->ggml && e->ggml->type == *p->weights->ggml, l.name(), ": planned as ", p->weights->describe(),
                   " but carries no such encoding (was the model compressed with this recipe?)");
      groups[{scheme_of(*p, fmt)}].push_back(l.name());
      const Fp4Tensors ft = fp4_of(l, *e);
      add_raw(l.name() + ".weight_packed", ft.packed);
      add_raw(l.name() + ".weight_scale", ft.scale);
      if (ft.global.defined()) {
        stored_as[l.name() + ".weight_scale"] = StDtype::F8_E4M3;
        add_raw(l.name() + ".weight_global_scale", ft.global);
      }
      continue;
    }
    if (p->weights->fp8) {
      groups[{scheme_of(*p, fmt)}].push_back(l.name());
      const Fp8Tensors ft = fp8_of(l, *e);
      if (s24) {
        sparse24(l.name(), ft.values, tensors);
        stored_as[l.name() + ".compressed"] = StDtype::F8_E4M3;
      } else {
        add_raw(l.name() + ".weight", ft.values);
        stored_as[l.name() + ".weight"] = StDtype::F8_E4M3;
      }
      add_raw(l.name() + ".weight_scale", ft.scale);
      continue;
    }
    const QuantTensors qt = integers_of(l, *e);
    const ops::QuantSpec& spec = *e->spec;
    json scheme = scheme_of(*p, fmt);
    QUENCH_CHECK(scheme["weights"]["actorder"].is_null() == !e->g_idx.defined(), l.name(),
                 ": act-order setting and recorded column order (g_idx) disagree");
    groups[{scheme}].push_back(l.name());
    if (fmt == "pack-quantized") {
      add_raw(l.name() + ".weight_packed", ops::pack_int32(qt.q, spec.bits));
      add_raw(l.name() + ".weight_shape", at::tensor({qt.q.size(0), qt.q.size(1)}, at::kLong));
      if (qt.zero.defined()) {
        if (spec.granularity == ops::Granularity::Tensor) add_raw(l.name() + ".weight_zero_point", qt.zero);
        else add_raw(l.name() + ".weight_zero_point", ops::pack_int32(qt.zero.t().contiguous(), spec.bits).t().contiguous());
      }
    } else if (s24) {
      sparse24(l.name(), qt.q, tensors);
      if (qt.zero.defined()) add_raw(l.name() + ".weight_zero_point", qt.zero);
    } else {
      add_raw(l.name() + ".weight", qt.q);
      if (qt.zero.defined()) add_raw(l.name() + ".weight_zero_point", qt.zero);
    }
    add_raw(l.name() + ".weight_scale", qt.scale);
    if (e->g_idx.defined()) add_raw(l.name() + ".weight_g_idx", e->g_idx.to(at::kCPU, at::kInt));
  }
  for (const auto& [name, t] : model.params()) add(name, t);
  for (const auto& k : plan.kv) {
    const auto it = o.kv_scales.find(k.module);
    QUENCH_CHECK(it != o.kv_scales.end(), k.module, ": FP8 KV cache without its calibrated scales (export the model as the compress "
                                                    "run that calibrated it)");
    // llm-compressor's names (the attention module's k_scale / v_scale), F32 [1], x_fp8 = x / scale.
    add_raw(k.module + ".k_scale", at::tensor({static_cast<float>(it->second.first)}, at::kFloat));
    add_raw(k.module + ".v_scale", at::tensor({static_cast<float>(it->second.second)}, at::kFloat));
  }

  // quantization_config
  json qc = json::object();
  std::set<std::string> formats;
  std::vector<std::string> quantized_layers;
  const bool kv = !plan.kv.empty();
  if (!groups.empty() || kv) {
    json cg = json::object();
    int i = 0;
    for (const auto& [key, layers] : groups) {
      json g = key.scheme;
      if (groups.size() == 1) {
        g["targets"] = json::array({"Linear"});
      } else {
        g["targets"] = json::array();
        for (const auto& n : layers) g["targets"].push_back(exact_target(n));
      }
      formats.insert(g["format"].get<std::string>());
      cg["group_" + std::to_string(i++)] = g;
      quantized_layers.insert(quantized_layers.end(), layers.begin(), layers.end());
    }
    qc["config_groups"] = cg;
    qc["format"] = formats.empty() ? std::string("dense") : formats.size() == 1 ? *formats.begin() : std::string("mixed-precision");
    qc["quantization_status"] = "compressed";
    qc["global_compression_ratio"] = nullptr;
    qc["ignore"] = ignore;
    qc["kv_cache_scheme"] = nullptr;
    if (kv)
      qc["kv_cache_scheme"] = {{"num_bits", 8}, {"type", "float"}, {"symmetric", true}, {"strategy", "tensor"}, {"group_size", nullptr},
                               {"block_structure", nullptr}, {"dynamic", false}, {"observer", "minmax"}, {"observer_kwargs", json::object()},
                               {"actorder", nullptr}};
  }
  qc["quant_method"] = "compressed-tensors";
  qc["version"] = kCtVersion;
  qc["transform_config"] = json::object();
  qc["sparsity_config"] = json::object();
  if (!sparse_layers.empty()) {
    json targets = json::array();
    for (const auto& n : sparse_layers) targets.push_back(exact_target(n));
    qc["sparsity_config"] = {{"format", "sparse-24-bitmask"}, {"sparsity_structure", "2:4"}, {"targets", targets}, {"ignore", json::array()},
                             {"global_sparsity", sparse_total ? static_cast<double>(sparse_zeros) / static_cast<double>(sparse_total) : 0.0}};
  }

  json config = model.config().json();
  config["dtype"] = dtype == at::kHalf ? "float16" : dtype == at::kBFloat16 ? "bfloat16" : "float32";
  if (!groups.empty() || !sparse_layers.empty() || kv) config["quantization_config"] = qc;

  // shards
  std::vector<std::vector<size_t>> shards(1);
  int64_t in_shard = 0, total = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const int64_t bytes = tensors[i].second.numel() * tensors[i].second.element_size();
    if (!shards.back().empty() && in_shard + bytes > o.max_shard_bytes) shards.emplace_back(), in_shard = 0;
    shards.back().push_back(i);
    in_shard += bytes;
    total += bytes;
  }
  auto shard_name = [&](size_t k) {
    if (shards.size() == 1) return std::string("model.safetensors");
    char buf[64];
    std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", k + 1, shards.size());
    return std::string(buf);
  };

  const fs::path target = fs::absolute(dir);
  const fs::path tmp = save_temp_dir(target, "quench-ct");
  try {
    fs::create_directories(tmp);
    json weight_map = json::object();
    for (size_t k = 0; k < shards.size(); ++k) {
      std::vector<std::pair<std::string, at::Tensor>> part;
      for (size_t i : shards[k]) {
        part.push_back(tensors[i]);
        weight_map[tensors[i].first] = shard_name(k);
      }
      save_safetensors((tmp / shard_name(k)).string(), part, {{"format", "pt"}}, stored_as);
      if (o.progress) o.progress(static_cast<int64_t>(k + 1), static_cast<int64_t>(shards.size()));
    }
    if (shards.size() > 1)
      write_file_atomic((tmp / "model.safetensors.index.json").string(),
                        json({{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}}).dump(2) + "\n");
    write_file_atomic((tmp / "config.json").string(), config.dump(2) + "\n");
    copy_source_files(model, tmp.string());
    std::error_code ec;
    if (fs::exists(target, ec)) {
      QUENCH_CHECK(fs::is_directory(target, ec), dir, ": is not a directory");
      if (!remove_tree(target.string())) fail(dir, ": cannot remove the old directory");
    }
    fs::rename(tmp, target);
  } catch (const fs::filesystem_error& ex) {
    remove_tree(tmp.string());
    throw Error(dir + ": cannot write the compressed-tensors checkpoint (" + ex.what() + ")");
  } catch (...) {
    remove_tree(tmp.string());
    throw;
  }
}

}  // namespace quench
