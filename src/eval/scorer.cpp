// Target-token log-probabilities under several plans at once: sequences are batched (right
// padding for causal models), the plans' shared leading steps run once per batch, and each
// plan finishes from a clone of that Hidden.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "layerlab/error.h"
#include "layerlab/eval.h"
#include "scorer_internal.h"

namespace layerlab {

size_t shared_prefix(const std::vector<Plan>& plans) {
  if (plans.empty()) return 0;
  size_t p = plans[0].steps.size();
  for (const Plan& q : plans) p = std::min(p, common_prefix(plans[0], q));
  return p;
}

namespace {

void validate_sequence(const ScoreSequence& s, size_t index, const ModelConfig& cfg) {
  const std::string where = "score sequence " + std::to_string(index);
  if (s.ids.empty()) fail(where, "no tokens");
  if (s.rows.size() != s.targets.size()) fail(where, "rows and targets differ in count");
  for (size_t i = 0; i < s.rows.size(); ++i) {
    if (s.rows[i] < 0 || s.rows[i] >= static_cast<int32_t>(s.ids.size())) fail(where, "target row outside the sequence");
    if (s.targets[i] < 0 || s.targets[i] >= cfg.vocab) fail(where, "target token outside the vocabulary");
  }
}

}  // namespace

// Read out by the backend (on the device for CUDA).
void evalimpl::score_rows(Backend& backend, const Hidden& normed, int64_t row0, int32_t skip, const ScoreSequence& s,
                          std::vector<TokenScore>& out) {
  std::vector<int64_t> rows(s.rows.size());
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = row0 + s.rows[i] - skip;
  const std::vector<TargetScore> scores = backend.target_scores(normed, rows, s.targets);
  out.assign(s.rows.size(), {});
  for (size_t i = 0; i < scores.size(); ++i) out[i].logprob = scores[i].logprob, out[i].greedy = scores[i].greedy;
}

PlanScores score_sequences(Runner& runner, const std::vector<Plan>& plans, const std::vector<ScoreSequence>& seqs,
                           const ScoreOptions& opts) {
  const ModelConfig& cfg = runner.model().config();
  for (const Plan& p : plans) validate_plan(p, cfg.n_layer);
  for (size_t i = 0; i < seqs.size(); ++i) validate_sequence(seqs[i], i, cfg);
  PlanScores out(plans.size(), std::vector<std::vector<TokenScore>>(seqs.size()));
  if (plans.empty() || seqs.empty()) return out;
  const size_t prefix = opts.prefix_reuse ? shared_prefix(plans) : 0;

  // Context groups (causal models) from a KV cache of their shared tokens; the rest below.
  std::vector<bool> grouped(seqs.size(), false);
  if (opts.context_sharing && cfg.causal) {
    std::vector<evalimpl::ContextGroup> groups = evalimpl::context_groups(seqs);
    for (const auto& g : groups)
      for (size_t s : g.members) grouped[s] = true;
    if (!groups.empty()) evalimpl::score_context_groups(runner, plans, seqs, std::move(groups), prefix, opts, out);
  }

  // Longest first, so each batch pads little; equal lengths only for bidirectional models.
  std::vector<size_t> order;
  for (size_t i = 0; i < seqs.size(); ++i)
    if (!grouped[i]) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return seqs[a].ids.size() > seqs[b].ids.size(); });
  Backend& backend = runner.backend();
  for (size_t b0 = 0; b0 < order.size();) {
    const size_t T = seqs[order[b0]].ids.size();
    size_t b1 = b0 + 1;
    while (b1 < order.size() && int64_t(b1 - b0 + 1) * int64_t(T) <= opts.batch_tokens &&
           (cfg.causal || seqs[order[b1]].ids.size() == T))
      ++b1;
    const int B = static_cast<int>(b1 - b0);
    std::vector<int32_t> ids(size_t(B) * T, 0);  // token 0 pads: it only follows a sequence's own tokens
    for (int b = 0; b < B; ++b) std::copy(seqs[order[b0 + b]].ids.begin(), seqs[order[b0 + b]].ids.end(), ids.begin() + size_t(b) * T);

    std::unique_ptr<Hidden> shared;
    if (prefix > 0) {
      shared = runner.embed(ids, B);
      runner.run(plans[0], *shared, 0, prefix);
    }
    for (size_t p = 0; p < plans.size(); ++p) {
      std::unique_ptr<Hidden> x;
      if (prefix > 0)
        x = p + 1 == plans.size() ? std::move(shared) : shared->clone();
      else
        x = runner.embed(ids, B);
      runner.run(plans[p], *x, prefix);
      auto normed = backend.final_norm(*x);
      x.reset();
      for (int b = 0; b < B; ++b) evalimpl::score_rows(backend, *normed, int64_t(b) * T, 0, seqs[order[b0 + b]], out[p][order[b0 + b]]);
    }
    b0 = b1;
  }
  return out;
}

}  // namespace layerlab
