// llama.cpp's side of the comparison, through node-llama-cpp 3.21.1's prebuilt CPU binaries.
//   node peer.mjs MODEL.gguf IDS.json THREADS [REPS [MEASURES]]   MEASURES: pp,decode,ppl (default all)
// The same measurements and JSON fields as bench_gguf.cpp, on the ids of IDS.json (written by
// `bench_gguf ids`): token ids go in as ids, never as text, so both sides see the same tokens.
//   pp<T>:     a fresh sequence evaluates the first T ids (one batch, no sampling), tok/s;
//   decode128: greedy (temperature 0) after the 16-id prompt, timed from the 1st to the 129th
//              new token, tok/s; also the median step's tok/s; the tokens themselves;
//   ppl:       mean log p(x[t+1] | x[..t]) over every window: controlledEvaluate returns, for each
//              position, the softmax of its logits (greedy sampler: the raw logits).
import fs from "node:fs";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [modelPath, idsPath, threadsArg, repsArg, measuresArg] = process.argv.slice(2);
const measures = new Set((measuresArg ?? "pp,decode,ppl").split(","));
if (!modelPath || !idsPath || !threadsArg) {
    console.error("usage: node peer.mjs MODEL.gguf IDS.json THREADS [REPS]");
    process.exit(2);
}
const threads = Number(threadsArg), reps = Number(repsArg ?? 3);
if (!(Number.isInteger(threads) && threads >= 1) || !(Number.isInteger(reps) && reps >= 1)) {
    console.error("peer.mjs: error: THREADS / REPS: must be integers >= 1");
    process.exit(2);
}
let ids;
try {
    ids = JSON.parse(fs.readFileSync(idsPath, "utf8"));
} catch (e) {
    console.error(`peer.mjs: error: ${idsPath}: ${e.message}`);
    process.exit(1);
}

const now = () => Number(process.hrtime.bigint()) / 1e9;
const emit = (o) => console.log(JSON.stringify({...o, side: "llama.cpp"}));

// build "never": only the prebuilt binaries inside the npm package; nothing is downloaded or compiled.
const llama = await getLlama({gpu: false, build: "never", maxThreads: threads, logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
// One sequence; the batch holds a whole 512-id prompt, so each measurement is one llama_decode.
const context = await model.createContext({contextSize: 1024, batchSize: 512, sequences: 1,
    threads: {ideal: threads, min: threads}});
const seq = context.getSequence();
emit({measure: "info", build: llama.buildType, cpu_math_cores: llama.cpuMathCores, system_info: llama.systemInfo, gpu: llama.gpu,
    threads: context.currentThreads, flash_attention: context.flashAttention, llama_cpp: llama.llamaCppRelease});

for (const T of measures.has("pp") ? [128, 512] : []) {
    const prompt = ids.prompt.slice(0, T);
    let best = Infinity;
    for (let r = 0; r <= reps; ++r) {  // r = 0: warm-up
        await seq.clearHistory();
        const t0 = now();
        await seq.evaluateWithoutGeneratingNewTokens(prompt);
        if (r > 0) best = Math.min(best, now() - t0);
    }
    emit({measure: `pp${T}`, tokens: T, seconds: best, tok_s: T / best});
}

const decodeTokens = 128;
const medianStep = (stamps) => {
    const d = stamps.slice(1).map((t, i) => t - stamps[i]).sort((a, b) => a - b);
    return d[Math.floor(d.length / 2)];
};
let best = Infinity, bestMedian = Infinity, generated = [];
for (let r = 0; r < reps && measures.has("decode"); ++r) {
    await seq.clearHistory();
    const stamps = [], tokens = [];
    for await (const token of seq.evaluate(ids.decode_prompt, {temperature: 0})) {
        stamps.push(now());
        tokens.push(token);
        if (tokens.length === decodeTokens + 1) break;
    }
    best = Math.min(best, stamps[stamps.length - 1] - stamps[0]);
    bestMedian = Math.min(bestMedian, medianStep(stamps));
    generated = tokens;
}
if (measures.has("decode"))
    emit({measure: "decode128", tokens: decodeTokens, seconds: best, tok_s: decodeTokens / best,
        median_step_tok_s: 1 / bestMedian, generated});

let sum = 0, n = 0, seconds = 0;
const perWindow = [];
for (const w of measures.has("ppl") ? ids.windows : []) {
    await seq.clearHistory();
    const input = w.map((t, i) => i + 1 < w.length ? [t, {generateNext: {probabilities: true}}] : t);
    const t0 = now();
    const out = await seq.controlledEvaluate(input);
    seconds += now() - t0;  // includes building the [vocab] probability maps in JavaScript
    let ws = 0;
    for (let i = 0; i + 1 < w.length; ++i) {
        const p = out[i]?.next?.probabilities?.get(w[i + 1]);
        if (!(p > 0)) throw new Error(`window ${perWindow.length} position ${i}: no probability for id ${w[i + 1]}`);
        ws += Math.log(p);
    }
    perWindow.push(ws / (w.length - 1));
    sum += ws, n += w.length - 1;
}
if (measures.has("ppl"))
    emit({measure: "ppl", predictions: n, mean_logp: sum / n, ppl: Math.exp(-sum / n), per_window: perWindow, seconds});

await context.dispose();
await model.dispose();
await llama.dispose();
