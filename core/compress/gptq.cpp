#include "core/compress/gptq.h"

#include <cctype>

#include <algorithm>
#include <optional>

#include "core/compress/weight_method.h"
#include "core/nn/layer.h"
#include "core/ops/gptq_block.h"
#include "core/util/error.h"

namespace quench {

namespace {

// TF32 products for the duration of one accumulation (libtorch has no per-call switch).
class AllowTf32 {
 public:
  AllowTf32() : was_(at::globalContext().allowTF32CuBLAS()) { at::globalContext().setAllowTF32CuBLAS(true); }
  ~AllowTf32() { at::globalContext().setAllowTF32CuBLAS(was_); }
  AllowTf32(const AllowTf32&) = delete;
  AllowTf32& operator=(const AllowTf32&) = delete;

 private:
  bool was_;
};

}  // namespace

void HessianAccumulator::add(const at::Tensor& x_in) {
  QUENCH_CHECK(x_in.size(-1) == in_, "HessianAccumulator: input has ", x_in.size(-1), " features, expected ", in_);
  QUENCH_CHECK(!spent_, "HessianAccumulator: inputs added after the Hessian was handed over");
  const auto x2d = x_in.reshape({-1, in_});
  const at::ScalarType t = x2d.scalar_type();
  // Half-precision values are exact in TF32 (10 mantissa bits), so on a GPU their products run on
  // tensor cores in float32; float64 GEMMs made the Hessians half of an 8B GPTQ run's time.
  const bool tf32 = x2d.is_cuda() && (t == at::kBFloat16 || t == at::kHalf);
  if (!sum_.defined()) sum_ = at::zeros({in_, in_}, x2d.options().dtype(tf32 ? at::kFloat : at::kDouble));
  std::optional<AllowTf32> allow;
  if (tf32 && sum_.scalar_type() == at::kFloat) allow.emplace();
  // Rows a slice at a time: the widened copy of a 16k-token batch of 14336 features is 0.9 GB in
  // float32; a slice keeps it near 256 MB.
  const int64_t n = x2d.size(0), step = std::max<int64_t>(1024, (int64_t{64} << 20) / in_);
  for (int64_t r = 0; r < n; r += step) {
    const at::Tensor x = x2d.narrow(0, r, std::min(step, n - r)).to(sum_.scalar_type());
    sum_.addmm_(x.t(), x);
  }
  rows_ += n;
}

at::Tensor HessianAccumulator::hessian() {
  QUENCH_CHECK(!spent_, "HessianAccumulator: the Hessian was already handed over to its last user");
  QUENCH_CHECK(rows_ > 0, "HessianAccumulator: no inputs were added");
  const double scale = 2.0 / static_cast<double>(rows_);
  const bool last = uses_left_ > 0 && --uses_left_ == 0;
  at::Tensor sum = last ? std::move(sum_) : sum_;
  spent_ = last;
  // The same roundings either way. A float32 sum is scaled in place (a copy unless it is the
  // last use); a float64 one on a GPU is narrowed first, without a float64 temporary (1.6 GB for
  // 14336 inputs); on the CPU it is scaled in float64.
  if (sum.scalar_type() == at::kFloat) return (last ? sum : sum.clone()).mul_(scale);
  if (sum.is_cuda()) return sum.to(at::kFloat).mul_(scale);
  return (last ? sum.mul_(scale) : sum * scale).to(at::kFloat);
}

namespace {

// (scale, zero) for the columns cols [out, c] under spec (per row of the slice, or one for the tensor).
ops::QuantParams fit(const at::Tensor& cols, const ops::QuantSpec& spec) {
  ops::QuantSpec s = spec;
  if (s.granularity == ops::Granularity::Group) s.granularity = ops::Granularity::Row;
  return ops::compute_qparams(cols, s);
}

}  // namespace

int64_t zero_dead_inputs(at::Tensor& W, at::Tensor& H) {
  const at::Tensor dead = H.diagonal() == 0;
  const int64_t n = dead.sum().item<int64_t>();
  if (n > 0) {
    H.diagonal().masked_fill_(dead, 1.0);
    W.index_put_({at::indexing::Slice(), dead}, 0.0);
  }
  return n;
}

at::Tensor upper_inverse_cholesky(at::Tensor& H, double damp, const std::string& layer, const char* damp_key, double* lambda) {
  const double l = damp * H.diagonal().mean().item<double>();
  H.diagonal().add_(l);
  if (lambda) *lambda = l;
  if (H.is_cuda()) {
    // On a GPU in float32, as the reference implementation does: a 14336-input Hessian's float64
    // factors held 7 GB at once. Each factor is dropped as soon as the next exists; float64 is the
    // fallback when float32 finds the damped H not positive definite.
    try {
      at::Tensor inv = at::cholesky_inverse(at::linalg_cholesky(H.to(at::kFloat)));
      // upper=true returns a transposed view; the block kernel reads U row-major.
      at::Tensor U = at::linalg_cholesky(inv, /*upper=*/true).contiguous();
      if (at::isfinite(U).all().item<bool>()) return U;
    } catch (const c10::Error&) {
    }
  }
  at::Tensor L;
  try {
    L = at::linalg_cholesky(H.to(at::kDouble));
  } catch (const c10::Error&) {
    fail(layer, ": the Hessian is not positive definite after damping ", damp, " (raise ", damp_key, ")");
  }
  return at::linalg_cholesky(at::cholesky_inverse(L)).transpose(0, 1).contiguous().to(at::kFloat);
}

at::Tensor gptq_quantize(const at::Tensor& w_in, at::Tensor H_in, const WeightQuant& setting, const std::string& layer,
                         GptqInfo* info) {
  QUENCH_CHECK(w_in.dim() == 2 && H_in.dim() == 2 && H_in.size(0) == w_in.size(1) && H_in.size(1) == w_in.size(1), layer,
               ": GPTQ needs W [out, in] and H [in, in], got ", w_in.sizes(), " and ", H_in.sizes());
  at::NoGradGuard ng;
  const int64_t in = w_in.size(1);
  const ops::QuantSpec spec = setting.spec();
  const std::optional<GgmlType> ggml = setting.ggml;
  // A ggml type fits its parameters a block (K-quants: a super-block) at a time, like groups.
  const bool grouped = ggml || setting.strategy == WeightStrategy::Group;
  const int64_t g = ggml ? setting.unit() : grouped ? setting.group_size : in;
  // Blocks hold whole groups, so a group's parameters are fitted on columns that carry every
  // update made so far.
  int64_t B = std::max<int64_t>(1, setting.integer("block_size"));
  if (grouped) B = std::max<int64_t>(g, (B / g) * g);

  at::Tensor W = w_in.to(at::kFloat).clone();
  // H is damped and permuted in place: a copy, unless this call holds the only reference to it.
  const bool owned = H_in.use_count() == 1 && H_in.storage().use_count() == 1;
  at::Tensor H = H_in.to(W.device(), at::kFloat);
  if (H.is_same(H_in) && !owned) H = H.clone();
  H_in = at::Tensor();
  // 1. dead inputs
  const int64_t ndead = zero_dead_inputs(W, H);
  // 2. act-order
  at::Tensor perm, invperm;
  if (setting.flag("act_order")) {
    perm = at::argsort(H.diagonal(), /*dim=*/0, /*descending=*/true);
    W = W.index_select(1, perm);
    H = H.index_select(0, perm).index_select(1, perm);
    invperm = at::argsort(perm);
  }
  // Per-tensor and per-channel parameters are fitted once, on the whole (permuted) weight.
  ops::QuantParams params;
  if (!grouped) params = ops::compute_qparams(W, spec);
  // 3–4. damping, U = upper Cholesky factor of H⁻¹
  double damp = 0;
  const at::Tensor U = upper_inverse_cholesky(H, setting.number("damp"), layer, "weights.damp", &damp);
  H = at::Tensor();

  at::Tensor Q = at::zeros_like(W);
  ops::QuantSpec colspec = spec;
  if (grouped) colspec.granularity = ops::Granularity::Row;
  std::vector<ops::QuantParams> group_params;
  std::vector<ops::GgmlParams> ggml_params;
  // NVFP4's tensor scale comes from the weight as GPTQ found it, one for every block it fits.
  const at::Tensor nvfp4_g = ggml && *ggml == GgmlType::NVFP4 ? ops::nvfp4_global(W) : at::Tensor();
  // On CUDA each block of columns is one kernel (the same roundings as the loop below); the loop
  // stays the reference on the CPU and serves ggml grids, which fit per column on the host.
  const bool kernel = !ggml && !setting.fp8 && !setting.olive && ops::gptq_block_on_kernel(W, spec, B);
  at::Tensor loss_t = at::zeros({1}, W.options().dtype(at::kDouble));
  at::Tensor group_scale, group_zero;
  if (kernel && grouped) {
    const int64_t groups = (in + g - 1) / g;
    group_scale = at::empty({W.size(0), groups}, W.options());
    if (!spec.symmetric) group_zero = at::empty({W.size(0), groups}, W.options().dtype(at::kInt));
  }
  for (int64_t i1 = 0; i1 < in; i1 += B) {
    const int64_t i2 = std::min(i1 + B, in), count = i2 - i1;
    at::Tensor Err1;
    if (kernel) {
      Err1 = at::empty({W.size(0), count}, W.options());
      ops::gptq_block(W, Q, Err1, U, i1, count, spec, params, group_scale, group_zero, loss_t);
    } else {
      at::Tensor W1 = W.narrow(1, i1, count).clone();
      at::Tensor Q1 = at::zeros_like(W1);
      Err1 = at::zeros_like(W1);
      const at::Tensor U1 = U.narrow(0, i1, count).narrow(1, i1, count);
      // One host copy of the diagonal per block: a device read per column is a sync per column.
      const at::Tensor diag = U1.diagonal().to(at::kCPU, at::kDouble);
      const auto d_at = diag.accessor<double, 1>();
      for (int64_t i = 0; i < count; ++i) {
        const int64_t col = i1 + i;
        if (ggml && col % g == 0) ggml_params.push_back(ops::ggml_fit(W1.narrow(1, i, g), *ggml, {}, nvfp4_g));
        else if (grouped && !ggml && col % g == 0) group_params.push_back(params = fit(W1.narrow(1, i, std::min(g, count - i)), spec));
        const at::Tensor w = W1.narrow(1, i, 1);  // [out, 1]
        const double d = d_at[i];
        const at::Tensor q = ggml ? ops::ggml_fake_quant_column(w, ggml_params.back(), col % g) : ops::fake_quant(w, params, colspec);
        Q1.narrow(1, i, 1).copy_(q);
        const at::Tensor err = (w - q) / d;
        loss_t.add_(err.pow(2).sum().to(at::kDouble));
        // W1[:, i:] −= err · U1[i, i:]
        W1.narrow(1, i, count - i).sub_(err.matmul(U1.narrow(0, i, 1).narrow(1, i, count - i)));
        Err1.narrow(1, i, 1).copy_(err);
      }
      Q.narrow(1, i1, count).copy_(Q1);
    }
    if (i2 < in) W.narrow(1, i2, in - i2).sub_(Err1.matmul(U.narrow(0, i1, count).narrow(1, i2, in - i2)));
  }
  const double loss = loss_t.item<double>();
  if (setting.flag("act_order")) Q = Q.index_select(1, invperm);
  if (info) {
    info->encoding = {};
    if (ggml) {
      info->encoding.ggml = ops::ggml_cat(ggml_params);
    } else {
      info->encoding.spec = spec;
      if (grouped) {
        // Group k holds (permuted) columns k·g …: its scale is column k of [out, groups].
        if (kernel) {
          info->encoding.params.scale = group_scale;
          info->encoding.params.zero = group_zero;
        } else {
          std::vector<at::Tensor> sc, zs;
          for (const auto& p : group_params) {
            sc.push_back(p.scale.reshape({-1, 1}));
            if (p.zero.defined()) zs.push_back(p.zero.reshape({-1, 1}));
          }
          info->encoding.params.scale = at::cat(sc, 1);
          if (!zs.empty()) info->encoding.params.zero = at::cat(zs, 1);
        }
        if (setting.flag("act_order")) info->encoding.g_idx = at::floor_divide(invperm, g).to(at::kInt);
      } else {
        info->encoding.params = params;
      }
    }
    info->dead_columns = ndead;
    info->damp = damp;
    info->loss = loss;
  }
  return Q;
}

QUENCH_WEIGHT_METHOD(gptq_method, 20) {
  static const WeightMethodInfo m{
      "gptq", "GPTQ", MethodData::Hessian,
      {MethodOption::number("damp", 0.01, 0.0, 1.0, 0.005, "Damping", "GPTQ: λ = damp · mean(diag H) added to the Hessian's diagonal").above_min(),
       MethodOption::integer("block_size", 128, 1, 0, "GPTQ block", "GPTQ: columns quantized per block before the rest are updated"),
       MethodOption::flag("act_order", false, "act order (columns by decreasing Hessian diagonal)",
                          "GPTQ: exported as weight_g_idx in compressed-tensors; GGUF blocks cannot hold it")
           .tagged("act-order")
           .for_grids(kIntGrid | kFp8Grid | kOliveGrid)},
      // act-order groups keep each input column's group index (g_idx, int32)
      [](const WeightQuant& w, int64_t, int64_t in, double slots) {
        return slots * 16.0 + (w.flag("act_order") && w.strategy == WeightStrategy::Group ? 32.0 * static_cast<double>(in) : 0.0);
      },
      "",
      [](WeightMethodCall& c) {
        GptqInfo info;
        c.weight = gptq_quantize(c.weight, c.take_hessian(), c.setting, c.layer.name(), &info);
        c.details["gptq_damp"] = info.damp;
        c.details["gptq_loss"] = info.loss;
        if (info.dead_columns) c.details["dead_columns"] = info.dead_columns;
        c.encoding = std::make_shared<WeightEncoding>(std::move(info.encoding));
      },
      nullptr,
      [](const WeightQuant& w, const std::function<void(const char*, const std::string&)>& fail) {
        if (w.ggml && w.flag("act_order")) {
          std::string format = ggml_info(*w.ggml).name;
          for (char& ch : format) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
          fail("act_order", "GGUF blocks have no column index (g_idx), so act-order cannot be stored with format \"" + format + "\"");
        }
      }};
  return m;
}

}  // namespace quench
