// Runner: plan execution on any backend, plus the read-outs (residuals, final norm, logits,
// next-token log-probabilities).
#include <algorithm>
#include <numeric>
#include <cmath>

#include "layerlab/error.h"
#include "layerlab/large_buffer.h"
#include "layerlab/runner.h"

namespace layerlab {

void validate_ids(const std::vector<int32_t>& ids, const ModelConfig& cfg, int pos0, int tokens) {
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= cfg.vocab)
      fail("input ids", "token id " + std::to_string(ids[i]) + " at index " + std::to_string(i) +
                            " is outside the vocabulary [0, " + std::to_string(cfg.vocab) + ")");
  if (tokens <= 0) fail("input ids", "no tokens");
  if (cfg.positions == Positions::Learned && pos0 + tokens > cfg.max_positions)
    fail("input ids", std::to_string(pos0 + tokens) + " positions exceed the model's " +
                          std::to_string(cfg.max_positions) + " learned positions");
}

std::unique_ptr<Hidden> Runner::embed(const std::vector<int32_t>& ids, int batch, int pos0) {
  if (batch <= 0 || ids.size() % batch != 0) fail("input ids", "count is not a multiple of the batch size");
  const int tokens = static_cast<int>(ids.size() / batch);
  validate_ids(ids, model_.config(), pos0, tokens);
  return backend_.embed(ids, batch, tokens, pos0);
}

std::unique_ptr<Hidden> Runner::embed_typed(const std::vector<int32_t>& ids, const std::vector<int32_t>& types,
                                            int batch, int pos0) {
  if (batch <= 0 || ids.size() % batch != 0) fail("input ids", "count is not a multiple of the batch size");
  if (types.size() != ids.size()) fail("token type ids", "count differs from the input ids'");
  const int tokens = static_cast<int>(ids.size() / batch);
  const ModelConfig& cfg = model_.config();
  validate_ids(ids, cfg, pos0, tokens);
  for (size_t i = 0; i < types.size(); ++i)
    if (types[i] < 0 || types[i] >= std::max(cfg.type_vocab, 1) || (types[i] != 0 && cfg.type_vocab == 0))
      fail("token type ids", "type " + std::to_string(types[i]) + " at index " + std::to_string(i) +
                                 " is outside the model's token types [0, " + std::to_string(cfg.type_vocab) + ")");
  return backend_.embed_typed(ids, types, batch, tokens, pos0);
}

void Runner::run(const Plan& plan, Hidden& x, size_t first, size_t last, KvCache* kv,
                 const std::function<void(size_t, const Hidden&)>& after_step) {
  last = std::min(last, plan.steps.size());
  for (size_t k = first; k < last; ++k) {
    backend_.run_step(plan.steps[k], static_cast<int>(k), x, kv);
    if (after_step) after_step(k, x);
  }
}

std::vector<float> Runner::target_logprobs(const Hidden& normed, const std::vector<int32_t>& targets) {
  std::vector<int64_t> rows(targets.size());
  std::iota(rows.begin(), rows.end(), 0);
  const std::vector<TargetScore> scores = backend_.target_scores(normed, rows, targets);
  std::vector<float> out(scores.size());
  for (size_t i = 0; i < scores.size(); ++i) out[i] = scores[i].logprob;
  return out;
}

ForwardResult Runner::finish(const Plan& plan, std::unique_ptr<Hidden> x, size_t start_step, const ForwardRequest& req) {
  ForwardResult res;
  run(plan, *x, start_step, SIZE_MAX, nullptr, [&](size_t, const Hidden& h) {
    if (req.keep_residuals) res.resid.push_back(h.to_host());
  });
  auto normed = backend_.final_norm(*x);
  res.final_norm = normed->to_host();
  const int vocab = model_.config().vocab;
  if (req.all_logits) {
    resize_large(res.logits, size_t(normed->rows()) * vocab);
    backend_.logits(*normed, 0, normed->rows(), res.logits.data());
  }
  if (req.logprobs_next) {
    const int T = x->tokens;
    std::vector<int32_t> targets(normed->rows(), -1);
    for (int b = 0; b < x->batch; ++b)
      for (int t = 0; t + 1 < T; ++t) targets[size_t(b) * T + t] = req.ids[size_t(b) * T + t + 1];
    std::vector<float> lp = target_logprobs(*normed, targets);
    for (int b = 0; b < x->batch; ++b)
      for (int t = 0; t + 1 < T; ++t) res.logprobs_next.push_back(lp[size_t(b) * T + t]);
  }
  return res;
}

ForwardResult Runner::forward(const Plan& plan, const ForwardRequest& req) {
  validate_plan(plan, model_.config().n_layer);
  return finish(plan, embed(req.ids, req.batch), 0, req);
}

}  // namespace layerlab
