#pragma once
// Sampling and incremental generation under any plan (KV cache per layer application).
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "layerlab/runner.h"

namespace layerlab {

struct SamplingParams {
  double temperature = 1.0;  // 0 = greedy
  int top_k = 0;             // 0 = off
  double top_p = 1.0;        // 1 = off
  uint64_t seed = 0;
};

// Validates ranges (temperature >= 0, top_k >= 0, 0 < top_p <= 1); Error naming the field.
void validate_sampling(const SamplingParams& p);
// Probabilities after temperature (softmax of logits / T; T = 0 gives a one-hot argmax).
std::vector<float> softmax_with_temperature(const float* logits, int vocab, double temperature);
// Draws a token from logits with temperature, top-k then top-p filtering.
int32_t sample_token(const float* logits, int vocab, const SamplingParams& p, std::mt19937_64& rng);

// Generates up to n tokens after `prompt` (decoder models). on_token is called for each new
// token and may return false to stop. Stops at `stop_id` (>= 0) too. Returns the new tokens.
std::vector<int32_t> generate(Runner& runner, const Plan& plan, const std::vector<int32_t>& prompt, int n,
                              const SamplingParams& params, int32_t stop_id = -1,
                              const std::function<bool(int32_t)>& on_token = {});

}  // namespace layerlab
