#pragma once
// Observable and replaceable points of a forward pass.
//
// Every tensor a compression method or a statistic cares about passes through Hooks::tap()
// under a stable name: "<HF module name>:input" / ":output" for compressible layers, and
// "<HF module name>:<what>" for internals (Mamba "backbone.layers.3.mixer:x", attention
// "model.layers.3.self_attn:k"). A transform registered for a point replaces the tensor
// (activation fake-quant, clipping, rotations); observers then see what flows on.
#include <ATen/ATen.h>

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace quench {

class Observer {
 public:
  virtual ~Observer() = default;
  // channel_dim: the axis that holds channels (-1 for [..., C], 1 for [B, C, H, W]).
  virtual void observe(const std::string& point, const at::Tensor& t, int64_t channel_dim) = 0;
};

using Transform = std::function<at::Tensor(const at::Tensor&)>;

class Hooks {
 public:
  void add_observer(std::shared_ptr<Observer> o) { observers_.push_back(std::move(o)); }
  void remove_observer(const Observer* o);
  void clear_observers() { observers_.clear(); }
  void set_transform(const std::string& point, Transform f) { transforms_[point] = std::move(f); }
  void clear_transform(const std::string& point) { transforms_.erase(point); }
  void clear_transforms() { transforms_.clear(); }
  bool has_transform(const std::string& point) const { return transforms_.count(point) != 0; }
  // Whether any observer or transform is installed (lets callers skip building views nobody sees).
  bool active() const { return !observers_.empty() || !transforms_.empty(); }
  std::vector<std::string> transform_points() const;

  at::Tensor tap(const std::string& point, at::Tensor t, int64_t channel_dim = -1) const {
    if (!transforms_.empty()) {
      auto it = transforms_.find(point);
      if (it != transforms_.end()) t = it->second(t);
    }
    for (const auto& o : observers_) o->observe(point, t, channel_dim);
    return t;
  }

 private:
  std::vector<std::shared_ptr<Observer>> observers_;
  std::unordered_map<std::string, Transform> transforms_;
};

// Adds an observer for the lifetime of this object (RAII: removed even when a forward throws).
class ScopedObserver {
 public:
  ScopedObserver(Hooks& h, std::shared_ptr<Observer> o) : h_(h), o_(o.get()) { h_.add_observer(std::move(o)); }
  ~ScopedObserver() { h_.remove_observer(o_); }
  ScopedObserver(const ScopedObserver&) = delete;
  ScopedObserver& operator=(const ScopedObserver&) = delete;

 private:
  Hooks& h_;
  const Observer* o_;
};

// An observer from a lambda (tests, quick tools).
class FunctionObserver : public Observer {
 public:
  using Fn = std::function<void(const std::string&, const at::Tensor&, int64_t)>;
  explicit FunctionObserver(Fn f) : f_(std::move(f)) {}
  void observe(const std::string& p, const at::Tensor& t, int64_t cd) override { f_(p, t, cd); }

 private:
  Fn f_;
};

}  // namespace quench
