#pragma once
// Internals of score_sequences shared by scorer.cpp (plain batches) and scorer_shared.cpp
// (context groups scored from a KV cache of their shared tokens).
#include <cstdint>
#include <vector>

#include "layerlab/eval.h"

namespace layerlab::evalimpl {

// Log-softmax at the targets and greedy flags of one sequence whose token t sits at row
// row0 + t - skip of `normed` (skip: leading tokens of the sequence not in this Hidden).
void score_rows(Backend& backend, const Hidden& normed, int64_t row0, int32_t skip, const ScoreSequence& s,
                std::vector<TokenScore>& out);

// A context group: its sequences (longest first) and the leading tokens they all share that no
// target row reads (min over members of the first scored row, and of their common prefix).
struct ContextGroup {
  std::vector<size_t> members;
  int32_t shared = 0;
};
// The groups worth sharing (two or more members, at least one shared token), from the
// sequences' context_group keys (consecutive runs of one key).
std::vector<ContextGroup> context_groups(const std::vector<ScoreSequence>& seqs);

// Scores every member of `groups` under every plan into out[plan][sequence]: per batch of
// groups the shared tokens run once (per plan tail; the plans' first `prefix` steps once for
// all plans), then the k-th longest member of every group of the batch runs as one batch from
// the cache, overwriting the previous member's cache entries after the shared tokens.
void score_context_groups(Runner& runner, const std::vector<Plan>& plans, const std::vector<ScoreSequence>& seqs,
                          std::vector<ContextGroup> groups, size_t prefix, const ScoreOptions& opts, PlanScores& out);

}  // namespace layerlab::evalimpl
