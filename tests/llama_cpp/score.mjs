#!/usr/bin/env node
// Scores token windows with llama.cpp itself (node-llama-cpp's prebuilt CPU build).
//
//   node score.mjs MODEL.gguf WINDOWS.json OUT.json
//
// WINDOWS.json: {"windows": [[tok, tok, ...], ...]}   (token ids, no tokenization)
// OUT.json:     {"windows": [{"nll": [...], "top1": [...]}, ...], "vocab": N, ...}
//   nll[i]  = natural log of p(tokens[i+1] | tokens[0..i])   (a log-probability, <= 0)
//   top1[i] = argmax_t p(t | tokens[0..i])
// p is the plain softmax of the model's logits over the whole vocabulary.
//
// Environment:
//   QUENCH_LLAMA_CPP_DIR   where packaging/setup-llama-cpp.sh installed node-llama-cpp
//                          (default <repo>/.deps/llama-cpp)
//   QUENCH_LLAMA_THREADS   CPU threads (default 2)
//   QUENCH_LLAMA_KV_TYPE   KV cache type, F16 (llama.cpp's default) or F32 (default F16)
//   QUENCH_LLAMA_MODE      "logits" (default): target logit + max logit + sum exp(logit - max), exact
//                          and cheap; "probs": node-llama-cpp's full probability map (float32,
//                          sorted, O(V log V) per position; tiny probabilities underflow to 0)
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const depsDir = process.env.QUENCH_LLAMA_CPP_DIR || path.resolve(here, "../../.deps/llama-cpp");
const entry = path.join(depsDir, "node_modules/node-llama-cpp/dist/index.js");

function die(msg) {
  process.stderr.write(`score.mjs: ${msg}\n`);
  process.exit(2);
}

const [modelPath, windowsPath, outPath] = process.argv.slice(2);
if (!modelPath || !windowsPath || !outPath) die("usage: node score.mjs MODEL.gguf WINDOWS.json OUT.json");
if (!fs.existsSync(entry)) die(`node-llama-cpp not found at ${entry}; run packaging/setup-llama-cpp.sh`);
const threads = Number(process.env.QUENCH_LLAMA_THREADS || 2);
const kvType = (process.env.QUENCH_LLAMA_KV_TYPE || "F16").toUpperCase();
const mode = process.env.QUENCH_LLAMA_MODE || "logits";
if (!["logits", "probs"].includes(mode)) die(`bad QUENCH_LLAMA_MODE ${mode}`);

const windows = JSON.parse(fs.readFileSync(windowsPath, "utf8")).windows;
if (!Array.isArray(windows)) die("WINDOWS.json must be {\"windows\": [[ids...], ...]}");
const maxLen = Math.max(2, ...windows.map((w) => w.length));

const { getLlama, LlamaLogLevel, LlamaModel } = await import(pathToFileURL(entry).href);
// node-llama-cpp's LlamaModel.getWarnings() (run inside loadModel) round-trips "some test text here"
// through tokenize(); for a GGUF with tokenizer.ggml.model = "none" llama.cpp's tokenizer is not
// initialised and llama_vocab::tokenize hits GGML_ASSERT (process abort, not catchable).
// llama.cpp itself loads and evaluates such models fine, so skip that check for them.
const origGetWarnings = LlamaModel.prototype.getWarnings;
LlamaModel.prototype.getWarnings = function () {
  return this.vocabularyType === "none" ? [] : origGetWarnings.call(this);
};
const t0 = performance.now();
// build "never" + skipDownload: only the prebuilt binary, never a source build.
const llama = await getLlama({ gpu: false, build: "never", skipDownload: true, logLevel: LlamaLogLevel.error,
                               maxThreads: threads, progressLogs: false });
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const context = await model.createContext({
  sequences: 1,
  contextSize: maxLen,
  batchSize: maxLen,         // a whole window is one llama_decode
  threads: { ideal: threads, min: threads },
  flashAttention: false,
  experimentalKvCacheKeyType: kvType,
  experimentalKvCacheValueType: kvType,
});
if (context.contextSize < maxLen) die(`context size ${context.contextSize} < window length ${maxLen}`);
const seq = context.getSequence();
const tLoad = performance.now() - t0;

// temperature 0 => node-llama-cpp's sampler chain is only llama.cpp's greedy sampler, which
// picks the argmax and leaves the candidates (all vocab entries, raw logits) untouched.
// No topK/topP/minP/penalties/bias are applied at temperature 0 (AddonSampler::rebuildChainIfNeeded).
const raw = { temperature: 0 };

let vocab = null;
const out = [];
const t1 = performance.now();
let nPos = 0;
for (const [wi, w] of windows.entries()) {
  if (!Array.isArray(w) || w.length < 2) die(`window ${wi} needs at least 2 tokens`);
  await seq.clearHistory();  // empty KV cache: every window starts at position 0
  if (seq.nextTokenIndex !== 0) die("KV cache not empty after clearHistory");
  // The last token is never a context for a prediction: evaluate w[0..len-2] only.
  const input = w.slice(0, -1).map((tok, i) => {
    const generateNext = mode === "probs"
      ? { token: true, probabilities: true, options: raw }
      : { token: true, logits: { filter: { tokens: [w[i + 1]], includeSelected: true } },
          totalLogitWeight: true, options: raw };
    if (vocab === null && i === 0) generateNext.logits = true;  // full map once, to learn the vocab size
    return [tok, { generateNext }];
  });
  const res = await seq.controlledEvaluate(input);
  // Exactly our tokens went in: no BOS prepended, nothing shifted out.
  const ctxTok = seq.contextTokens;
  if (ctxTok.length !== input.length || ctxTok.some((t, i) => t !== w[i]))
    die(`window ${wi}: context holds ${ctxTok.length} tokens, not the ${input.length} given`);
  const nll = [], top1 = [];
  for (let i = 0; i < input.length; i++) {
    const r = res[i];
    if (!r || !r.next) die(`window ${wi} pos ${i}: no output`);
    const next = w[i + 1];
    const top = r.next.token;
    if (vocab === null) vocab = r.next.logits.size;
    if (mode === "probs") {
      const p = r.next.probabilities.get(next);
      nll.push(p > 0 ? Math.log(p) : -Infinity);
    } else {
      const lt = r.next.logits.get(next), lmax = r.next.logits.get(top);
      if (lt === undefined || lmax === undefined) die(`window ${wi} pos ${i}: logits missing`);
      nll.push(lt - lmax - Math.log(r.next.totalLogitWeight));
    }
    top1.push(top);
  }
  nPos += input.length;
  out.push({ nll, top1 });
}
const tEval = performance.now() - t1;

fs.writeFileSync(outPath, JSON.stringify({
  windows: out, vocab,
  meta: { mode, kv_type: kvType, threads, context_size: context.contextSize, positions: nPos,
          load_ms: Math.round(tLoad), eval_ms: Math.round(tEval) },
}));
process.stderr.write(`score.mjs: ${windows.length} windows, ${nPos} positions, vocab ${vocab}, ` +
                     `load ${(tLoad / 1000).toFixed(2)} s, eval ${(tEval / 1000).toFixed(2)} s\n`);
await context.dispose();
await model.dispose();
await llama.dispose();
