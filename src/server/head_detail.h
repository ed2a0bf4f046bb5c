#pragma once
// One attention head of one layer application, step by step (the Transformer Explainer's
// attention view): its Q, K and V vectors, the raw scores Q K^T, the scaled scores, the causal
// mask, the softmax, and the head's output (probabilities times V). Runs on the model thread.
#include <cstdint>
#include <vector>

#include "session.h"

namespace layerlab::server {

struct HeadRequest {
  int step = 0;         // plan step index
  int application = 0;  // index among the step's layer applications (members x iterations)
  int head = 0;         // query head; its key/value head follows from grouped-query attention
};
json explain_head(ModelSession& s, const Plan& plan, const std::vector<int32_t>& ids, const HeadRequest& r);

}  // namespace layerlab::server
