#pragma once
// The plan executor: embeds tokens, runs a plan's steps on a backend, and produces the
// residual stream after each step, the final norm, logits and next-token log-probabilities.
// Prefix reuse: run the shared leading steps once, clone the Hidden, continue per plan.
#include <functional>
#include <memory>
#include <vector>

#include "layerlab/backend.h"
#include "layerlab/model.h"
#include "layerlab/plan.h"

namespace layerlab {

struct ForwardRequest {
  std::vector<int32_t> ids;  // [batch, tokens]
  int batch = 1;
  bool keep_residuals = false;  // resid after every step
  bool all_logits = false;      // logits for every position (else none; see logprobs)
  bool logprobs_next = false;   // log p(x[t+1] | x[..t]) for every t (decoders)
};

struct ForwardResult {
  std::vector<std::vector<float>> resid;  // per step: [batch * tokens, d]
  std::vector<float> final_norm;          // [batch * tokens, d]
  std::vector<float> logits;              // [batch * tokens, vocab] when all_logits
  std::vector<float> logprobs_next;       // [batch, tokens - 1]
};

class Runner {
 public:
  Runner(const Model& model, Backend& backend) : model_(model), backend_(backend) {}
  const Model& model() const { return model_; }
  Backend& backend() { return backend_; }

  std::unique_ptr<Hidden> embed(const std::vector<int32_t>& ids, int batch, int pos0 = 0);
  // With token type ids beside the ids (same shape), each in [0, type_vocab) (BERT pairs).
  std::unique_ptr<Hidden> embed_typed(const std::vector<int32_t>& ids, const std::vector<int32_t>& types, int batch,
                                      int pos0 = 0);
  // Runs steps [first, last) of `plan` on x. `after_step(k, x)` is called after each step.
  void run(const Plan& plan, Hidden& x, size_t first = 0, size_t last = SIZE_MAX, KvCache* kv = nullptr,
           const std::function<void(size_t, const Hidden&)>& after_step = {});
  // Everything from a Hidden already advanced through `plan`'s first `start_step` steps.
  ForwardResult finish(const Plan& plan, std::unique_ptr<Hidden> x, size_t start_step, const ForwardRequest& req);
  ForwardResult forward(const Plan& plan, const ForwardRequest& req);

  // log-softmax of the logits of each row, gathered at targets[row] (rows with target < 0 give 0).
  // Computed in chunks so the full [rows, vocab] matrix is never held.
  std::vector<float> target_logprobs(const Hidden& normed, const std::vector<int32_t>& targets);

 private:
  const Model& model_;
  Backend& backend_;
};

void validate_ids(const std::vector<int32_t>& ids, const ModelConfig& cfg, int pos0, int tokens);

}  // namespace layerlab
