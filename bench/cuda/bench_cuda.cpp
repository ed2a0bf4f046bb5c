// Batch scoring on the CUDA backend: log p(x[t+1] | x[..t]) for every position of B sequences
// of T tokens (embed, the plan, final norm, head and log-softmax on the GPU; one float per
// token comes back). Driven by bench/cuda/run.py, which runs Hugging Face transformers on the
// same weights in the same run and prints the table.
//   bench_cuda MODEL_DIR DTYPE BATCH TOKENS SECONDS PLAN[;PLAN...] [LOGPROBS_OUT.safetensors]
// A PLAN is "full", the text form (e.g. "0-3,[4-27],28-31"), "unbatched:PLAN" (a parallel
// group's GEMMs one member at a time), or "BxT@PLAN" (another batch x tokens shape).
// Prints one line per plan: "layerlab plan=... seconds_per_pass=... tokens_per_s=...".
#include <chrono>
#include <cstdio>
#include <string>

#include "layerlab/cuda_backend.h"
#include "layerlab/error.h"
#include "layerlab/runner.h"
#include "layerlab/safetensors.h"

using namespace layerlab;

int main(int argc, char** argv) {
  if (argc < 7) {
    std::fprintf(stderr, "usage: bench_cuda MODEL_DIR DTYPE BATCH TOKENS SECONDS PLAN[;PLAN...] [LOGPROBS_OUT]\n");
    return 2;
  }
  try {
    const auto t_load = std::chrono::steady_clock::now();
    auto model = load_model(argv[1]);
    auto backend = make_cuda_backend(*model, parse_cuda_dtype(argv[2]));
    cuda_synchronize();
    std::printf("layerlab load_seconds=%.1f\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count());
    const int B0 = std::stoi(argv[3]), T0 = std::stoi(argv[4]);
    const double budget = std::stod(argv[5]);
    const int V = model->config().vocab;
    int B = 0, T = 0;
    std::vector<int32_t> ids, targets;
    auto make_inputs = [&](int b_, int t_) {
      B = b_, T = t_;
      // The same ids as run.py: (b * 104729 + t * 7919 + 1) % vocab.
      ids.clear();
      targets.assign(size_t(B) * T, -1);
      for (int b = 0; b < B; ++b)
        for (int t = 0; t < T; ++t) ids.push_back(static_cast<int32_t>((int64_t(b) * 104729 + int64_t(t) * 7919 + 1) % V));
      for (int b = 0; b < B; ++b)
        for (int t = 0; t + 1 < T; ++t) targets[size_t(b) * T + t] = ids[size_t(b) * T + t + 1];
    };
    Runner batched_runner(*model, *backend);
    std::unique_ptr<Backend> unbatched_backend;  // made on the first "unbatched:" plan
    std::unique_ptr<Runner> unbatched_runner;
    std::string plans = argv[6];
    bool first = true;
    for (size_t pos = 0; pos <= plans.size();) {
      size_t semi = plans.find(';', pos);
      if (semi == std::string::npos) semi = plans.size();
      std::string text = plans.substr(pos, semi - pos);
      pos = semi + 1;
      if (text.empty()) continue;
      // "BxT@PLAN": another input shape (default BATCH x TOKENS).
      // "unbatched:PLAN": the same plan with a parallel group's GEMMs issued member by member.
      const std::string label = text;
      const size_t at = text.find('@');
      if (at != std::string::npos) {
        const size_t x = text.find('x');
        make_inputs(std::stoi(text.substr(0, x)), std::stoi(text.substr(x + 1, at - x - 1)));
        text = text.substr(at + 1);
      } else {
        make_inputs(B0, T0);
      }
      const bool unbatched = text.rfind("unbatched:", 0) == 0;
      if (unbatched) text = text.substr(10);
      if (unbatched && !unbatched_backend) {
        CudaOptions one_by_one;
        one_by_one.batched_groups = false;
        unbatched_backend = make_cuda_backend(*model, parse_cuda_dtype(argv[2]), 0, one_by_one);
        unbatched_runner = std::make_unique<Runner>(*model, *unbatched_backend);
      }
      Runner& runner = unbatched ? *unbatched_runner : batched_runner;
      Backend& be = unbatched ? *unbatched_backend : *backend;
      const Plan plan = text == "full" ? full_plan(model->config().n_layer) : parse_plan_text(text);
      validate_plan(plan, model->config().n_layer);
      auto score = [&]() {
        auto x = runner.embed(ids, B);
        runner.run(plan, *x);
        auto normed = be.final_norm(*x);
        return runner.target_logprobs(*normed, targets);  // read out on the device
      };
      std::vector<float> lp = score();  // warm-up (allocations)
      lp = score();
      if (first && argc > 7 && at == std::string::npos) {
        write_safetensors(argv[7], {{"logprobs", {B, T}, lp}});
        first = false;
      }
      int reps = 0;
      const auto t0 = std::chrono::steady_clock::now();
      double elapsed = 0;
      do {
        lp = score();
        ++reps;
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      } while (elapsed < budget || reps < 3);
      std::printf("layerlab plan=%s dtype=%s batch=%d tokens=%d reps=%d seconds_per_pass=%.5f tokens_per_s=%.1f\n",
                  label.c_str(), argv[2], B, T, reps, elapsed / reps, double(B) * T * reps / elapsed);
      std::fflush(stdout);
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_cuda: %s\n", e.what());
    return 1;
  }
  return 0;
}
