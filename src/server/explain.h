#pragma once
// What the explainer computes for a prompt under a plan, as JSON: the per-step and per-head
// internals (forward), the next-token distribution (predict), and a full-vs-plan comparison.
// Callers run them on the session's model thread (ModelSession::exec).
#include <cstdint>
#include <vector>

#include "session.h"

namespace layerlab::server {

struct ExplainOptions {
  int top_k = 10;            // final distribution entries
  double temperature = 1.0;  // for the final distribution (0 = greedy one-hot)
  int lens_k = 3;            // logit-lens tokens per step and position (0 = none)
  bool attention = true;     // attention matrices (the bulk of the response)
  int mlp_neurons = 16;      // most active MLP neurons listed per layer application
};
json explain_forward(ModelSession& s, const Plan& plan, const std::vector<int32_t>& ids, const ExplainOptions& o);

struct PredictOptions {
  int top_k = 10;
  double temperature = 1.0;
  bool sample = false;       // also draw one token (temperature, sample_top_k, top_p, seed)
  int sample_top_k = 0;
  double top_p = 1.0;
  uint64_t seed = 0;
};
json predict_next(ModelSession& s, const Plan& plan, const std::vector<int32_t>& ids, const PredictOptions& o);

// Per position: KL(base || plan) of the next-token distributions, whether their argmax agrees,
// and the cosine between the final residual streams; plus their means.
json compare_plans(ModelSession& s, const Plan& base, const Plan& plan, const std::vector<int32_t>& ids);

// The top-k entries of softmax(logits / T) with probabilities, and the entropy (nats).
json distribution_json(const ModelSession& s, const float* logits, int vocab, double temperature, int top_k);

}  // namespace layerlab::server
