#include "widgets/runs/run_jobs.h"

#include <QDirIterator>
#include <QFileInfo>
#include <QLocale>
#include <QObject>

#include <sstream>

#include "core/compress/recipe.h"
#include "core/compress/save_model.h"
#include "core/export/compressed_tensors.h"
#include "core/export/gguf_export.h"
#include "core/data/image_dataset.h"
#include "core/models/registry.h"
#include "core/runs/calibrate_run.h"
#include "core/runs/compress_run.h"
#include "core/runs/eval_run.h"
#include "core/runs/image_data.h"
#include "core/runs/sensitivity_run.h"
#include "core/runs/text_data.h"
#include "core/stats/record.h"
#include "core/store/fingerprint.h"
#include "core/store/metrics.h"
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
  return load_model(str(s.model_dir), lo);
}

void require(const QString& path, const char* what) {
  if (path.isEmpty()) throw UsageError(std::string("no ") + what + " file chosen (Run dialog, or Preferences for the default)");
  if (!QFileInfo::exists(path)) throw UsageError(str(path) + ": no such " + what + " file");
}

// What every run job shares: its title, a copy of the model loaded on the job thread, the store,
// and the outcome handed to the UI thread when the work returned. `check` runs first, before the
// model is loaded, for what can be refused at once (missing files, bad settings).
using RunWork = std::function<void(JobContext&, Model&, Store&, RunOutcome&)>;
Job runJob(const QString& title, const RunSettings& s, std::function<void()> check, RunWork work, RunDone done) {
  auto out = std::make_shared<RunOutcome>();
  Job job;
  job.title = title.arg(QFileInfo(s.model_dir).fileName());
  job.work = [s, check = std::move(check), work = std::move(work), out](JobContext& ctx) {
    if (check) check();
    auto model = loadForRun(s, ctx);
    ctx.check_cancelled();
    Store store = Store::open(str(s.database));
    work(ctx, *model, store, *out);
  };
  job.done = [out, done = std::move(done)] { done(out); };
  return job;
}

// An image model's evaluation set: an IDX images file with its IDX labels (quench-cli's
// --eval-images / --eval-labels), or a folder of class sub-folders (--eval-image-folder).
ImageDataset evaluationImages(const RunSettings& s, JobContext& ctx) {
  ctx.log(QObject::tr("reading images from %1").arg(s.evaluation));
  if (QFileInfo(s.evaluation).isDir()) return load_image_folder(str(s.evaluation));
  require(s.evaluation_labels, "labels");
  return load_idx_dataset(str(s.evaluation), str(s.evaluation_labels));
}

// Calibration data as quench-cli compress reads it: random windows of a text, or the first images
// of an IDX file or folder.
CalibrationSet calibrationData(const RunSettings& s, const Model& model, JobContext& ctx) {
  if (model.modality() == Modality::Text) {
    ctx.log(QObject::tr("tokenizing %1").arg(s.calibration));
    return calibration_windows(text_token_ids(str(s.model_dir), str(s.calibration)), s.calib_samples, s.seq, static_cast<uint64_t>(s.seed),
                               str(s.calibration));
  }
  ctx.log(QObject::tr("reading images from %1").arg(s.calibration));
  return calibration_images(str(s.model_dir), str(s.calibration), s.calib_samples);
}

std::vector<std::string> splitCommas(const QString& text) {
  std::vector<std::string> out;
  for (const QString& part : text.split(QLatin1Char(','), Qt::SkipEmptyParts))
    if (!part.trimmed().isEmpty()) out.push_back(str(part.trimmed()));
  return out;
}
// Bytes written at an export target: the file, or every file under the directory.
qint64 bytesAt(const QString& path) {
  const QFileInfo fi(path);
  if (!fi.isDir()) return fi.exists() ? fi.size() : 0;
  qint64 total = 0;
  QDirIterator it(path, QDir::Files, QDirIterator::Subdirectories);
  while (it.hasNext()) total += QFileInfo(it.next()).size();
  return total;
}
}  // namespace

