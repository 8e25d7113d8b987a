#!/usr/bin/env node
// Token ids of a text as llama.cpp's own tokenizer gives them (node-llama-cpp's prebuilt CPU
// build; only the vocabulary is loaded):
//
//   node tokenize.mjs MODEL.gguf TEXTS.json OUT.json
//
// TEXTS.json: {"texts": ["...", ...]}     OUT.json: {"ids": [[...], ...], "vocabulary_type": "..."}
//
// No BOS is added and special-token text is not parsed: the ids of the plain text, which is
// what Quench's Tokenizer::encode(text) gives.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const depsDir = process.env.QUENCH_LLAMA_CPP_DIR || path.resolve(here, "../../.deps/llama-cpp");
const entry = path.join(depsDir, "node_modules/node-llama-cpp/dist/index.js");

function die(msg) {
  process.stderr.write(`tokenize.mjs: ${msg}\n`);
  process.exit(2);
}

const [modelPath, textsPath, outPath] = process.argv.slice(2);
if (!modelPath || !textsPath || !outPath) die("usage: node tokenize.mjs MODEL.gguf TEXTS.json OUT.json");
if (!fs.existsSync(entry)) die(`node-llama-cpp not found at ${entry}; run packaging/setup-llama-cpp.sh`);
const texts = JSON.parse(fs.readFileSync(textsPath, "utf8")).texts;
if (!Array.isArray(texts)) die("TEXTS.json must be {\"texts\": [\"...\", ...]}");

const { getLlama, LlamaLogLevel } = await import(pathToFileURL(entry).href);
const llama = await getLlama({ gpu: false, build: "never", skipDownload: true, logLevel: LlamaLogLevel.error, progressLogs: false });
const model = await llama.loadModel({ modelPath, gpuLayers: 0, vocabOnly: true });
const ids = texts.map((t) => Array.from(model.tokenize(t, false)));
fs.writeFileSync(outPath, JSON.stringify({ ids, vocabulary_type: model.vocabularyType }));
await model.dispose();
await llama.dispose();
