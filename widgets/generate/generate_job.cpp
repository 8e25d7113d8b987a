#include "widgets/generate/generate_job.h"

#include <QFileInfo>
#include <QObject>

#include <memory>

#include "core/models/registry.h"
#include "core/runs/generate.h"
#include "core/text/tokenizer.h"
#include "core/util/error.h"
#include "widgets/jobs/job_context.h"

namespace quench::gui {

Job generateJob(const GenerateRequest& r, std::function<void(const QString&)> on_text, std::function<void(const QString&)> done) {
  auto summary = std::make_shared<QString>();
  Job job;
  job.title = QObject::tr("Generating with %1").arg(QFileInfo(r.model_dir).fileName());
  job.work = [r, on_text, summary](JobContext& ctx) {
    ctx.log(QObject::tr("loading %1 on %2 to generate").arg(r.model_dir, r.device));
    const std::string dir = r.model_dir.toStdString();
    LoadOptions lo;
    lo.device = parse_device(r.device.toStdString());
    auto model = load_model(dir, lo);
    check_generates(*model, dir);
    const Tokenizer tok = Tokenizer::from_model_dir(dir);
    const at::Tensor prompt = prompt_ids(*model, tok, r.prompt.toStdString(), dir + "/tokenizer.json");
    GenerateOptions g;
    g.max_new_tokens = r.max_new_tokens;
    g.temperature = r.temperature;
    g.seed = r.seed;
    g.stop_ids = eos_ids(*model);
    TextStream stream(tok);
    int64_t n = 0;
    const GenerateResult res = generate(*model, prompt, g, [&](int64_t id) {
      const QString piece = QString::fromStdString(stream.add(id));
      if (!piece.isEmpty()) ctx.post([on_text, piece] { on_text(piece); });
      ++n;  // not inside the call: its arguments are unsequenced
      ctx.progress(n, r.max_new_tokens, QObject::tr("token %1").arg(n));
      ctx.check_cancelled();
    });
    if (const QString rest = QString::fromStdString(stream.flush()); !rest.isEmpty()) ctx.post([on_text, rest] { on_text(rest); });
    *summary = QObject::tr("%1 prompt tokens at %2 tokens/s; %3 new tokens at %4 tokens/s on %5%6")
                   .arg(res.prompt_tokens)
                   .arg(res.prefill_tokens_per_second(), 0, 'f', 1)
                   .arg(res.tokens.size())
                   .arg(res.decode_tokens_per_second(), 0, 'f', 1)
                   .arg(r.device, res.stopped ? QObject::tr(" (ended at end of sequence)") : QString());
    ctx.log(*summary);
  };
  job.done = [summary, done] { done(*summary); };
  return job;
}

}  // namespace quench::gui