QString exportRefusal(const Model& model, const ResolvedRecipe& plan, const QString& format) {
  std::string why;
  if (format == QLatin1String("gguf")) why = gguf_exportable(model, plan);
  else if (format == QLatin1String("compressed-tensors")) why = ct_exportable(model, plan);
  else if (format == QLatin1String("safetensors")) why = saveable_reason(plan);
  else why = "\"" + str(format) + "\" is not gguf, compressed-tensors or safetensors";
  return QString::fromStdString(why);
}

QString exportTargetRefusal(const QString& path, const QString& format, bool force) {
  if (path.trimmed().isEmpty()) return format == QLatin1String("gguf") ? QObject::tr("choose the .gguf file to write") : QObject::tr("choose the directory to write");
  try {
    if (format == QLatin1String("gguf")) check_gguf_target(str(path), force);
    else if (format == QLatin1String("compressed-tensors")) check_ct_target(str(path), force);
    else check_save_target(str(path));
  } catch (const std::exception& e) {
    // The core words it for quench-cli; the window's switch is the "replace existing" box.
    return QString::fromStdString(e.what()).replace(QStringLiteral("pass --force"), QObject::tr("check \"Replace existing\""));
  }
  return {};
}

Job compressJob(const RunSettings& s, const nlohmann::json& recipe_json, RunDone done) {
  auto check = [s] {
    require(s.calibration, "calibration");
    if (s.evaluate) require(s.evaluation, "evaluation");
  };
  auto work = [s, recipe_json](JobContext& ctx, Model& model, Store& store, RunOutcome& out) {
    // Everything that can be wrong with the inputs is found before the experiment is recorded.
    const Recipe recipe = Recipe::parse(recipe_json, "recipe");
    const ResolvedRecipe plan = resolve(recipe, model);
    const bool text = model.modality() == Modality::Text;
    const bool exporting = !s.export_format.isEmpty();
    if (exporting) {
      const QString why = exportRefusal(model, plan, s.export_format);
      if (!why.isEmpty()) throw UsageError("export as " + str(s.export_format) + ": " + str(why));
      const QString target = exportTargetRefusal(s.export_path, s.export_format, s.export_force);
      if (!target.isEmpty()) throw UsageError("export: " + str(target));
      if (!s.export_float_type.isEmpty() && s.export_format != QLatin1String("gguf")) throw UsageError("export: the float type applies to GGUF only");
    }
    const CalibrationSet calib = calibrationData(s, model, ctx);
    // Text: perplexity over windows; images: top-1 / top-5 over labelled images, at most eval_windows.
    EvalData eval;
    ImageDataset images;
    if (s.evaluate && text) {
      eval.token_ids = text_token_ids(str(s.model_dir), str(s.evaluation));
    } else if (s.evaluate) {
      images = evaluationImages(s, ctx);
      eval.images = &images;
      eval.preprocess = ImagePreprocessor::from_model_dir(str(s.model_dir));
    }
    ctx.check_cancelled();

    CompressRunSpec rs;
    rs.name = !s.name.isEmpty() ? str(s.name) : recipe.name.empty() ? "compress" : recipe.name;
    rs.device = str(s.device);
    rs.calib = dataset_record(str(s.calibration), text ? "text" : "images");
    rs.calib.samples = calib.samples;
    if (s.evaluate) {
      rs.eval = &eval;
      rs.eval_dataset = dataset_record(str(s.evaluation), text ? "text" : "images");
      if (!text) rs.eval_dataset->samples = images.size();
      rs.eval_options.ctx = s.ctx;
      rs.eval_options.max_windows = s.eval_windows;
      if (!text) rs.eval_options.max_images = s.eval_windows;
    }
    rs.options.measure_samples = s.measure_samples;
    if (exporting) {
      rs.save_dir = str(s.export_path);
      rs.save_format = str(s.export_format);
      rs.gguf.float_type = str(s.export_float_type);
      rs.gguf.force = s.export_force;
      rs.ct.force = s.export_force;
      ctx.log(QObject::tr("the compressed model will be written as %1 to %2").arg(s.export_format, s.export_path));
    }
    ctx.log(QObject::tr("compressing: %1 of %2 layers").arg(plan.compressed_layers()).arg(plan.layers.size()));
    CompressRun run = run_compress(store, model, recipe, plan, calib, rs, jobProgress(ctx));

    // The compressed weights, for the Before / After view, while this copy of the model exists.
    for (const auto& r : run.result.layers) {
      if (Layer* layer = model.find_layer(r.layer)) {
        out.after.push_back(weight_stats(*layer));
        // The error's own distribution (structured pruning changes the shape: no error to take).
        const at::Tensor now = layer->kernel() ? layer->kernel()->dense_weight() : layer->weight();
        if (now.sizes() == layer->original_weight().sizes())
          out.errors.push_back(weight_stats(r.layer, layer->kind(), now.to(at::kFloat) - layer->original_weight().to(now.device(), at::kFloat)));
      }
      ctx.check_cancelled();
    }
    out.experiment_id = run.experiment_id;
    out.name = QString::fromStdString(rs.name);
    out.kind = RunKind::Compress;
    out.layers = std::move(run.result.layers);
    out.metrics = run.metrics;
    for (const auto& w : run.result.warnings) out.warnings << QString::fromStdString(w);
    QString summary = QObject::tr("experiment #%1 recorded: %2 bits per weight").arg(run.experiment_id).arg(run.result.size.bits_per_weight, 0, 'f', 3);
    if (run.metrics.contains(metric_names::kPerplexity)) summary += QObject::tr(", perplexity %1").arg(run.metrics[metric_names::kPerplexity].get<double>(), 0, 'f', 3);
    if (run.metrics.contains(metric_names::kTop1)) summary += QObject::tr(", top-1 %1").arg(run.metrics[metric_names::kTop1].get<double>(), 0, 'f', 4);
    ctx.log(summary);
    if (exporting) {
      QString written = QObject::tr("wrote %1 (%2, %3)").arg(s.export_path, s.export_format, QLocale().formattedDataSize(bytesAt(s.export_path)));
      if (run.metrics.contains(metric_names::kExportSeconds)) written += QObject::tr(" in %1 s").arg(run.metrics[metric_names::kExportSeconds].get<double>(), 0, 'f', 2);
      if (run.metrics.contains(metric_names::kExportBytes))
        written += QObject::tr("; export_bytes %1").arg(static_cast<qint64>(run.metrics[metric_names::kExportBytes].get<double>()));
      ctx.log(written);
      if (run.metrics.contains(metric_names::kExportTop1Agreement))
        ctx.log(QObject::tr("export check: %1 reopened, top-1 agreement with the compressed model %2%, max |Δlogit| / max |logit| %3")
                    .arg(s.export_path)
                    .arg(100 * run.metrics[metric_names::kExportTop1Agreement].get<double>(), 0, 'f', 2)
                    .arg(run.metrics[metric_names::kExportLogitsRelError].get<double>(), 0, 'g', 3));
      if (run.metrics.contains(metric_names::kExportTensorsChecked))
        ctx.log(QObject::tr("export check: %1 tensors read back from %2, %3 different from the compressed model (largest |Δ| %4)")
                    .arg(static_cast<qint64>(run.metrics[metric_names::kExportTensorsChecked].get<double>()))
                    .arg(s.export_path)
                    .arg(static_cast<qint64>(run.metrics[metric_names::kExportTensorsInexact].get<double>()))
                    .arg(run.metrics[metric_names::kExportWeightMaxAbsError].get<double>(), 0, 'g', 3));
      out.metrics["export_path"] = str(s.export_path);
      out.metrics["export_format"] = str(s.export_format);
    }
  };
  return runJob(!s.export_format.isEmpty() ? QObject::tr("Compress and export %1") : QObject::tr("Compress and evaluate %1"), s, check, work, std::move(done));
}

