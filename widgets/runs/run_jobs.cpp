#include "widgets/runs/run_jobs.h"

#include <QFileInfo>
#include <QObject>

#include <sstream>

#include "core/compress/recipe.h"
#include "core/models/registry.h"
#include "core/runs/compress_run.h"
#include "core/runs/eval_run.h"
#include "core/runs/sensitivity_run.h"
#include "core/runs/text_data.h"
#include "core/store/fingerprint.h"
#include "core/util/error.h"
#include "widgets/jobs/job_context.h"

namespace quench::gui {

namespace {
Progress jobProgress(JobContext& ctx) {
  return [&ctx](int64_t done, int64_t total, double, const std::string& message) {
    ctx.progress(done, total, QString::fromStdString(message));
    return !ctx.cancelled();
  };
}

std::string str(const QString& s) { return s.toStdString(); }

std::unique_ptr<Model> loadForRun(const RunSettings& s, JobContext& ctx) {
  ctx.log(QObject::tr("loading %1 on %2").arg(s.model_dir, s.device));
  LoadOptions lo;
  lo.device = parse_device(str(s.device));
  auto model = load_model(str(s.model_dir), lo);
  if (model->modality() != Modality::Text)
    throw UsageError(model->architecture() + " takes images: the window's runs read text data for now; "
                     "run image models with quench-cli compress / eval / sensitivity");
  return model;
}

void require(const QString& path, const char* what) {
  if (path.isEmpty()) throw UsageError(std::string("no ") + what + " file chosen (Run dialog, or Preferences for the default)");
  if (!QFileInfo::exists(path)) throw UsageError(str(path) + ": no such " + what + " file");
}

DatasetRecord textDataset(const QString& path, int64_t samples) {
  DatasetRecord d = dataset_record(str(path), "text");
  d.samples = samples;
  return d;
}

std::vector<std::string> splitCommas(const QString& text) {
  std::vector<std::string> out;
  for (const QString& part : text.split(QLatin1Char(','), Qt::SkipEmptyParts))
    if (!part.trimmed().isEmpty()) out.push_back(str(part.trimmed()));
  return out;
}
}  // namespace

Job compressJob(const RunSettings& s, const nlohmann::json& recipe_json, RunDone done) {
  auto out = std::make_shared<RunOutcome>();
  Job job;
  job.title = QObject::tr("Compress and evaluate %1").arg(QFileInfo(s.model_dir).fileName());
  job.work = [s, recipe_json, out](JobContext& ctx) {
    require(s.calibration, "calibration");
    if (s.evaluate) require(s.evaluation, "evaluation");
    // Everything that can be wrong with the inputs is found before the experiment is recorded.
    const Recipe recipe = Recipe::parse(recipe_json, "recipe");
    auto model = loadForRun(s, ctx);
    const ResolvedRecipe plan = resolve(recipe, *model);
    ctx.log(QObject::tr("tokenizing %1").arg(s.calibration));
    const at::Tensor calib_ids = text_token_ids(str(s.model_dir), str(s.calibration));
    const CalibrationSet calib = calibration_windows(calib_ids, s.calib_samples, s.seq, static_cast<uint64_t>(s.seed), str(s.calibration));
    EvalData eval;
    if (s.evaluate) eval.token_ids = text_token_ids(str(s.model_dir), str(s.evaluation));
    ctx.check_cancelled();

    Store store = Store::open(str(s.database));
    CompressRunSpec rs;
    rs.name = !s.name.isEmpty() ? str(s.name) : recipe.name.empty() ? "compress" : recipe.name;
    rs.device = str(s.device);
    rs.calib = textDataset(s.calibration, calib.samples);
    if (s.evaluate) {
      rs.eval = &eval;
      rs.eval_dataset = dataset_record(str(s.evaluation), "text");
      rs.eval_options.ctx = s.ctx;
      rs.eval_options.max_windows = s.eval_windows;
    }
    rs.options.measure_samples = s.measure_samples;
    ctx.log(QObject::tr("compressing: %1 of %2 layers").arg(plan.compressed_layers()).arg(plan.layers.size()));
    CompressRun run = run_compress(store, *model, recipe, plan, calib, rs, jobProgress(ctx));

    // The compressed weights, for the Before / After view, while this copy of the model exists.
    for (const auto& r : run.result.layers) {
      if (Layer* layer = model->find_layer(r.layer)) out->after.push_back(weight_stats(*layer));
      ctx.check_cancelled();
    }
    out->experiment_id = run.experiment_id;
    out->name = QString::fromStdString(rs.name);
    out->kind = QStringLiteral("compress");
    out->layers = std::move(run.result.layers);
    out->metrics = run.metrics;
    for (const auto& w : run.result.warnings) out->warnings << QString::fromStdString(w);
    QString summary = QObject::tr("experiment #%1 recorded: %2 bits per weight").arg(run.experiment_id).arg(run.result.size.bits_per_weight, 0, 'f', 3);
    if (run.metrics.contains("perplexity")) summary += QObject::tr(", perplexity %1").arg(run.metrics["perplexity"].get<double>(), 0, 'f', 3);
    ctx.log(summary);
  };
  job.done = [out, done = std::move(done)] { done(out); };
  return job;
}

Job evaluateJob(const RunSettings& s, RunDone done) {
  auto out = std::make_shared<RunOutcome>();
  Job job;
  job.title = QObject::tr("Evaluate %1").arg(QFileInfo(s.model_dir).fileName());
  job.work = [s, out](JobContext& ctx) {
    require(s.evaluation, "evaluation");
    auto model = loadForRun(s, ctx);
    EvalData data;
    ctx.log(QObject::tr("tokenizing %1").arg(s.evaluation));
    data.token_ids = text_token_ids(str(s.model_dir), str(s.evaluation));
    EvalOptions o;
    o.ctx = s.ctx;
    o.max_windows = s.eval_windows;
    Store store = Store::open(str(s.database));
    EvalRunSpec rs;
    rs.name = s.name.isEmpty() ? "baseline " + str(QFileInfo(s.model_dir).fileName()) : str(s.name);
    rs.device = str(s.device);
    rs.dataset = textDataset(s.evaluation, data.token_ids.numel());
    rs.settings = eval_settings(o, model->dtype());
    const EvalRun run = run_evaluation(store, *model, data, o, rs, jobProgress(ctx));
    out->experiment_id = run.experiment_id;
    out->name = QString::fromStdString(rs.name);
    out->kind = QStringLiteral("evaluate");
    out->metrics[run.result.metric] = run.result.value;
    ctx.log(QObject::tr("experiment #%1 recorded: %2 %3").arg(run.experiment_id).arg(QString::fromStdString(run.result.metric)).arg(run.result.value, 0, 'f', 4));
  };
  job.done = [out, done = std::move(done)] { done(out); };
  return job;
}

Job sensitivityJob(const RunSettings& s, RunDone done) {
  auto out = std::make_shared<RunOutcome>();
  Job job;
  job.title = QObject::tr("Sensitivity of %1").arg(QFileInfo(s.model_dir).fileName());
  job.work = [s, out](JobContext& ctx) {
    require(s.evaluation, "evaluation");
    std::vector<SensitivityCandidate> candidates;
    for (const auto& c : splitCommas(s.candidates)) candidates.push_back(candidate_from_string(c));
    if (candidates.empty()) throw UsageError("sensitivity: no candidate settings (e.g. W4A16-G128, W3A16-G128)");
    SensitivityOptions so;
    so.layers = splitCommas(s.layers);
    if (s.metric == QLatin1String("kl")) so.metric = SensitivityMetric::Kl;
    else if (s.metric == QLatin1String("perplexity")) so.metric = SensitivityMetric::Perplexity;
    else throw UsageError("sensitivity: the metric must be perplexity or kl for a language model, not " + str(s.metric));
    auto model = loadForRun(s, ctx);
    const at::Tensor ids = text_token_ids(str(s.model_dir), str(s.evaluation));
    const CalibrationSet eval = evaluation_windows(ids, s.ctx, s.eval_windows, str(s.evaluation));
    CalibrationSet calib;
    SensitivityRunSpec rs;
    if (!s.calibration.isEmpty()) {
      require(s.calibration, "calibration");
      calib = calibration_windows(text_token_ids(str(s.model_dir), str(s.calibration)), s.calib_samples, s.seq,
                                  static_cast<uint64_t>(s.seed), str(s.calibration));
      rs.calib = textDataset(s.calibration, calib.samples);
    }
    Store store = Store::open(str(s.database));
    rs.name = s.name.isEmpty() ? "sensitivity " + candidates.front().name : str(s.name);
    rs.device = str(s.device);
    rs.eval = textDataset(s.evaluation, eval.samples);
    const SensitivityRun run = run_sensitivity(store, *model, candidates, eval, calib, so, rs, jobProgress(ctx));
    out->experiment_id = run.experiment_id;
    out->name = QString::fromStdString(rs.name);
    out->kind = QStringLiteral("sensitivity");
    for (size_t i : run.result.ranking(0)) out->ranking << QString::fromStdString(run.result.units[i].name);
    std::ostringstream top;
    const auto order = run.result.ranking(0);
    for (size_t k = 0; k < order.size() && k < 5; ++k) {
      const auto& u = run.result.units[order[k]];
      top << (k ? ", " : "") << u.name << " (" << u.entries.front().delta << ")";
    }
    ctx.log(QObject::tr("experiment #%1 recorded; most sensitive under %2: %3")
                .arg(run.experiment_id)
                .arg(QString::fromStdString(candidates.front().name), QString::fromStdString(top.str())));
    // One row per unit, each with every candidate's damage, so the window can point at the worst.
    out->metrics["base"] = run.result.base;
    for (const auto& u : run.result.units) out->metrics["delta"][u.name] = u.entries.front().delta;
  };
  job.done = [out, done = std::move(done)] { done(out); };
  return job;
}

}  // namespace quench::gui
