#include "layerlab/generate.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "layerlab/error.h"

namespace layerlab {

void validate_sampling(const SamplingParams& p) {
  if (!(p.temperature >= 0) || !std::isfinite(p.temperature)) fail("temperature", "must be a number >= 0");
  if (p.top_k < 0) fail("top_k", "must be >= 0");
  if (!(p.top_p > 0 && p.top_p <= 1)) fail("top_p", "must be in (0, 1]");
}

std::vector<float> softmax_with_temperature(const float* logits, int vocab, double temperature) {
  std::vector<float> p(vocab, 0.0f);
  const int best = static_cast<int>(std::max_element(logits, logits + vocab) - logits);
  if (temperature <= 0) {
    p[best] = 1.0f;
    return p;
  }
  const double mx = logits[best];
  double sum = 0;
  for (int i = 0; i < vocab; ++i) sum += (p[i] = static_cast<float>(std::exp((logits[i] - mx) / temperature)));
  for (float& v : p) v = static_cast<float>(v / sum);
  return p;
}

int32_t sample_token(const float* logits, int vocab, const SamplingParams& sp, std::mt19937_64& rng) {
  std::vector<float> p = softmax_with_temperature(logits, vocab, sp.temperature);
  if (sp.temperature <= 0) return static_cast<int32_t>(std::max_element(p.begin(), p.end()) - p.begin());
  std::vector<int32_t> order(vocab);
  std::iota(order.begin(), order.end(), 0);
  const int keep_k = sp.top_k > 0 ? std::min(sp.top_k, vocab) : vocab;
  std::partial_sort(order.begin(), order.begin() + keep_k, order.end(),
                    [&](int32_t a, int32_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
  order.resize(keep_k);
  // top-p: the smallest prefix whose mass reaches top_p (at least one token).
  double mass = 0;
  size_t keep = 0;
  while (keep < order.size()) {
    mass += p[order[keep++]];
    if (mass >= sp.top_p) break;
  }
  order.resize(keep);
  double total = 0;
  for (int32_t t : order) total += p[t];
  double u = std::uniform_real_distribution<double>(0.0, total)(rng);
  for (int32_t t : order) {
    u -= p[t];
    if (u <= 0) return t;
  }
  return order.back();
}

std::vector<int32_t> generate(Runner& runner, const Plan& plan, const std::vector<int32_t>& prompt, int n,
                              const SamplingParams& params, int32_t stop_id,
                              const std::function<bool(int32_t)>& on_token) {
  const ModelConfig& cfg = runner.model().config();
  if (!cfg.causal) fail("generate", "model family '" + cfg.family + "' is not a decoder");
  if (prompt.empty()) fail("generate", "empty prompt");
  if (n < 0) fail("generate", "number of tokens must be >= 0");
  validate_sampling(params);
  validate_plan(plan, cfg.n_layer);
  const int capacity = static_cast<int>(prompt.size()) + n;
  if (cfg.positions == Positions::Learned && capacity > cfg.max_positions)
    fail("generate", "prompt + new tokens = " + std::to_string(capacity) + " exceeds the model's context of " +
                         std::to_string(cfg.max_positions));
  Backend& backend = runner.backend();
  auto cache = backend.make_cache(plan, 1, capacity);
  std::mt19937_64 rng(params.seed);
  std::vector<int32_t> out;
  std::vector<int32_t> chunk = prompt;
  std::vector<float> logits(cfg.vocab);
  for (int i = 0; i < n; ++i) {
    auto x = runner.embed(chunk, 1, cache->length);
    runner.run(plan, *x, 0, SIZE_MAX, cache.get());
    cache->length += x->tokens;
    auto normed = backend.final_norm(*x);
    backend.logits(*normed, normed->rows() - 1, 1, logits.data());
    const int32_t tok = sample_token(logits.data(), cfg.vocab, params, rng);
    out.push_back(tok);
    if (on_token && !on_token(tok)) break;
    if (tok == stop_id) break;
    chunk = {tok};
  }
  return out;
}

}  // namespace layerlab
