// layerlab's side of the llama.cpp comparison (bench/llamacpp/run.py runs both, interleaved).
//   bench_gguf ids MODEL.gguf DATA.jsonl OUT.json   token ids both sides use (BOS + the text's ids)
//   bench_gguf run MODEL.gguf IDS.json THREADS [REPS [MEASURES]]   MEASURES: pp,decode,ppl (default all)
// `run` prints one JSON line per measurement, the same fields as peer.mjs:
//   pp<T>:     prompt processing of the first T ids (no logits), tok/s, fastest of REPS;
//   decode128: 128 greedy tokens after the 16-id prompt, timed from the 1st to the 129th new
//              token (128 single-token steps with the KV cache), tok/s; also the median step's
//              tok/s (robust to a descheduled thread on a shared machine); the tokens themselves;
//   ppl:       mean log p(x[t+1] | x[..t]) over every window (each window a fresh sequence).
// LAYERLAB_FUSED_ONE_ROW=0 turns off the fused one-row kernels (typed_dot.h), LAYERLAB_DOT_ROWS=N
// sets TypedGemmTuning::dot_rows (typed_gemm.h): to time the kernels' choices in one build.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backend/cpu/typed_gemm.h"
#include "layerlab/documents.h"
#include "layerlab/error.h"
#include "layerlab/generate.h"
#include "layerlab/model.h"
#include "layerlab/runner.h"
#include "layerlab/tokenizer.h"

using namespace layerlab;
using json = nlohmann::json;

