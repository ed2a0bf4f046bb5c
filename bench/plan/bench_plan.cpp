// Plan execution benchmarks (issue 4):
//  1. a parallel group run as batched work (all members' stages issued together) vs the same
//     group run one layer at a time and averaged, same results;
//  2. a Painters sweep (every variant for N = 1..T/2-1) with and without prefix reuse.
//   bench_plan [MODEL_DIR] [TOKENS]   (default: ../shared/models/gpt2-code-24l, 128 tokens)
#include <chrono>
#include <cstdio>
#include <functional>

#include "layerlab/runner.h"

using namespace layerlab;

namespace {

double seconds(const std::function<void()>& fn, int min_reps = 3, double min_time = 1.0) {
  fn();  // warm-up
  int reps = 0;
  const auto t0 = std::chrono::steady_clock::now();
  double el = 0;
  do {
    fn();
    ++reps;
    el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (reps < min_reps || el < min_time);
  return el / reps;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, double(std::abs(a[i] - b[i])));
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : std::string(LAYERLAB_SHARED_DIR) + "/models/gpt2-code-24l";
  const int T = argc > 2 ? std::atoi(argv[2]) : 128;
  auto model = load_model(dir);
  auto backend = make_cpu_backend(*model);
  Runner runner(*model, *backend);
  const int L = model->config().n_layer;
  std::vector<int32_t> ids;
  for (int i = 0; i < T; ++i) ids.push_back((i * 7919 + 13) % model->config().vocab);
  std::printf("model %s (%d layers), %d tokens\n\n", dir.c_str(), L, T);

  // 1. Parallel group: batched vs one layer at a time.
  std::printf("parallel group of the middle layers: batched vs one layer at a time\n");
  std::printf("%8s %6s %12s %12s %8s %14s\n", "members", "tokens", "batched ms", "serial ms", "speedup", "max |diff|");
  for (int tokens : {1, 16, T}) {
    std::vector<int32_t> sub(ids.begin(), ids.begin() + tokens);
    auto base = runner.embed(sub, 1);
    for (int n : {L / 4, 2}) {
      PlanStep group;
      for (int l = n; l < L - n; ++l) group.layers.push_back(l);
      const int M = static_cast<int>(group.layers.size());
      std::unique_ptr<Hidden> out_batched;
      const double tb = seconds([&] {
        out_batched = base->clone();
        backend->run_step(group, 0, *out_batched, nullptr);
      });
      auto serial = [&] {  // the same group as M separate single-layer passes, averaged
        std::vector<float> acc;
        for (int l : group.layers) {
          auto h = base->clone();
          backend->run_step({{l}, 1}, 0, *h, nullptr);
          std::vector<float> v = h->to_host();
          if (acc.empty()) acc.assign(v.size(), 0.0f);
          for (size_t i = 0; i < v.size(); ++i) acc[i] += v[i];
        }
        for (float& a : acc) a /= M;
        return acc;
      };
      const double ts = seconds([&] { serial(); });
      const std::vector<float> acc = serial();
      std::printf("%8d %6d %12.2f %12.2f %7.2fx %14.2e\n", M, tokens, tb * 1e3, ts * 1e3, ts / tb,
                  max_abs_diff(out_batched->to_host(), acc));
    }
  }

  // 2. A Painters sweep: every variant for every N, scoring the same text.
  std::vector<Plan> plans;
  for (int n = 1; 2 * n < L; ++n)
    for (const auto& v : variant_names())
      if (v != "full") plans.push_back(make_variant(v, L, n, 3, 0));
  ForwardRequest req;
  req.ids = ids;
  req.logprobs_next = true;
  double loss_plain = 0, loss_reused = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (const Plan& p : plans)
    for (float lp : runner.forward(p, req).logprobs_next) loss_plain -= lp;
  const double t_plain = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto t1 = std::chrono::steady_clock::now();
  // Plans are grouped by N; each group shares its first N steps.
  size_t i = 0;
  while (i < plans.size()) {
    size_t j = i + 1;
    size_t shared = plans[i].steps.size();
    while (j < plans.size() && common_prefix(plans[i], plans[j]) > 0) shared = std::min(shared, common_prefix(plans[i], plans[j])), ++j;
    auto prefix = runner.embed(ids, 1);
    runner.run(plans[i], *prefix, 0, shared);
    for (size_t k = i; k < j; ++k)
      for (float lp : runner.finish(plans[k], prefix->clone(), shared, req).logprobs_next) loss_reused -= lp;
    i = j;
  }
  const double t_reused = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  std::printf("\nsweep of %zu plans (6 variants x N = 1..%d), %d tokens each\n", plans.size(), (L - 1) / 2, T);
  std::printf("  without prefix reuse: %.2f s\n  with prefix reuse:    %.2f s  (%.2fx faster)\n", t_plain, t_reused,
              t_plain / t_reused);
  std::printf("  summed loss identical: %s (%.6f vs %.6f)\n", loss_plain == loss_reused ? "yes" : "NO", loss_plain,
              loss_reused);
  return 0;
}