Job evaluateJob(const RunSettings& s, RunDone done) {
  auto work = [s](JobContext& ctx, Model& model, Store& store, RunOutcome& out) {
    // Text: perplexity over windows of the text; images: top-1 / top-5 over an IDX file with its
    // labels, or a folder of class sub-folders.
    const bool text = model.modality() == Modality::Text;
    EvalData data;
    ImageDataset images;
    EvalOptions o;
    o.ctx = s.ctx;
    o.max_windows = s.eval_windows;
    if (text) {
      ctx.log(QObject::tr("tokenizing %1").arg(s.evaluation));
      data.token_ids = text_token_ids(str(s.model_dir), str(s.evaluation));
    } else {
      images = evaluationImages(s, ctx);
      data.images = &images;
      data.preprocess = ImagePreprocessor::from_model_dir(str(s.model_dir));
      o.max_images = s.eval_windows;
    }
    EvalRunSpec rs;
    rs.name = s.name.isEmpty() ? "baseline " + str(QFileInfo(s.model_dir).fileName()) : str(s.name);
    rs.device = str(s.device);
    rs.dataset = dataset_record(str(s.evaluation), text ? "text" : "images");
    rs.dataset.samples = text ? data.token_ids.numel() : images.size();
    rs.settings = eval_settings(o, model.dtype());
    const EvalRun run = run_evaluation(store, model, data, o, rs, jobProgress(ctx));
    out.experiment_id = run.experiment_id;
    out.name = QString::fromStdString(rs.name);
    out.kind = RunKind::Evaluate;
    out.metrics[run.result.metric] = run.result.value;
    if (!text) out.metrics[metric_names::kTop5] = run.result.top5;
    ctx.log(QObject::tr("experiment #%1 recorded: %2 %3").arg(run.experiment_id).arg(QString::fromStdString(run.result.metric)).arg(run.result.value, 0, 'f', 4));
  };
  return runJob(QObject::tr("Evaluate %1"), s, [s] { require(s.evaluation, "evaluation"); }, work, std::move(done));
}

