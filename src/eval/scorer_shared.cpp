// Context sharing: the choices of a multiple-choice item repeat the same context, so a batch
// of such groups runs each group's shared tokens once, keeping every layer application's keys
// and values in a KV cache (Backend::make_cache, the slots generation uses), and then runs
// only what follows the shared tokens, one member per group at a time, attending to the cache.
//
// Why this is exact: a member's rows after the shared tokens see the same keys and values as
// in its own full forward pass (the cache holds the shared positions, written once, and this
// pass's own positions, written just before they are read). Member k + 1 overwrites member k's
// entries after the shared tokens, which member k no longer needs. Rows of a batch have one
// start position, so a batch shares the fewest shared tokens among its groups; the groups'
// own extra shared tokens are simply recomputed with each member (groups are sorted by shared
// length, so few are). Only the Backend / Runner API is used: any backend gets it.
#include <algorithm>

#include "layerlab/error.h"
#include "scorer_internal.h"

namespace layerlab::evalimpl {

namespace {

size_t common_length(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

Plan steps_of(const Plan& plan, size_t first, size_t last) {
  Plan p;
  p.steps.assign(plan.steps.begin() + std::min(first, plan.steps.size()),
                 plan.steps.begin() + std::min(last, plan.steps.size()));
  return p;
}

// Runs all of `plan` on x with cache `kv` (nothing for an empty plan).
void run_all(Runner& runner, const Plan& plan, Hidden& x, KvCache* kv) {
  if (!plan.steps.empty()) runner.run(plan, x, 0, SIZE_MAX, kv);
}

// Tokens a batch of groups [g0, g1) runs: with padding, without, and its widest forward.
struct Cost {
  int64_t padded = 0, real = 0, widest = 0;
  int32_t shared = 0;
};
Cost batch_cost(const std::vector<ScoreSequence>& seqs, const std::vector<ContextGroup>& groups, size_t g0, size_t g1) {
  Cost c;
  c.shared = groups[g0].shared;
  for (size_t g = g0; g < g1; ++g) c.shared = std::min(c.shared, groups[g].shared);
  const int64_t B = int64_t(g1 - g0), S = c.shared;
  c.padded = c.real = c.widest = B * S;
  for (size_t k = 0; k < groups[g0].members.size(); ++k) {
    int64_t T = 1;
    for (size_t g = g0; g < g1; ++g)
      if (k < groups[g].members.size()) {
        const int64_t t = int64_t(seqs[groups[g].members[k]].ids.size()) - S;
        T = std::max(T, t);
        c.real += t;
      }
    c.padded += B * T;
    c.widest = std::max(c.widest, B * T);
  }
  return c;
}

// Padding limits a batch only once it has this many groups (small batches run slowly).
constexpr size_t kMinGroups = 8;

}  // namespace

std::vector<ContextGroup> context_groups(const std::vector<ScoreSequence>& seqs) {
  std::vector<ContextGroup> groups;
  for (size_t i = 0; i < seqs.size();) {
    size_t j = i + 1;
    if (seqs[i].context_group >= 0)
      while (j < seqs.size() && seqs[j].context_group == seqs[i].context_group) ++j;
    if (j - i >= 2) {
      ContextGroup g;
      size_t shared = seqs[i].ids.size();
      for (size_t k = i; k < j; ++k) {
        g.members.push_back(k);
        shared = std::min(shared, common_length(seqs[i].ids, seqs[k].ids));
        for (int32_t r : seqs[k].rows) shared = std::min(shared, static_cast<size_t>(r));
      }
      g.shared = static_cast<int32_t>(shared);
      std::stable_sort(g.members.begin(), g.members.end(),
                       [&](size_t a, size_t b) { return seqs[a].ids.size() > seqs[b].ids.size(); });
      if (g.shared >= 1) groups.push_back(std::move(g));
    }
    i = j;
  }
  return groups;
}

void score_context_groups(Runner& runner, const std::vector<Plan>& plans, const std::vector<ScoreSequence>& seqs,
                          std::vector<ContextGroup> groups, size_t prefix, const ScoreOptions& opts, PlanScores& out) {
  // Groups with as many members together (fewer idle rows), then longest shared part first.
  std::stable_sort(groups.begin(), groups.end(), [&](const ContextGroup& a, const ContextGroup& b) {
    if (a.members.size() != b.members.size()) return a.members.size() > b.members.size();
    return a.shared > b.shared;
  });
  const Plan head = steps_of(plans[0], 0, prefix);
  std::vector<Plan> tails;
  for (const Plan& p : plans) tails.push_back(steps_of(p, prefix, SIZE_MAX));
  Backend& backend = runner.backend();
  auto len = [&](size_t s) { return static_cast<int64_t>(seqs[s].ids.size()); };

  for (size_t g0 = 0; g0 < groups.size();) {
    // A batch: groups are added while every forward (the shared tokens, or one member pass)
    // stays within the token budget and padding stays below a quarter of the tokens run.
    int32_t S = groups[g0].shared;  // the fewest shared tokens in the batch
    size_t g1 = g0 + 1;
    while (g1 < groups.size()) {
      const Cost c = batch_cost(seqs, groups, g0, g1 + 1);
      if (c.widest > opts.batch_tokens || (g1 - g0 >= kMinGroups && c.padded > c.real + c.real / 4)) break;
      S = c.shared;
      ++g1;
    }
    int64_t longest = 0;
    for (size_t g = g0; g < g1; ++g) longest = std::max(longest, len(groups[g].members[0]));
    const int B = static_cast<int>(g1 - g0);
    const size_t passes = groups[g0].members.size();
    const int capacity = static_cast<int>(longest);

    std::vector<int32_t> ctx(size_t(B) * S);
    for (int b = 0; b < B; ++b) {
      const auto& ids = seqs[groups[g0 + b].members[0]].ids;
      std::copy(ids.begin(), ids.begin() + S, ctx.begin() + size_t(b) * S);
    }
    // Member k of every group, after the shared tokens, right-padded (token 0 pads: it only
    // follows a row's own tokens); a group without a k-th member gets an idle row.
    std::vector<int> pass_tokens(passes);
    std::vector<std::unique_ptr<Hidden>> member_x(passes);
    std::unique_ptr<Hidden> ctx_x = runner.embed(ctx, B, 0);
    std::unique_ptr<KvCache> head_kv = prefix > 0 ? backend.make_cache(head, B, capacity) : nullptr;
    run_all(runner, head, *ctx_x, head_kv.get());
    for (size_t k = 0; k < passes; ++k) {
      int64_t T = 1;
      for (int b = 0; b < B; ++b)
        if (k < groups[g0 + b].members.size()) T = std::max(T, len(groups[g0 + b].members[k]) - S);
      pass_tokens[k] = static_cast<int>(T);
      std::vector<int32_t> ids(size_t(B) * T, 0);
      for (int b = 0; b < B; ++b)
        if (k < groups[g0 + b].members.size()) {
          const auto& s = seqs[groups[g0 + b].members[k]].ids;
          std::copy(s.begin() + S, s.end(), ids.begin() + size_t(b) * T);
        }
      member_x[k] = runner.embed(ids, B, S);
      run_all(runner, head, *member_x[k], head_kv.get());
    }
    head_kv.reset();

    for (size_t p = 0; p < plans.size(); ++p) {
      const bool last = p + 1 == plans.size();
      std::unique_ptr<KvCache> kv = backend.make_cache(tails[p], B, capacity);
      if (!tails[p].steps.empty()) {
        std::unique_ptr<Hidden> x = last ? std::move(ctx_x) : ctx_x->clone();
        run_all(runner, tails[p], *x, kv.get());
      }
      for (size_t k = 0; k < passes; ++k) {
        std::unique_ptr<Hidden> x = last ? std::move(member_x[k]) : member_x[k]->clone();
        run_all(runner, tails[p], *x, kv.get());
        auto normed = backend.final_norm(*x);
        x.reset();
        for (int b = 0; b < B; ++b)
          if (k < groups[g0 + b].members.size()) {
            const size_t s = groups[g0 + b].members[k];
            score_rows(backend, *normed, int64_t(b) * pass_tokens[k], S, seqs[s], out[p][s]);
          }
      }
    }
    g0 = g1;
  }
}

}  // namespace layerlab::evalimpl
