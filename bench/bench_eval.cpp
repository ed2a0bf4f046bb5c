// Evaluation throughput on a GPT-2-124M-shaped model with random weights (12 layers, d=768,
// 12 heads, vocab 50257, 1024 positions), written to a temporary folder and loaded like a
// real checkpoint. For each task a few items of typical token lengths are scored exactly as
// the task does (score_sequences / generate) and the time is extrapolated to 1000 items.
// Peers measured in the same process: batched vs one-sequence-at-a-time scoring, and a
// sweep group (every variant at one N) with vs without prefix reuse.
//   bench_eval [ITEMS_PER_TASK=8]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "layerlab/eval.h"
#include "layerlab/generate.h"
#include "layerlab/safetensors.h"

using namespace layerlab;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

std::string make_gpt2_124m(const std::string& dir) {
  std::filesystem::create_directories(dir);
  const int d = 768, L = 12, V = 50257, P = 1024, ff = 3072;
  std::mt19937_64 rng(7);
  std::normal_distribution<float> nd(0.0f, 0.02f);
  auto randn = [&](std::vector<int64_t> shape) {
    OutTensor t;
    t.shape = shape;
    int64_t n = 1;
    for (auto s : shape) n *= s;
    t.f32.resize(n);
    for (float& x : t.f32) x = nd(rng);
    return t;
  };
  auto fill = [](std::vector<int64_t> shape, float v) {
    OutTensor t;
    t.shape = shape;
    t.f32.assign(shape[0], v);
    return t;
  };
  std::vector<OutTensor> ts;
  auto add = [&](const std::string& name, OutTensor t) {
    t.name = name;
    ts.push_back(std::move(t));
  };
  add("wte.weight", randn({V, d}));
  add("wpe.weight", randn({P, d}));
  for (int l = 0; l < L; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    add(h + "ln_1.weight", fill({d}, 1));
    add(h + "ln_1.bias", fill({d}, 0));
    add(h + "attn.c_attn.weight", randn({d, 3 * d}));
    add(h + "attn.c_attn.bias", fill({3 * d}, 0));
    add(h + "attn.c_proj.weight", randn({d, d}));
    add(h + "attn.c_proj.bias", fill({d}, 0));
    add(h + "ln_2.weight", fill({d}, 1));
    add(h + "ln_2.bias", fill({d}, 0));
    add(h + "mlp.c_fc.weight", randn({d, ff}));
    add(h + "mlp.c_fc.bias", fill({ff}, 0));
    add(h + "mlp.c_proj.weight", randn({ff, d}));
    add(h + "mlp.c_proj.bias", fill({d}, 0));
  }
  add("ln_f.weight", fill({d}, 1));
  add("ln_f.bias", fill({d}, 0));
  write_safetensors(dir + "/model.safetensors", ts);
  std::ofstream(dir + "/config.json") << R"({"model_type": "gpt2", "n_layer": 12, "n_embd": 768, "n_head": 12,
    "vocab_size": 50257, "n_positions": 1024, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5})";
  return dir;
}

// A scoring request with `ctx` context tokens and `cont` continuation tokens (ids arbitrary).
ScoreSequence request(std::mt19937_64& rng, int ctx, int cont) {
  std::vector<int32_t> ctx_ids(ctx), cont_ids(cont);
  for (auto& t : ctx_ids) t = static_cast<int32_t>(rng() % 50000);
  for (auto& t : cont_ids) t = static_cast<int32_t>(rng() % 50000);
  return continuation_sequence({ctx_ids, cont_ids}, 1024);
}

struct Shape {
  const char* task;
  int choices, ctx, cont;  // typical GPT-2 token counts of the published datasets (docs/EVAL.md)
};

}  // namespace

