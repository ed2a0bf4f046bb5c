// bench_typed_linear [n k] [--tiles]: C = A W^T with W [n, k] stored in each weight type,
// against the float32 sgemm (gemm.h) on the same shape, in the same run and thread team.
//   1 row (decoding):  GB/s of W as stored, and the time ratio vs float32 (memory bound: a
//                      smaller type should win by about its size ratio);
//   128 rows (prompt): GFLOP/s and the ratio vs float32 (the tiled decode + sgemm path).
// --tiles: the 128-row time for several tile sizes (typed_gemm_tuning().tile_rows) and the
// 1..16-row times of both paths (dot_rows), to choose the defaults.
// --model DIR: a whole forward pass (all logits) of T = 1 and T = 128 tokens with the folder's
// f16 / bf16 matrices kept 16-bit and converted to float32 (LoadOptions::keep_dtype).
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/gemm.h"
#include "backend/cpu/typed_gemm.h"
#include "layerlab/model.h"
#include "layerlab/quantize.h"
#include "layerlab/runner.h"

using namespace layerlab;

namespace {

struct Weight {
  std::vector<uint8_t> bytes;
  Param p;
};

Weight make(WeightType t, const std::vector<float>& w, int64_t n, int64_t k) {
  Weight out;
  out.bytes.resize(size_t(n * row_bytes(t, k)));
  quantize_rows(t, w.data(), n, k, out.bytes.data());
  out.p.raw = out.bytes.data(), out.p.type = t, out.p.rows = n, out.p.cols = k;
  if (t == WeightType::F32) out.p.data = reinterpret_cast<const float*>(out.bytes.data());
  return out;
}

// The fastest of many single products, in seconds: this machine is shared (docs/BENCHMARKS.md),
// and the minimum is the run that was not descheduled.
double time_product(const Weight& w, int64_t m, const std::vector<float>& a, std::vector<float>& c) {
  const int64_t n = w.p.rows, k = w.p.cols;
  const int reps = m <= 16 ? 40 : 12;
  double best = 1e30;
  for (int rep = 0; rep < reps; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    cpu::gemm_nt(m, n, k, cpu::weight_product(a.data(), w.p, nullptr, c.data()));
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

}  // namespace

// Fastest of `reps` forward passes of T tokens (all logits), in seconds.
double time_forward(const std::string& dir, bool keep, int T) {
  auto model = load_model(dir, {.keep_dtype = keep});
  auto backend = make_cpu_backend(*model);
  Runner runner(*model, *backend);
  const Plan plan = full_plan(model->config().n_layer);
  ForwardRequest req;
  for (int i = 0; i < T; ++i) req.ids.push_back(int32_t((int64_t(i) * 7919) % model->config().vocab));
  req.all_logits = true;
  double best = 1e30;
  for (int rep = 0; rep < (T == 1 ? 40 : 8); ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    runner.forward(plan, req);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

int model_bench(const std::string& dir) {
  std::printf("%s, %d threads: forward pass, all logits (fastest of several)\n", dir.c_str(), omp_get_max_threads());
  for (int T : {1, 128}) {
    const double kept = time_forward(dir, true, T), converted = time_forward(dir, false, T);
    std::printf("T=%-4d 16-bit kept %8.2f ms | converted to f32 %8.2f ms | ratio %.2f\n", T, kept * 1e3,
                converted * 1e3, converted / kept);
  }
  return 0;
}

int main(int argc, char** argv) {
  int64_t n = 4096, k = 4096;
  bool tiles = false;
  std::vector<std::string> pos;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--model") == 0 && i + 1 < argc) return model_bench(argv[i + 1]);
    std::strcmp(argv[i], "--tiles") == 0 ? (void)(tiles = true) : pos.push_back(argv[i]);
  }
  if (pos.size() == 2) n = std::stoll(pos[0]), k = std::stoll(pos[1]);
  std::mt19937 rng(1);
  std::normal_distribution<float> g(0.0f, 0.05f);
  std::vector<float> w(size_t(n * k)), a(size_t(128 * k)), c(size_t(128 * n));
  for (auto& v : w) v = g(rng);
  for (auto& v : a) v = g(rng);
  std::printf("W [%lld, %lld], %d threads; ratios are float32 time / this type's time (>1: faster)\n",
              (long long)n, (long long)k, omp_get_max_threads());
  const WeightType types[] = {WeightType::F32,  WeightType::F16,  WeightType::BF16, WeightType::Q8_0,
                              WeightType::Q4_0, WeightType::Q4_K, WeightType::Q5_K, WeightType::Q6_K};
  double f32_1 = 0, f32_128 = 0;
  std::printf("%-6s %10s | %9s %9s %8s | %9s %8s\n", "type", "W MB", "1row us", "GB/s", "ratio", "128 GF/s", "ratio");
  for (WeightType t : types) {
    const Weight wt = make(t, w, n, k);
    const double t1 = time_product(wt, 1, a, c), t128 = time_product(wt, 128, a, c);
    if (t == WeightType::F32) f32_1 = t1, f32_128 = t128;
    std::printf("%-6s %10.1f | %9.1f %9.2f %8.2f | %9.1f %8.2f\n", weight_type_name(t), wt.bytes.size() / 1e6,
                t1 * 1e6, wt.bytes.size() / t1 / 1e9, f32_1 / t1, 2.0 * 128 * n * k / t128 / 1e9, f32_128 / t128);
  }
  if (!tiles) return 0;
  cpu::TypedGemmTuning& tune = cpu::typed_gemm_tuning();
  const cpu::TypedGemmTuning saved = tune;
  for (WeightType t : {WeightType::F16, WeightType::Q8_0, WeightType::Q4_K}) {
    const Weight wt = make(t, w, n, k);
    std::printf("%s 128 rows, GFLOP/s by tile rows:", weight_type_name(t));
    for (int64_t tr : {32, 64, 128, 256, 512}) {
      tune.tile_rows = tr;
      std::printf("  %lld: %.1f", (long long)tr, 2.0 * 128 * n * k / time_product(wt, 128, a, c) / 1e9);
    }
    tune = saved;
    std::printf("\n%s us by rows, dot path / tiled path:", weight_type_name(t));
    for (int64_t m : {1, 2, 4, 8, 16}) {
      tune.dot_rows = 1 << 30;
      const double dot = time_product(wt, m, a, c);
      tune.dot_rows = 0;
      const double tiled = time_product(wt, m, a, c);
      std::printf("  %lld: %.0f / %.0f", (long long)m, dot * 1e6, tiled * 1e6);
    }
    tune = saved;
    std::printf("\n");
  }
  return 0;
}
