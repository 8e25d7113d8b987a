#include "core/compress/quamba2.h"

#include <algorithm>
#include <limits>
#include <numeric>

#include "core/compress/quamba.h"
#include "core/models/registry.h"
#include "core/ops/hadamard.h"
#include "core/util/error.h"

namespace quench {

std::string reorder_families() {
  return families_where([](const Structure& s) { return s.ssd_head_reorder; });
}

std::vector<std::string> quamba2_presets() { return {"quamba2-w8a8", "quamba2-w4a8", "quamba2-w4a16"}; }

nlohmann::json quamba2_recipe(const std::string& preset, const std::string& architecture) {
  const auto names = quamba2_presets();
  QUENCH_CHECK(std::find(names.begin(), names.end(), preset) != names.end(), "quamba2_recipe: unknown preset ", preset);
  const ArchitectureInfo* arch = find_architecture(architecture);
  if (!arch || arch->structure->quamba.is_null())
    throw RecipeError("preset", "", "preset: \"" + preset + "\" is a recipe for " +
                                        families_where([](const Structure& s) { return !s.quamba.is_null(); }) + ", not " + architecture);
  const bool w4 = preset != "quamba2-w8a8", a8 = preset != "quamba2-w4a16";
  const nlohmann::json w8 = {{"bits", 8}, {"symmetric", true}, {"strategy", "tensor"}, {"method", "rtn"}};
  const nlohmann::json w4g = {{"bits", 4}, {"symmetric", true}, {"strategy", "group"}, {"group_size", 128}, {"method", "gptq"}, {"damp", 0.01}};
  nlohmann::json r;
  if (!a8) {
    // W4A16: the weights alone; nothing for the reordering to group.
    r["name"] = preset;
    r["default"] = {{"weights", w8}};
    r["overrides"] = nlohmann::json::array({{{"match", "*.mixer.in_proj"}, {"weights", w4g}}, {{"match", "*.mixer.out_proj"}, {"weights", w4g}}});
    return r;
  }
  r = quamba_recipe(architecture);  // Quamba's points and rotated out_proj input
  r["name"] = preset;
  if (w4) {
    r["overrides"].push_back({{"match", "*.mixer.in_proj"}, {"weights", w4g}});
    r["overrides"].push_back({{"match", "*.mixer.out_proj"}, {"weights", w4g}});
  }
  if (arch->structure->ssd_head_reorder) {
    // Grouped static scales replace Quamba's per-tensor ones at the scan's points: absmax ranges
    // (the reordering's clusters take the outliers the percentile clipped).
    const nlohmann::json a8s = {{"bits", 8}, {"symmetric", true}, {"strategy", "tensor"}, {"dynamic", false}, {"observer", "minmax"}};
    for (auto& p : r["points"]) p["activations"] = a8s;
    r["quamba2"] = true;
  }
  return r;
}

namespace {

// Ward's agglomerative clustering of the rows of p [n, d] into k clusters; cluster of each row.
std::vector<int64_t> ward(const at::Tensor& p, int64_t k) {
  const int64_t n = p.size(0), d = p.size(1);
  // Plain doubles: n² distances per merge are too many small tensor ops.
  const at::Tensor pc = p.to(at::kDouble).contiguous();
  const double* pp = pc.data_ptr<double>();
  std::vector<std::vector<int64_t>> members(static_cast<size_t>(n));
  std::vector<std::vector<double>> mean(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) members[i] = {i}, mean[i].assign(pp + i * d, pp + (i + 1) * d);
  std::vector<bool> alive(static_cast<size_t>(n), true);
  for (int64_t live = n; live > k; --live) {
    double best = std::numeric_limits<double>::infinity();
    int64_t ba = -1, bb = -1;
    for (int64_t a = 0; a < n; ++a)
      for (int64_t b = a + 1; b < n; ++b) {
        if (!alive[a] || !alive[b]) continue;
        const double na = static_cast<double>(members[a].size()), nb = static_cast<double>(members[b].size());
        double sq = 0;
        for (int64_t j = 0; j < d; ++j) sq += (mean[a][j] - mean[b][j]) * (mean[a][j] - mean[b][j]);
        const double dist = na * nb / (na + nb) * sq;
        if (dist < best) best = dist, ba = a, bb = b;
      }
    const double na = static_cast<double>(members[ba].size()), nb = static_cast<double>(members[bb].size());
    for (int64_t j = 0; j < d; ++j) mean[ba][j] = (mean[ba][j] * na + mean[bb][j] * nb) / (na + nb);
    members[ba].insert(members[ba].end(), members[bb].begin(), members[bb].end());
    alive[bb] = false;
  }
  std::vector<int64_t> out(static_cast<size_t>(n), -1);
  int64_t c = 0;
  for (int64_t a = 0; a < n; ++a) {
    if (!alive[a]) continue;
    for (int64_t m : members[a]) out[m] = c;
    ++c;
  }
  return out;
}

// The optimal cut of ascending values v into at most k contiguous segments (1-D k-means, by
// dynamic programming on the within-segment squared error): the first index of each segment.
std::vector<int64_t> segments(const std::vector<double>& v, int64_t k) {
  const int64_t n = static_cast<int64_t>(v.size());
  k = std::min(k, n);
  std::vector<double> s1(n + 1, 0), s2(n + 1, 0);
  for (int64_t i = 0; i < n; ++i) s1[i + 1] = s1[i] + v[i], s2[i + 1] = s2[i] + v[i] * v[i];
  auto sse = [&](int64_t a, int64_t b) {  // [a, b)
    const double m = static_cast<double>(b - a), s = s1[b] - s1[a];
    return s2[b] - s2[a] - s * s / m;
  };
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<std::vector<double>> cost(k + 1, std::vector<double>(n + 1, inf));
  std::vector<std::vector<int64_t>> from(k + 1, std::vector<int64_t>(n + 1, 0));
  cost[0][0] = 0;
  for (int64_t j = 1; j <= k; ++j)
    for (int64_t b = j; b <= n; ++b)
      for (int64_t a = j - 1; a < b; ++a) {
        const double c = cost[j - 1][a] + sse(a, b);
        if (c < cost[j][b]) cost[j][b] = c, from[j][b] = a;
      }
  std::vector<int64_t> starts;
  for (int64_t j = k, b = n; j > 0; --j) {
    b = from[j][b];
    starts.push_back(b);
  }
  std::reverse(starts.begin(), starts.end());
  return starts;
}

at::Tensor take(const at::Tensor& t, int64_t dim, int64_t offset, const std::vector<int64_t>& order) {
  const at::Tensor idx = at::tensor(order, at::kLong).add(offset).to(t.device());
  at::Tensor out = t.clone();
  out.narrow(dim, offset, static_cast<int64_t>(order.size())).copy_(t.index_select(dim, idx));
  return out;
}

// H·v along dim 0 of a [n, m] matrix (the rows of a writer into the residual stream).
at::Tensor rotate_rows(const at::Tensor& w) { return ops::hadamard_transform(w.to(at::kFloat).t().contiguous()).t().contiguous(); }

}  // namespace

void rotate_residual(Model& model) {
  const int64_t d = model.config().get_size("hidden_size");
  QUENCH_CHECK(ops::hadamard_supported(d), "quamba2: hidden_size ", d, " has no Hadamard matrix (2^k, 12·2^k, 20·2^k or 28·2^k), so the residual stream cannot be rotated");
  // Readers of a norm: the norm's weight folds into them (RMSNorm without its weight commutes
  // with the rotation, its mean square being rotation-invariant), then W ← W·diag(g)·Hᵀ.
  auto fold_and_rotate = [&](Layer& reader, const std::string& norm) {
    const at::Tensor g = model.param(norm).to(at::kFloat);
    const at::Tensor w = reader.weight().to(at::kFloat) * g.to(reader.weight().device()).unsqueeze(0);
    reader.set_weight(ops::hadamard_transform(w));
    model.set_param(norm, at::ones_like(model.param(norm)));
  };
  Layer& embed = model.layer("backbone.embeddings");
  Layer& head = model.layer("lm_head");
  // The head is read before the embedding changes: a tied head shares its tensor.
  const at::Tensor head_w = head.weight().to(at::kFloat).clone();
  embed.set_weight(ops::hadamard_transform(embed.weight().to(at::kFloat)));  // every row e ← H·e
  for (int64_t b = 0; b < model.num_blocks(); ++b) {
    const std::string p = model.block_name(b);
    fold_and_rotate(model.layer(p + ".mixer.in_proj"), p + ".norm.weight");
    Layer& out = model.layer(p + ".mixer.out_proj");
    out.set_weight(rotate_rows(out.weight()));  // its output joins the rotated stream
    if (out.bias().defined()) out.set_bias(ops::hadamard_transform(out.bias().to(at::kFloat)));
  }
  head.set_weight(head_w);
  fold_and_rotate(head, "backbone.norm_f.weight");
}

Quamba2Layout quamba2_layout(const at::Tensor& r_in, int64_t ssd_groups, int64_t max_head_groups, int64_t max_channel_groups) {
  const at::Tensor r = r_in.to(at::kDouble).cpu();
  const int64_t heads = r.size(0), hd = r.size(1);
  QUENCH_CHECK(ssd_groups >= 1 && heads % ssd_groups == 0, "quamba2: ", heads, " heads do not split into ", ssd_groups, " SSD groups");
  const int64_t per = heads / ssd_groups;
  auto [sorted, order] = r.sort(/*dim=*/1);
  Quamba2Layout L;
  std::vector<int64_t> group(static_cast<size_t>(heads * hd));
  int64_t next_group = 0;
  for (int64_t g = 0; g < ssd_groups; ++g) {
    const at::Tensor prof = sorted.narrow(0, g * per, per);
    const at::Tensor norm = prof / prof.norm(2, 1, true).clamp_min(1e-30);
    const int64_t kh = std::min(max_head_groups, per);
    const std::vector<int64_t> cl = ward(norm, kh);
    // Head groups in the order of their largest channel, so that the layout reads from quiet to loud.
    std::vector<int64_t> ids(static_cast<size_t>(kh));
    std::iota(ids.begin(), ids.end(), 0);
    std::vector<double> loud(static_cast<size_t>(kh), 0);
    for (int64_t h = 0; h < per; ++h) loud[cl[h]] = std::max(loud[cl[h]], prof[h][hd - 1].item<double>());
    std::stable_sort(ids.begin(), ids.end(), [&](int64_t a, int64_t b) { return loud[a] < loud[b]; });
    for (int64_t c : ids) {
      std::vector<int64_t> hs;
      for (int64_t h = 0; h < per; ++h)
        if (cl[h] == c) hs.push_back(h);
      const at::Tensor mean = prof.index_select(0, at::tensor(hs, at::kLong)).mean(0);
      std::vector<double> v(static_cast<size_t>(hd));
      for (int64_t j = 0; j < hd; ++j) v[j] = mean[j].item<double>();
      std::vector<int64_t> starts = segments(v, max_channel_groups);
      for (int64_t h : hs) {
        const int64_t old_head = g * per + h, new_head = static_cast<int64_t>(L.head_order.size());
        L.head_order.push_back(old_head);
        for (int64_t j = 0; j < hd; ++j) {
          L.channel_order.push_back(old_head * hd + order[old_head][j].item<int64_t>());
          const int64_t seg = static_cast<int64_t>(std::upper_bound(starts.begin(), starts.end(), j) - starts.begin()) - 1;
          group[new_head * hd + j] = next_group + seg;
        }
      }
      next_group += static_cast<int64_t>(starts.size());
    }
    L.head_groups = kh;
  }
  L.x_groups = next_group;
  L.x_group = at::tensor(group, at::kLong);
  return L;
}

Quamba2Outcome apply_quamba2(Model& model, const BatchSource& batches, const Progress& progress) {
  const Structure* st = structure_of(model.architecture());
  QUENCH_CHECK(st && st->ssd_head_reorder, "quamba2: the sort-and-cluster reordering applies to ", reorder_families(), ", not ",
               model.architecture(), " (other selective-scan families take the quamba2 presets without it)");
  const Config& c = model.config();
  const int64_t heads = c.get_size("num_heads"), hd = c.get_size("head_dim"), groups = c.get_size("n_groups", 1), state = c.get_size("state_size");
  const int64_t d_inner = heads * hd, gs = groups * state;
  std::string points;
  for (int64_t b = 0; b < model.num_blocks(); ++b) points += (points.empty() ? "" : ",") + model.block_name(b) + ".mixer:x";
  CalibrationOptions co;
  co.points = points;
  co.weights = false;
  co.histogram_bins = 2;  // the per-channel maxima are all it needs
  rotate_residual(model);
  const CalibrationResult cal = calibrate(model, batches, co, progress);
  Quamba2Outcome out;
  out.rotated_residual = true;
  for (int64_t b = 0; b < model.num_blocks(); ++b) {
    const std::string m = model.block_name(b) + ".mixer";
    const ActivationStats* st = cal.point(m + ":x");
    QUENCH_CHECK(st && st->channels == d_inner, "quamba2: ", m, ":x was not reached by the calibration data");
    const at::Tensor r = at::tensor(st->channel_absmax, at::kDouble).reshape({heads, hd});
    const Quamba2Layout L = quamba2_layout(r, groups);

    Layer& in = model.layer(m + ".in_proj");
    Layer& conv = model.layer(m + ".conv1d");
    Layer& outp = model.layer(m + ".out_proj");
    const int64_t d_mlp = (in.out_features() - 2 * d_inner - 2 * gs - heads) / 2;
    const int64_t z0 = 2 * d_mlp, x0 = z0 + d_inner, dt0 = x0 + d_inner + 2 * gs;
    at::Tensor w = take(take(take(in.weight(), 0, z0, L.channel_order), 0, x0, L.channel_order), 0, dt0, L.head_order);
    in.set_weight(w);
    if (in.bias().defined()) in.set_bias(take(take(take(in.bias(), 0, z0, L.channel_order), 0, x0, L.channel_order), 0, dt0, L.head_order));
    conv.set_weight(take(conv.weight(), 0, 0, L.channel_order));
    if (conv.bias().defined()) conv.set_bias(take(conv.bias(), 0, 0, L.channel_order));
    outp.set_weight(take(outp.weight(), 1, 0, L.channel_order));
    for (const char* p : {".A_log", ".D", ".dt_bias"}) model.set_param(m + p, take(model.param(m + p), 0, 0, L.head_order));
    model.set_param(m + ".norm.weight", take(model.param(m + ".norm.weight"), 0, 0, L.channel_order));

    out.groups[m + ":x"] = L.x_group;
    const at::Tensor state_group = at::arange(gs, at::kLong).div(state, "floor");
    out.groups[m + ":B"] = state_group;
    out.groups[m + ":C"] = state_group;
    out.mixers.push_back({m, L.head_order, L.channel_order, L.head_groups, L.x_groups});
  }
  return out;
}

nlohmann::json Quamba2Outcome::to_json() const {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& m : mixers) j.push_back({{"mixer", m.mixer}, {"head_order", m.head_order}, {"head_groups", m.head_groups}, {"x_scale_groups", m.x_groups}});
  return j;
}

ops::QuantParams grouped_act_params(const ActQuant& a, const ActivationStats& st, const at::Tensor& group_of_channel) {
  QUENCH_CHECK(a.symmetric && !a.fp8 && !a.log_sqrt2 && !a.dynamic && a.strategy == ActStrategy::Tensor, st.point,
               ": grouped scales are static, symmetric and integer");
  QUENCH_CHECK(st.channels == group_of_channel.numel(), st.point, ": has ", st.channels, " channels, the grouping ", group_of_channel.numel());
  const at::Tensor amax = at::tensor(st.channel_absmax, at::kDouble);
  const int64_t n = group_of_channel.max().item<int64_t>() + 1;
  const at::Tensor g = group_of_channel.to(at::kLong);
  const at::Tensor gmax = at::zeros({n}, at::kDouble).scatter_reduce(0, g, amax, "amax", /*include_self=*/true);
  const double qmax = static_cast<double>((int64_t{1} << (a.bits - 1)) - 1);
  at::Tensor s = gmax / qmax;
  s = at::where(s > 0, s, at::ones_like(s));  // a silent group: any scale holds its zeros
  return {s.index_select(0, g).to(at::kFloat), {}};
}

}  // namespace quench