Job sensitivityJob(const RunSettings& s, RunDone done) {
  auto candidates = std::make_shared<std::vector<SensitivityCandidate>>();
  auto so = std::make_shared<SensitivityOptions>();
  auto check = [s, candidates, so] {
    require(s.evaluation, "evaluation");
    for (const auto& c : splitCommas(s.candidates)) candidates->push_back(candidate_from_string(c));
    if (candidates->empty()) throw UsageError("sensitivity: no candidate settings (e.g. W4A16-G128, W3A16-G128)");
    so->layers = splitCommas(s.layers);
    if (s.metric == QLatin1String(metric_names::kKl)) so->metric = SensitivityMetric::Kl;
    else if (s.metric == QLatin1String(metric_names::kPerplexity)) so->metric = SensitivityMetric::Perplexity;
    else if (s.metric == QLatin1String(metric_names::kTop1)) so->metric = SensitivityMetric::Top1;
    else throw UsageError("sensitivity: the metric must be perplexity, kl or top1, not " + str(s.metric));
    if (!s.calibration.isEmpty()) require(s.calibration, "calibration");
  };
  auto work = [s, candidates, so](JobContext& ctx, Model& model, Store& store, RunOutcome& out) {
    // Text: windows of the evaluation text; images: the first eval_windows labelled images (256
    // when 0, quench-cli sensitivity's default). Perplexity and top-1 belong to one modality each.
    const bool text = model.modality() == Modality::Text;
    if (text && so->metric == SensitivityMetric::Top1)
      throw UsageError("sensitivity: top1 is for image models; " + model.architecture() + " is ranked by perplexity or kl");
    if (!text && so->metric == SensitivityMetric::Perplexity) {
      ctx.log(QObject::tr("ranking by the drop in top-1: perplexity is a language model's metric"));
      so->metric = SensitivityMetric::Top1;
    }
    CalibrationSet eval;
    if (text) {
      eval = evaluation_windows(text_token_ids(str(s.model_dir), str(s.evaluation)), s.ctx, s.eval_windows, str(s.evaluation));
    } else {
      const ImageDataset images = evaluationImages(s, ctx);
      eval = CalibrationSet::from_images(images, ImagePreprocessor::from_model_dir(str(s.model_dir)), s.eval_windows > 0 ? s.eval_windows : 256, 64);
    }
    CalibrationSet calib;
    SensitivityRunSpec rs;
    if (!s.calibration.isEmpty()) {
      calib = calibrationData(s, model, ctx);
      rs.calib = dataset_record(str(s.calibration), text ? "text" : "images");
      rs.calib->samples = calib.samples;
    }
    rs.name = s.name.isEmpty() ? "sensitivity " + candidates->front().name : str(s.name);
    rs.device = str(s.device);
    rs.eval = dataset_record(str(s.evaluation), text ? "text" : "images");
    rs.eval.samples = eval.samples;
    const SensitivityRun run = run_sensitivity(store, model, *candidates, eval, calib, *so, rs, jobProgress(ctx));
    out.experiment_id = run.experiment_id;
    out.name = QString::fromStdString(rs.name);
    out.kind = RunKind::Sensitivity;
    for (size_t i : run.result.ranking(0)) out.ranking << QString::fromStdString(run.result.units[i].name);
    std::ostringstream top;
    const auto order = run.result.ranking(0);
    for (size_t k = 0; k < order.size() && k < 5; ++k) {
      const auto& u = run.result.units[order[k]];
      top << (k ? ", " : "") << u.name << " (" << u.entries.front().delta << ")";
    }
    ctx.log(QObject::tr("experiment #%1 recorded; most sensitive under %2: %3")
                .arg(run.experiment_id)
                .arg(QString::fromStdString(candidates->front().name), QString::fromStdString(top.str())));
    // One row per unit, each with every candidate's damage, so the window can point at the worst.
    out.metrics["base"] = run.result.base;
    for (const auto& u : run.result.units) out.metrics["delta"][u.name] = u.entries.front().delta;
  };
  return runJob(QObject::tr("Sensitivity of %1"), s, check, work, std::move(done));
}

