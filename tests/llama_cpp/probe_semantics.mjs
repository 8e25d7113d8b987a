#!/usr/bin/env node
// Empirical checks of what node-llama-cpp's controlledEvaluate returns (see README.md).
//   node probe_semantics.mjs MODEL.gguf WINDOWS.json
// Prints one line per fact; exits 1 if a fact the harness relies on does not hold.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const depsDir = process.env.QUENCH_LLAMA_CPP_DIR || path.resolve(here, "../../.deps/llama-cpp");
const { getLlama, LlamaLogLevel, LlamaModel } = await import(
  pathToFileURL(path.join(depsDir, "node_modules/node-llama-cpp/dist/index.js")).href);

// node-llama-cpp's LlamaModel.getWarnings() (run inside loadModel) round-trips "some test text here"
// through tokenize(); for a GGUF with tokenizer.ggml.model = "none" llama.cpp's tokenizer is not
// initialised and llama_vocab::tokenize hits GGML_ASSERT (process abort, not catchable).
// llama.cpp itself loads and evaluates such models fine, so skip that check for them.
const origGetWarnings = LlamaModel.prototype.getWarnings;
LlamaModel.prototype.getWarnings = function () {
  return this.vocabularyType === "none" ? [] : origGetWarnings.call(this);
};

const [modelPath, windowsPath] = process.argv.slice(2);
const windows = JSON.parse(fs.readFileSync(windowsPath, "utf8")).windows;
const [wA, wB] = windows;
const llama = await getLlama({ gpu: false, build: "never", skipDownload: true, logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const ctx = await model.createContext({ sequences: 1, contextSize: 64, batchSize: 64, threads: 2,
  flashAttention: false, experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32" });
const seq = ctx.getSequence();
let failed = false;
const fact = (ok, msg) => { console.log(`${ok ? "ok  " : "FAIL"} ${msg}`); if (!ok) failed = true; };
const info = (msg) => console.log(`info ${msg}`);

info(`vocabularyType=${model.vocabularyType} bos=${model.tokens.bos} eos=${model.tokens.eos} ` +
     `shouldPrependBosToken=${model.tokens.shouldPrependBosToken}`);

// One position's raw logits (full map) and probabilities under given sampler options.
async function at(tokens, options, extra = {}) {
  await seq.clearHistory();
  const input = tokens.map((t, i) => i === tokens.length - 1
    ? [t, { generateNext: { token: true, probabilities: true, logits: true, totalLogitWeight: true, options, ...extra } }]
    : t);
  const r = await seq.controlledEvaluate(input);
  return r[tokens.length - 1].next;
}
const softmax = (m) => {
  const mx = Math.max(...m.values());
  let s = 0; for (const v of m.values()) s += Math.exp(v - mx);
  return new Map([...m].map(([k, v]) => [k, Math.exp(v - mx) / s]));
};

const pre = wA.slice(0, 8);
const base = await at(pre, { temperature: 0 });
const V = base.logits.size;
let sum = 0; for (const p of base.probabilities.values()) sum += p;
fact(base.probabilities.size === V, `temperature 0: probabilities cover the full vocab (${base.probabilities.size} of ${V} logits)`);
fact(Math.abs(sum - 1) < 1e-5, `temperature 0: probabilities sum to 1 (${sum.toFixed(7)})`);
const sm = softmax(base.logits);
let maxd = 0; for (const [k, p] of base.probabilities) maxd = Math.max(maxd, Math.abs(p - sm.get(k)));
fact(maxd < 1e-6, `temperature 0: probabilities == softmax(logits) (max diff ${maxd.toExponential(2)})`);
const argmax = [...base.logits].reduce((a, b) => (b[1] > a[1] ? b : a))[0];
fact(base.token === argmax, `temperature 0: next.token is the argmax logit (${base.token})`);
fact([...base.probabilities.keys()][0] === argmax, "probabilities map is sorted, highest first");
const mx = Math.max(...base.logits.values());
let tw = 0; for (const v of base.logits.values()) tw += Math.exp(v - mx);
fact(Math.abs(base.totalLogitWeight / tw - 1) < 1e-5, `totalLogitWeight == sum exp(logit - max) (${base.totalLogitWeight.toFixed(5)} vs ${tw.toFixed(5)})`);

// Does the no-option default equal temperature 0? (controlledEvaluate defaults: temperature 0)
const dflt = await at(pre, undefined);
fact(dflt.probabilities.size === V && Math.abs(dflt.probabilities.get(argmax) - base.probabilities.get(argmax)) < 1e-7,
     "no options == temperature 0 (full vocab, same probabilities)");

// Temperature > 0 goes through topK (default 40) / topP (default 0.95) / temp: probabilities change.
for (const opt of [{ temperature: 1 }, { temperature: 0.5 }, { temperature: 1, topK: 0, topP: 1 }, { temperature: 2, topK: 0, topP: 1 }]) {
  const r = await at(pre, opt);
  let s = 0; for (const p of r.probabilities.values()) s += p;
  info(`options ${JSON.stringify(opt)}: ${r.probabilities.size} entries (vocab ${V}), sum ${s.toFixed(5)}, ` +
       `p(argmax) ${r.probabilities.get(argmax)?.toFixed(5)} vs raw ${base.probabilities.get(argmax).toFixed(5)}, ` +
       `logit(argmax) ${r.logits.get(argmax)?.toFixed(4)} vs raw ${base.logits.get(argmax).toFixed(4)}`);
}
// Repeat penalty at temperature 0? (penalties sit before greedy in the chain)
{
  const r = await at(pre, { temperature: 0, repeatPenalty: { punishTokens: pre, penalty: 1.5 } });
  const t = pre[pre.length - 1];
  info(`temperature 0 + repeatPenalty 1.5: logit(last token ${t}) ${r.logits.get(t).toFixed(4)} vs raw ${base.logits.get(t).toFixed(4)}`);
}

// BOS: exactly the given tokens are in the context, nothing prepended.
await seq.clearHistory();
await seq.controlledEvaluate(wA.slice(0, 5));
fact(JSON.stringify(seq.contextTokens) === JSON.stringify(wA.slice(0, 5)),
     `controlledEvaluate prepends nothing (context ${JSON.stringify(seq.contextTokens)})`);
info(`model.tokenize("ab") = ${model.vocabularyType === "none" ? "(no vocab)" : JSON.stringify(model.tokenize("ab"))}`);

// KV cache: after clearHistory a window gives the same result as in a fresh sequence;
// without it, the second window is scored as a continuation of the first.
const fresh = await at(wB.slice(0, 6), { temperature: 0 });
await seq.clearHistory();
await seq.controlledEvaluate(wA.slice(0, 10));
const contR = await seq.controlledEvaluate(wB.slice(0, 6).map((t, i) => i === 5 ? [t, { generateNext: { logits: true } }] : t));
info(`without clearHistory the next window starts at position 10 (nextTokenIndex now ${seq.nextTokenIndex}); ` +
     `logit diff vs fresh ${Math.abs(contR[5].next.logits.get(argmax) - fresh.logits.get(argmax)).toExponential(2)}`);
await seq.clearHistory();
fact(seq.nextTokenIndex === 0 && seq.contextTokens.length === 0, "clearHistory empties the sequence");
const again = await at(wB.slice(0, 6), { temperature: 0 });
let d2 = 0; for (const [k, v] of fresh.logits) d2 = Math.max(d2, Math.abs(v - again.logits.get(k)));
fact(d2 === 0, `after clearHistory results are bit-identical to a fresh evaluation (max diff ${d2})`);

await ctx.dispose(); await model.dispose(); await llama.dispose();
process.exit(failed ? 1 : 0);