namespace {

constexpr int kPromptIds = 512, kDecodePrompt = 16, kDecodeTokens = 128, kWindows = 4, kWindowIds = 256;

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// The ids: BOS + the concatenated documents' ids, cut into the prompt and the windows (each
// window BOS + the next kWindowIds - 1 ids of the stream after the prompt's).
int make_ids(const std::string& model_path, const std::string& data, const std::string& out) {
  auto tok = load_tokenizer(model_path);
  if (tok->bos_id() < 0) fail(model_path, "the tokenizer has no BOS id");
  std::vector<int32_t> stream;
  for (const std::string& doc : read_text_documents(data)) {
    const auto ids = tok->encode(doc);
    stream.insert(stream.end(), ids.begin(), ids.end());
    if (stream.size() > size_t(kPromptIds + kWindows * kWindowIds)) break;
  }
  if (stream.size() <= size_t(kPromptIds + kWindows * kWindowIds)) fail(data, "too few tokens for the ids file");
  auto take = [&](size_t from, int n) {
    std::vector<int32_t> v{tok->bos_id()};
    v.insert(v.end(), stream.begin() + from, stream.begin() + from + n - 1);
    return v;
  };
  json j;
  j["model"] = model_path, j["data"] = data;
  j["prompt"] = take(0, kPromptIds);
  j["decode_prompt"] = take(0, kDecodePrompt);
  j["windows"] = json::array();
  for (int w = 0; w < kWindows; ++w) j["windows"].push_back(take(kPromptIds + size_t(w) * kWindowIds, kWindowIds));
  std::ofstream(out) << j.dump() << "\n";
  return 0;
}

void emit(json j) {
  j["side"] = "layerlab";
  std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
}

double median_step(const std::vector<double>& stamps) {
  std::vector<double> d;
  for (size_t i = 1; i < stamps.size(); ++i) d.push_back(stamps[i] - stamps[i - 1]);
  std::nth_element(d.begin(), d.begin() + d.size() / 2, d.end());
  return d[d.size() / 2];
}

int run(const std::string& model_path, const std::string& ids_path, int threads, int reps, const std::string& measures) {
  auto wanted = [&](const std::string& m) { return ("," + measures + ",").find("," + m + ",") != std::string::npos; };
  std::ifstream in(ids_path);
  if (!in) fail(ids_path, "cannot open the ids file");
  json ids;
  try {
    ids = json::parse(in);
  } catch (const std::exception& e) {
    fail(ids_path, std::string("not JSON: ") + e.what());
  }
  omp_set_num_threads(threads);  // what the CLI's --threads does (app/model_args.cpp)
  if (const char* f = std::getenv("LAYERLAB_FUSED_ONE_ROW")) cpu::typed_gemm_tuning().fused_one_row = std::string(f) != "0";
  if (const char* d = std::getenv("LAYERLAB_DOT_ROWS")) cpu::typed_gemm_tuning().dot_rows = std::stoll(d);
  auto model = load_model(model_path);
  auto backend = make_cpu_backend(*model);
  Runner runner(*model, *backend);
  const Plan plan = full_plan(model->config().n_layer);
  const std::vector<int32_t> prompt = ids["prompt"];

  for (int T : {128, 512}) {
    if (!wanted("pp")) break;
    ForwardRequest req;
    req.ids.assign(prompt.begin(), prompt.begin() + T);
    runner.forward(plan, req);  // warm-up: buffers, pages
    double best = 1e30;
    for (int r = 0; r < reps; ++r) {
      const double t0 = now();
      runner.forward(plan, req);
      best = std::min(best, now() - t0);
    }
    emit({{"measure", "pp" + std::to_string(T)}, {"tokens", T}, {"seconds", best}, {"tok_s", T / best}});
  }

  const std::vector<int32_t> dprompt = ids["decode_prompt"];
  double best = 1e30, best_median = 1e30;
  std::vector<int32_t> tokens;
  for (int r = 0; r < reps && wanted("decode"); ++r) {
    std::vector<double> stamps;
    tokens = generate(runner, plan, dprompt, kDecodeTokens + 1, {.temperature = 0}, -1, [&](int32_t) {
      stamps.push_back(now());
      return true;
    });
    best = std::min(best, stamps.back() - stamps.front());
    best_median = std::min(best_median, median_step(stamps));
  }
  if (wanted("decode"))
    emit({{"measure", "decode128"},
          {"tokens", kDecodeTokens},
          {"seconds", best},
          {"tok_s", kDecodeTokens / best},
          {"median_step_tok_s", 1 / best_median},
          {"generated", tokens}});
  if (!wanted("ppl")) return 0;

  double sum = 0, seconds = 0;
  int64_t n = 0;
  std::vector<double> per_window;
  for (const auto& w : ids["windows"]) {
    ForwardRequest req;
    req.ids = w.get<std::vector<int32_t>>();
    req.logprobs_next = true;
    const double t0 = now();
    const ForwardResult res = runner.forward(plan, req);
    seconds += now() - t0;
    double ws = 0;
    for (float lp : res.logprobs_next) ws += lp;
    per_window.push_back(ws / double(res.logprobs_next.size()));
    sum += ws, n += int64_t(res.logprobs_next.size());
  }
  emit({{"measure", "ppl"},
        {"predictions", n},
        {"mean_logp", sum / double(n)},
        {"ppl", std::exp(-sum / double(n))},
        {"per_window", per_window},
        {"seconds", seconds}});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "ids" && argc == 5) return make_ids(argv[2], argv[3], argv[4]);
    if (mode == "run" && argc >= 5 && argc <= 7) {
      const int threads = std::stoi(argv[4]), reps = argc >= 6 ? std::stoi(argv[5]) : 3;
      if (threads < 1 || reps < 1) fail("THREADS / REPS", "must be >= 1");
      return run(argv[2], argv[3], threads, reps, argc == 7 ? argv[6] : "pp,decode,ppl");
    }
    std::fprintf(stderr,
                 "usage: bench_gguf ids MODEL.gguf DATA.jsonl OUT.json\n"
                 "       bench_gguf run MODEL.gguf IDS.json THREADS [REPS [pp,decode,ppl]]\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_gguf: error: %s\n", e.what());
    return 1;
  }
}
