// Batch-scoring throughput of layerlab's CPU backend: logits for every position of one
// sequence of T tokens (the work of scoring a text). Driven by bench/forward/run.py, which
// runs PyTorch on the same weights in the same run and prints the ratio.
//   bench_forward MODEL_DIR T1,T2,... SECONDS [LOGITS_OUT.safetensors]
#include <chrono>
#include <cstdio>
#include <random>
#include <string>

#include "layerlab/runner.h"
#include "layerlab/safetensors.h"

using namespace layerlab;

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: bench_forward MODEL_DIR T1,T2,... SECONDS [LOGITS_OUT]\n");
    return 2;
  }
  auto model = load_model(argv[1]);
  auto backend = make_cpu_backend(*model);
  Runner runner(*model, *backend);
  const Plan plan = full_plan(model->config().n_layer);
  const double budget = std::stod(argv[3]);
  std::string lens = argv[2];
  bool first = true;
  for (size_t pos = 0; pos < lens.size();) {
    size_t comma = lens.find(',', pos);
    if (comma == std::string::npos) comma = lens.size();
    const int T = std::stoi(lens.substr(pos, comma - pos));
    pos = comma + 1;
    ForwardRequest req;
    // The same ids as run.py: (i * 7919) % vocab.
    for (int i = 0; i < T; ++i) req.ids.push_back(static_cast<int32_t>((int64_t(i) * 7919) % model->config().vocab));
    req.all_logits = true;
    ForwardResult r = runner.forward(plan, req);  // warm-up
    if (first && argc > 4) {
      write_safetensors(argv[4], {{"logits", {T, model->config().vocab}, r.logits}});
      first = false;
    }
    int reps = 0;
    const auto t0 = std::chrono::steady_clock::now();
    double elapsed = 0;
    do {
      r = runner.forward(plan, req);
      ++reps;
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } while (elapsed < budget || reps < 2);
    std::printf("layerlab T=%d reps=%d seconds_per_pass=%.4f tokens_per_s=%.1f\n", T, reps, elapsed / reps,
                T * reps / elapsed);
    std::fflush(stdout);
  }
  return 0;
}
