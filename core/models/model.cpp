#include "core/models/model.h"

#include <malloc.h>

#include <unistd.h>

#include <filesystem>
#include <set>

#include "core/io/safetensors.h"
#include "core/util/error.h"

namespace quench {

Model::Model(std::string architecture, std::shared_ptr<const Checkpoint> ckpt, Modality modality)
    : architecture_(std::move(architecture)), ckpt_(std::move(ckpt)), modality_(modality) {}

Model::Resident::Resident(Model& model, std::vector<Layer*> layers) : model_(model), layers_(std::move(layers)) {
  if (!model_.streaming_) return;
  TensorCache cache;
  for (Layer* l : layers_) l->make_resident(cache);
}

Model::Resident::~Resident() {
  if (!model_.streaming_) return;
  for (Layer* l : layers_) l->evict();
  model_.release_pages();
  // The copies were freed; give the heap's free pages back too, so that resident memory follows
  // what is alive rather than the largest block seen.
  malloc_trim(0);
}

void Model::release_pages() const {
  ckpt_->release_pages();
  for (const auto& f : settled_) f->release_pages();
}

void Model::settle(const std::vector<Layer*>& layers) {
  if (!streaming_) return;
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  std::vector<Layer*> changed;
  for (Layer* l : layers) {
    // A kernel (low-rank factors) is what computes the layer; it stays in memory.
    if (!l->streamed() || !l->resident() || !l->modified() || l->kernel()) continue;
    changed.push_back(l);
    tensors.emplace_back(l->name() + ".weight", l->weight());
    if (l->bias().defined()) tensors.emplace_back(l->name() + ".bias", l->bias());
  }
  if (changed.empty()) return;
  namespace fs = std::filesystem;
  static int counter = 0;
  const fs::path path = fs::temp_directory_path() / ("quench-settled-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) + ".safetensors");
  std::shared_ptr<const SafetensorsFile> file;
  try {
    save_safetensors(path.string(), tensors);
    file = std::make_shared<const SafetensorsFile>(path.string());
  } catch (const std::exception& e) {
    std::error_code ec;
    fs::remove(path, ec);
    fail(changed.front()->name(), ": cannot keep the compressed block in ", path.string(), " (", e.what(), ")");
  }
  std::error_code ec;
  fs::remove(path, ec);  // the mapping keeps the data; the disk space goes with it
  for (Layer* l : changed) l->rest_on(file->load(l->name() + ".weight"), l->bias().defined() ? file->load(l->name() + ".bias") : at::Tensor());
  settled_.push_back(std::move(file));
}

ModelOutputs Model::forward(const ModelInputs& in, bool hidden_states) {
  ModelOutputs out;
  const auto style = hidden_states_style();
  if (in.input_ids.defined() && in.input_ids.dim() == 2) check_context(in.input_ids.size(1), "an input of");
  at::Tensor h = embed(in);
  if (streaming_) release_pages();
  if (hidden_states && style != HiddenStates::BlocksThenNormed) out.hidden_states.push_back(h);
  const int64_t n = num_blocks();
  for (int64_t i = 0; i < n; ++i) {
    {
      Resident resident(*this, block_layers(i));
      h = block(i, h);
    }
    if (hidden_states && records_hidden_state(i)) out.hidden_states.push_back(h);
  }
  at::Tensor normed = final_norm(h);
  if (hidden_states && style == HiddenStates::EmbeddingsThenBlocksLastNormed) out.hidden_states.back() = normed;
  if (hidden_states && style == HiddenStates::BlocksThenNormed) out.hidden_states.push_back(normed);
  out.logits = output(normed);
  if (streaming_) release_pages();
  return out;
}

at::Tensor Model::decode(const at::Tensor& ids, DecodeCache& cache) {
  QUENCH_CHECK(can_decode(), architecture_, ": has no decoding cache (keys and values, or a recurrent state), so it cannot decode step by step");
  QUENCH_CHECK(ids.dim() == 2 && ids.size(1) > 0, "decode: input_ids must be [B, T] with T > 0, got ", ids.sizes());
  check_context(cache.pos + ids.size(1), "a generated sequence of");
  const int64_t n = num_blocks();
  if (cache.blocks.empty()) cache.blocks.resize(static_cast<size_t>(n));
  QUENCH_CHECK(static_cast<int64_t>(cache.blocks.size()) == n, "decode: the cache has ", cache.blocks.size(), " blocks, the model ", n);
  if (cache.kv.empty()) cache.kv.resize(static_cast<size_t>(n));
  ModelInputs in;
  in.input_ids = ids;
  // KV-cache transforms at the points let the tokens through while decode() runs (the store
  // quantizes); the flag is cleared even when a block throws.
  struct Decoding {
    bool& flag;
    explicit Decoding(bool& f) : flag(f) { flag = true; }
    ~Decoding() { flag = false; }
  } decoding(decoding_);
  at::Tensor h = embed_step(in, cache.pos);
  for (int64_t i = 0; i < n; ++i) {
    Resident resident(*this, block_layers(i));
    h = block_step(i, h, cache);
  }
  cache.pos += ids.size(1);
  at::Tensor logits = output(final_norm(h));
  if (streaming_) release_pages();
  return logits;
}

KvStore& Model::kv_store(int64_t i, DecodeCache& cache) const {
  QUENCH_CHECK(i >= 0 && i < static_cast<int64_t>(cache.kv.size()), "decode: no cache slot for block ", i);
  auto& s = cache.kv[static_cast<size_t>(i)];
  if (!s) s = kv_factory_ ? kv_factory_(i) : nullptr;
  if (!s) s = std::make_unique<FloatKvStore>();
  return *s;
}

int64_t Model::DecodeCache::kv_bytes() const {
  int64_t n = 0;
  for (const auto& s : kv)
    if (s) n += s->bytes();
  return n;
}

int64_t Model::DecodeCache::bytes() const {
  int64_t n = kv_bytes();
  for (const auto& b : blocks)
    for (const auto& t : b)
      if (t.defined()) n += t.numel() * static_cast<int64_t>(t.element_size());
  return n;
}

at::Tensor Model::block_step(int64_t, const at::Tensor&, DecodeCache&) {
  fail(architecture_, ": has no decoding cache (keys and values, or a recurrent state), so it cannot decode step by step");
}

void Model::forward_batches(const std::vector<ModelInputs>& batches, const std::function<void(size_t, const at::Tensor&)>& done,
                            const std::function<void(int64_t, int64_t)>& on_block, uint64_t max_hidden_bytes) {
  if (!streaming_) {
    for (size_t k = 0; k < batches.size(); ++k) done(k, forward(batches[k]).logits);
    return;
  }
  // Groups of batches whose hidden states stay under max_hidden_bytes go through the blocks
  // together: a long text does not hold every window's activations at once.
  const int64_t n = num_blocks();
  for (size_t first = 0; first < batches.size();) {
    std::vector<at::Tensor> h;
    uint64_t bytes = 0;
    size_t last = first;
    while (last < batches.size() && (h.empty() || bytes < max_hidden_bytes)) {
      const ModelInputs& in = batches[last++];
      if (in.input_ids.defined() && in.input_ids.dim() == 2) check_context(in.input_ids.size(1), "an input of");
      h.push_back(embed(in));
      bytes += static_cast<uint64_t>(h.back().numel()) * h.back().element_size();
    }
    release_pages();
    for (int64_t i = 0; i < n; ++i) {
      {
        Resident resident(*this, block_layers(i));
        for (auto& x : h) x = block(i, x);
      }
      if (on_block) on_block(i + 1, n);
    }
    for (size_t k = 0; k < h.size(); ++k) {
      const at::Tensor logits = output(final_norm(h[k]));
      h[k] = at::Tensor();
      done(first + k, logits);
    }
    release_pages();
    first = last;
  }
}

Layer* Model::find_layer(const std::string& name) const {
  auto it = layer_index_.find(name);
  return it == layer_index_.end() ? nullptr : layers_[it->second].get();
}

Layer& Model::layer(const std::string& name) const {
  Layer* l = find_layer(name);
  QUENCH_CHECK(l, architecture_, ": no compressible layer named '", name, "'");
  return *l;
}

std::vector<Layer*> Model::block_layers(int64_t i) const {
  const std::string prefix = block_name(i) + ".";
  std::vector<Layer*> out;
  for (const auto& l : layers_)
    if (l->name().compare(0, prefix.size(), prefix) == 0) out.push_back(l.get());
  return out;
}

void Model::to(at::Device device, at::ScalarType dtype) {
  TensorCache cache;
  for (auto& l : layers_) l->to(device, dtype, cache);
  for (auto& [name, t] : params_) t = convert_cached(t, device, dtype, cache);
  for (auto& [name, t] : original_params_) t = convert_cached(t, device, dtype, cache);
  device_ = device;
  dtype_ = dtype;
  streaming_ = false;
}

void Model::stream(at::Device device, at::ScalarType dtype, int64_t slice_bytes) {
  // Copies, not views: the mapped pages are released after each block, and a parameter some code
  // changed in place would lose the change with them.
  TensorCache cache;
  for (auto& [name, t] : params_) {
    const void* key = t.unsafeGetTensorImpl();
    if (auto it = cache.find(key); it != cache.end()) {
      t = it->second;
      continue;
    }
    at::Tensor c = at::isFloatingType(t.scalar_type()) ? t.to(device, dtype, false, true) : t.to(device, t.scalar_type(), false, true);
    cache[key] = c;
    t = c;
  }
  QUENCH_CHECK(original_params_.empty(), architecture_, ": a compressed model cannot be streamed from its checkpoint");
  const auto opts = at::TensorOptions().device(device).dtype(dtype);
  for (auto& l : layers_) l->keep_at_rest(opts, slice_bytes, [this] { release_pages(); });
  device_ = device;
  dtype_ = dtype;
  streaming_ = true;
  ckpt_->release_pages();
}

int64_t Model::parameter_count() const {
  std::set<const void*> seen;
  int64_t n = 0;
  auto count = [&](const at::Tensor& t) {
    if (t.defined() && seen.insert(t.unsafeGetTensorImpl()).second) n += t.numel();
  };
  for (const auto& l : layers_) {
    if (l->kernel()) {
      n += l->kernel()->parameters();
      count(l->bias());
    } else {
      count(l->weight());
      count(l->bias());
    }
  }
  for (const auto& [name, t] : params_)
    if (!is_buffer_.at(name)) count(t);
  return n;
}

at::Tensor& Model::param(const std::string& name) {
  auto it = params_.find(name);
  QUENCH_CHECK(it != params_.end(), architecture_, ": no parameter named '", name, "'");
  return it->second;
}

bool Model::is_buffer(const std::string& name) const {
  auto it = is_buffer_.find(name);
  QUENCH_CHECK(it != is_buffer_.end(), architecture_, ": no parameter named '", name, "'");
  return it->second;
}

void Model::set_param(const std::string& name, const at::Tensor& t) {
  at::Tensor& cur = param(name);
  QUENCH_CHECK(t.sizes() == cur.sizes(), architecture_, ": replacement for parameter '", name, "' has shape ", t.sizes(), ", expected ",
               cur.sizes());
  if (!original_params_.count(name)) original_params_[name] = cur;
  // Assigned in place: architectures hold pointers to the map's entries.
  cur = t.to(cur.device(), cur.scalar_type());
}

void Model::reset_compression() {
  for (auto& l : layers_) l->reset();
  for (auto& [name, t] : original_params_) params_.at(name) = t;
  original_params_.clear();
  settled_.clear();
  hooks_.clear_transforms();
  kv_factory_ = nullptr;
}

at::Tensor Model::load(const std::string& name) const { return ckpt_->load(name); }

Layer* Model::add_layer(const std::string& name, LayerKind kind, bool bias, ConvSpec conv) {
  at::Tensor w = load(name + ".weight");
  bound_.push_back(name + ".weight");
  at::Tensor b;
  if (has_tensor(name + ".bias")) {
    b = load(name + ".bias");
    bound_.push_back(name + ".bias");
  } else {
    QUENCH_CHECK(!bias, ckpt_->dir(), ": missing tensor '", name, ".bias' (the config asks for biases)");
  }
  Layer* l = add_layer_with(name, kind, w, b, std::move(conv));
  if (auto g = ckpt_->stored_int_grid(name + ".weight")) {
    // A compressed-tensors weight keeps its integer grid, so it can run packed as stored.
    auto e = std::make_shared<WeightEncoding>();
    ops::QuantSpec spec;
    spec.bits = g->bits;
    spec.symmetric = g->symmetric;
    spec.granularity = g->strategy == "group" ? ops::Granularity::Group : g->strategy == "channel" ? ops::Granularity::Row : ops::Granularity::Tensor;
    spec.group_size = g->group_size;
    e->spec = spec;
    e->params = {g->scale, g->zero};
    e->g_idx = g->g_idx;
    l->set_stored_encoding(std::move(e));
  }
  return l;
}

Layer* Model::add_layer_with(const std::string& name, LayerKind kind, at::Tensor weight, at::Tensor bias, ConvSpec conv) {
  QUENCH_CHECK(!layer_index_.count(name), architecture_, ": layer '", name, "' defined twice");
  layer_index_[name] = layers_.size();
  layers_.push_back(std::make_unique<Layer>(name, kind, std::move(weight), std::move(bias), &hooks_, std::move(conv)));
  Layer* l = layers_.back().get();
  if (kind != LayerKind::Embedding) add_point(l->input_point(), name, std::string("input of ") + kind_name(kind));
  add_point(l->output_point(), name, std::string("output of ") + kind_name(kind));
  return l;
}

at::Tensor* Model::add_param(const std::string& name, bool buffer) {
  bound_.push_back(name);
  return add_param_tensor(name, load(name), buffer);
}

at::Tensor* Model::add_param_tensor(const std::string& name, at::Tensor t, bool buffer) {
  auto [it, fresh] = params_.emplace(name, std::move(t));
  QUENCH_CHECK(fresh, architecture_, ": parameter '", name, "' defined twice");
  is_buffer_[name] = buffer;
  return &it->second;
}

void Model::add_point(const std::string& name, const std::string& layer, const std::string& description) {
  points_.push_back({name, layer, description});
}

void Model::expect_shape(const std::string& name, at::IntArrayRef actual, const std::vector<int64_t>& expected) const {
  bool ok = actual.size() == expected.size();
  for (size_t i = 0; ok && i < expected.size(); ++i) ok = expected[i] < 0 || actual[i] == expected[i];
  if (ok) return;
  std::string want = "[";
  for (size_t i = 0; i < expected.size(); ++i) want += (i ? ", " : "") + (expected[i] < 0 ? std::string("*") : std::to_string(expected[i]));
  fail(ckpt_->dir(), ": tensor '", name, "' has shape ", actual, " but ", ckpt_->config().path(), " implies ", want, "]");
}

int64_t Model::layer_count(const std::string& key) const {
  return config().get_int_in(key, 1, static_cast<int64_t>(ckpt_->names().size()));
}

void Model::check_context(int64_t ctx, const std::string& option) const {
  if (max_positions_ > 0 && ctx > max_positions_)
    throw UsageError(detail::concat(option, " ", ctx, " is longer than this model can read: ", config().path(), " gives ",
                                    max_positions_key_, " = ", max_positions_, " positions"));
}

void Model::check_all_tensors_used(const std::vector<std::string>& ignorable_suffixes) const {
  std::set<std::string> used(bound_.begin(), bound_.end());
  for (const auto& n : ckpt_->names()) {
    if (used.count(n)) continue;
    bool ignorable = false;
    for (const auto& s : ignorable_suffixes)
      if (n.size() >= s.size() && n.compare(n.size() - s.size(), s.size(), s) == 0) ignorable = true;
    QUENCH_CHECK(ignorable, ckpt_->dir(), ": tensor '", n, "' is not used by the ", architecture_,
                 " implementation (a config/checkpoint mismatch, or a variant Quench does not support)");
  }
}

}  // namespace quench
