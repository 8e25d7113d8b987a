#include "core/eval/evaluate.h"

#include <ATen/core/grad_mode.h>  // at::NoGradGuard (not in ATen.h on libtorch 2.x)

#include <chrono>
#include <cmath>

#include "core/data/token_windows.h"
#include "core/store/metrics.h"
#include "core/util/error.h"

namespace quench {

namespace {

EvalResult evaluate_text(Model& model, const at::Tensor& ids_in, const EvalOptions& o, Model* ref, const Progress& cb) {
  QUENCH_CHECK(ids_in.defined() && ids_in.numel() > 0, "evaluation of ", model.architecture(), " needs token ids");
  model.check_context(o.ctx, "--ctx");
  auto ids = ids_in.reshape({-1}).to(at::kLong);
  const auto windows = perplexity_windows(ids.numel(), o.ctx, o.stride, o.max_windows);
  const int64_t vocab = model.layers().front()->weight().size(0);
  const auto mx = ids.max().item<int64_t>();
  QUENCH_CHECK(mx < vocab, "token id ", mx, " is outside the model's vocabulary of ", vocab);
  // A streamed model runs the batches block by block (Model::forward_batches): progress counts
  // windows as their logits come out, and names the block meanwhile.
  const int64_t B = std::max<int64_t>(1, o.batch);
  struct Batch {
    ModelInputs in;
    at::Tensor targets, mask;
    int64_t windows_done = 0;
  };
  std::vector<Batch> batches;
  for (size_t w0 = 0; w0 < windows.size();) {
    // Windows in one batch share a length; the last window of a sliding run can be shorter.
    size_t w1 = std::min(windows.size(), w0 + static_cast<size_t>(B));
    while (w1 > w0 + 1 && windows[w1 - 1].length != windows[w0].length) --w1;
    const int64_t L = windows[w0].length;
    std::vector<at::Tensor> rows;
    std::vector<int64_t> from;
    for (size_t w = w0; w < w1; ++w) {
      rows.push_back(ids.narrow(0, windows[w].begin, L));
      from.push_back(windows[w].score_from);
    }
    auto batch = at::stack(rows).to(model.device());  // [b, L]
    Batch b;
    b.in.input_ids = batch.narrow(1, 0, L - 1);
    b.targets = batch.narrow(1, 1, L - 1);
    // positions ≥ score_from count (sliding windows score only tokens not scored before)
    auto pos = at::arange(L - 1, at::TensorOptions().dtype(at::kLong).device(model.device())).unsqueeze(0);
    b.mask = pos >= at::tensor(from, at::kLong).to(model.device()).unsqueeze(1);
    b.windows_done = static_cast<int64_t>(w1);
    batches.push_back(std::move(b));
    w0 = w1;
  }
  ProgressTracker progress(cb, static_cast<int64_t>(windows.size()));
  progress.report(0, "evaluating perplexity");
  double nll = 0;
  int64_t scored = 0;
  FidelityAccumulator fid;
  std::vector<ModelInputs> inputs;
  for (const auto& b : batches) inputs.push_back(b.in);
  at::NoGradGuard ng;
  model.forward_batches(
      inputs,
      [&](size_t k, const at::Tensor& logits) {
        const Batch& b = batches[k];
        auto lp = at::log_softmax(logits.to(at::kFloat), -1);
        auto tok_nll = -lp.gather(-1, b.targets.unsqueeze(-1)).squeeze(-1);
        nll += tok_nll.masked_select(b.mask).to(at::kDouble).sum().item<double>();
        scored += b.mask.sum().item<int64_t>();
        if (ref) fid.add(ref->forward(b.in).logits, logits, b.mask);
        progress.report(b.windows_done, "evaluating perplexity");
      },
      [&](int64_t i, int64_t n) {
        progress.report(progress.done(), "evaluating perplexity: block " + std::to_string(i) + " of " + std::to_string(n));
      });
  EvalResult r;
  r.metric = metric_names::kPerplexity;
  r.tokens = scored;
  r.windows = static_cast<int64_t>(windows.size());
  r.nll = nll / static_cast<double>(scored);
  r.value = std::exp(r.nll);
  if (ref) r.fidelity = fid.result();
  return r;
}

EvalResult evaluate_images(Model& model, const EvalData& d, const EvalOptions& o, Model* ref, const Progress& cb) {
  QUENCH_CHECK(d.images, "evaluation of ", model.architecture(), " needs an image set");
  const auto& ds = *d.images;
  int64_t n = ds.size();
  if (o.max_images > 0) n = std::min(n, o.max_images);
  ProgressTracker progress(cb, n);
  progress.report(0, "evaluating accuracy");
  int64_t top1 = 0, top5 = 0;
  FidelityAccumulator fid;
  const int64_t B = std::max<int64_t>(1, o.batch);
  for (int64_t i = 0; i < n; i += B) {
    const int64_t b = std::min(B, n - i);
    ModelInputs in;
    in.pixel_values = d.preprocess(ds.images.narrow(0, i, b)).to(model.device());
    auto labels = ds.labels.narrow(0, i, b).to(model.device());
    at::NoGradGuard ng;
    auto logits = model.forward(in).logits;
    const int64_t classes = logits.size(-1);
    if (labels.max().item<int64_t>() >= classes) {
      // The file that holds the label is at fault, not the images beside it.
      const int64_t k = labels.ge(classes).nonzero().reshape(-1)[0].item<int64_t>();
      fail(ds.labels_source.empty() ? ds.source : ds.labels_source, ": label ", labels[k].item<int64_t>(), " (of image ", i + k,
           ") is outside the model's ", classes, " classes");
    }
    auto top = std::get<1>(logits.topk(std::min<int64_t>(5, classes), -1));
    auto hit = top.eq(labels.unsqueeze(1));
    top1 += hit.select(1, 0).sum().item<int64_t>();
    top5 += hit.any(1).sum().item<int64_t>();
    if (ref) fid.add(ref->forward(in).logits, logits);
    progress.report(i + b, "evaluating accuracy");
  }
  EvalResult r;
  r.metric = metric_names::kTop1;
  r.n = n;
  r.value = static_cast<double>(top1) / static_cast<double>(n);
  r.top5 = static_cast<double>(top5) / static_cast<double>(n);
  if (ref) r.fidelity = fid.result();
  return r;
}

}  // namespace

EvalResult evaluate(Model& model, const EvalData& data, const EvalOptions& opts, Model* reference, const Progress& progress) {
  const auto start = std::chrono::steady_clock::now();
  EvalResult r = model.modality() == Modality::Text ? evaluate_text(model, data.token_ids, opts, reference, progress)
                                                    : evaluate_images(model, data, opts, reference, progress);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace quench