Job calibrateJob(const RunSettings& s, RunDone done) {
  auto work = [s](JobContext& ctx, Model& model, Store& store, RunOutcome& out) {
    // Text models: random windows of the text; image models: the first images of an IDX file or folder.
    const bool text = model.modality() == Modality::Text;
    const CalibrationSet data = calibrationData(s, model, ctx);
    ctx.check_cancelled();
    CalibrationOptions opts;
    opts.points = s.points.isEmpty() ? "*" : str(s.points);
    CalibrateRunSpec rs;
    rs.name = s.name.isEmpty() ? "calibrate " + str(QFileInfo(s.model_dir).fileName()) : str(s.name);
    rs.device = str(s.device);
    rs.dataset = dataset_record(str(s.calibration), text ? "text" : "images");
    rs.dataset.samples = data.samples;
    rs.settings = calibrate_settings(opts, data.samples, text ? s.seq : 0, static_cast<uint64_t>(s.seed), !text, model.dtype());
    ctx.log(text ? QObject::tr("calibrating on %1 windows of %2 tokens").arg(data.samples).arg(s.seq)
                 : QObject::tr("calibrating on %1 images").arg(data.samples));
    CalibrateRun run = run_calibration(store, model, data, opts, rs, jobProgress(ctx));
    out.experiment_id = run.experiment_id;
    out.name = QString::fromStdString(rs.name);
    out.kind = RunKind::Calibrate;
    for (const auto& p : run.result.points) out.activations.push_back(to_layer_stats(p, p.point.substr(0, p.point.rfind(':'))));
    out.metrics[metric_names::kSamples] = run.result.samples;
    out.metrics[metric_names::kSeconds] = run.result.seconds;
    for (const auto& w : run.result.warnings) out.warnings << QString::fromStdString(w);
    ctx.log(QObject::tr("experiment #%1 recorded: %2 points in %3 s").arg(run.experiment_id).arg(run.result.points.size()).arg(run.result.seconds, 0, 'f', 1));
  };
  return runJob(QObject::tr("Calibrate %1"), s, [s] { require(s.calibration, "calibration"); }, work, std::move(done));
}

}  // namespace quench::gui
