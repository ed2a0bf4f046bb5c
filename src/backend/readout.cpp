// Backend::target_scores' default: logits in runs of consecutive rows, reduced on the host.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "backend/readout.h"
#include "layerlab/backend.h"
#include "layerlab/error.h"
#include "layerlab/large_buffer.h"

namespace layerlab {

TargetScore log_softmax_at(const float* row, int vocab, int32_t target) {
  const float* best = std::max_element(row, row + vocab);  // first maximum, as torch.argmax
  const float mx = *best;
  double sum = 0;  // in double: 50k-256k terms
  for (int v = 0; v < vocab; ++v) sum += std::exp(double(row[v]) - mx);
  return {static_cast<float>(row[target] - mx - std::log(sum)), (best - row) == target};
}

std::vector<size_t> target_order(const Hidden& normed, const std::vector<int64_t>& rows,
                                 const std::vector<int32_t>& targets, int vocab, const std::string& where) {
  if (rows.size() != targets.size()) fail(where, "one target per row expected");
  std::vector<size_t> order;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (targets[i] < 0) continue;
    if (rows[i] < 0 || rows[i] >= normed.rows()) fail(where, "row outside the hidden states");
    if (targets[i] >= vocab) fail(where, "target outside the vocabulary");
    order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return rows[a] < rows[b]; });
  return order;
}

std::vector<TargetScore> Backend::target_scores(const Hidden& normed, const std::vector<int64_t>& rows,
                                                const std::vector<int32_t>& targets) {
  const int vocab = config().vocab;
  const std::vector<size_t> order = target_order(normed, rows, targets, vocab, "target_scores");
  std::vector<TargetScore> out(rows.size());
  // Runs of consecutive (or repeated) rows, at most ~64 MB of logits each.
  const int64_t max_run = std::max<int64_t>(1, (64ll << 20) / (int64_t(vocab) * 4));
  std::vector<float>& buf = readout_buffer_;
  for (size_t i = 0; i < order.size();) {
    size_t j = i + 1;
    while (j < order.size() && rows[order[j]] - rows[order[j - 1]] <= 1 && rows[order[j]] - rows[order[i]] < max_run) ++j;
    const int64_t first = rows[order[i]], count = rows[order[j - 1]] - first + 1;
    if (buf.size() < size_t(count) * vocab) resize_large(buf, size_t(count) * vocab);
    logits(normed, first, count, buf.data());
#pragma omp parallel for schedule(static) if (j - i > 1)
    for (size_t k = i; k < j; ++k) {
      const size_t t = order[k];
      out[t] = log_softmax_at(buf.data() + size_t(rows[t] - first) * vocab, vocab, targets[t]);
    }
    i = j;
  }
  return out;
}

}  // namespace layerlab