int main(int argc, char** argv) {
  const int items = argc > 1 ? std::atoi(argv[1]) : 8;
  const std::string dir = std::filesystem::temp_directory_path() / "layerlab_bench_gpt2_124m";
  std::printf("writing a random GPT-2-124M checkpoint to %s ...\n", dir.c_str());
  auto model = load_model(make_gpt2_124m(dir));
  auto backend = make_cpu_backend(*model);
  Runner runner(*model, *backend);
  std::mt19937_64 rng(1);
  const Plan full = full_plan(12);

  std::printf("\n%-16s %8s %10s %14s %14s\n", "task", "items", "tokens/it", "s per item", "s per 1000");
  const Shape shapes[] = {{"lambada_openai", 1, 80, 2}, {"hellaswag", 4, 45, 25}, {"arc_easy", 4, 30, 6},
                          {"winogrande", 2, 20, 7},     {"perplexity", 1, 1023, 1}};
  for (const Shape& s : shapes) {
    std::vector<ScoreSequence> seqs;
    for (int i = 0; i < items * s.choices; ++i) {
      if (std::string(s.task) == "perplexity") {  // one full 1024-token window, every token scored
        ScoreSequence w = request(rng, 1024, 1);
        w.ids.resize(1024);
        w.rows.clear(), w.targets.clear();
        for (int r = 0; r < 1023; ++r) w.rows.push_back(r), w.targets.push_back(w.ids[r + 1]);
        seqs.push_back(w);
      } else {
        seqs.push_back(request(rng, s.ctx, s.cont));
      }
    }
    const double t0 = now();
    score_sequences(runner, {full}, seqs);
    const double per = (now() - t0) / items;
    std::printf("%-16s %8d %10d %14.3f %14.1f%s\n", s.task, items, s.choices * (s.ctx + s.cont), per, per * 1000,
                std::string(s.task) == "perplexity" ? "  (items = 1024-token windows)" : "");
  }
  {  // gsm8k: a 5-shot prompt of ~800 tokens, greedy generation; measured with 128 new tokens
    std::vector<int32_t> prompt(800);
    for (auto& t : prompt) t = static_cast<int32_t>(rng() % 50000);
    SamplingParams greedy;
    greedy.temperature = 0;
    const int gen = 128;  // about the length of a GSM8K reference solution
    const double t0 = now();
    generate(runner, full, prompt, gen, greedy);
    const double per = now() - t0;
    // A prompt of 800 + up to 256 new tokens; per-token decode cost grows little at this size.
    const double prefill_and_gen = per;  // measured: prefill + 128 tokens
    std::printf("%-16s %8d %10d %14.3f %14.1f  (measured 1 item: 800-token prompt + %d new tokens; "
                "lm-eval allows up to 256)\n",
                "gsm8k", 1, 800 + gen, prefill_and_gen, prefill_and_gen * 1000, gen);
  }

  // Peer 1: batched (4096 padded tokens per batch) vs one sequence per forward, hellaswag shape.
  std::vector<ScoreSequence> hs;
  for (int i = 0; i < 4 * items; ++i) hs.push_back(request(rng, 45, 25));
  ScoreOptions one;
  one.batch_tokens = 1;
  double t0 = now();
  score_sequences(runner, {full}, hs, one);
  const double t_one = now() - t0;
  t0 = now();
  score_sequences(runner, {full}, hs);
  const double t_batched = now() - t0;
  std::printf("\nhellaswag-shaped scoring, %d requests: one at a time %.2f s, batched %.2f s: %.2fx\n", 4 * items, t_one,
              t_batched, t_one / t_batched);

  // Peer 2: one sweep group (every variant at N = 3) with and without prefix reuse.
  std::vector<Plan> group = {full};
  for (const auto& v : variant_names())
    if (v != "full") group.push_back(make_variant(v, 12, 3, 3, 0));
  std::vector<ScoreSequence> lam;
  for (int i = 0; i < items; ++i) lam.push_back(request(rng, 80, 2));
  ScoreOptions no_reuse;
  no_reuse.prefix_reuse = false;
  t0 = now();
  score_sequences(runner, group, lam, no_reuse);
  const double t_plain = now() - t0;
  t0 = now();
  score_sequences(runner, group, lam);
  const double t_reuse = now() - t0;
  std::printf("sweep group N=3 (%zu plans), %d lambada-shaped items: without prefix reuse %.2f s, with %.2f s: %.2fx\n",
              group.size(), items, t_plain, t_reuse, t_plain / t_reuse);
  std::filesystem::remove_all(dir);
  return 0;
}
