// The variants of "Transformer Layers as Painters" (arXiv 2407.09298) as plan generators.
// For a T-layer model and N: the first N and last N layers run as usual, the middle
// layers N..T-N-1 are changed. The rules are written out in docs/PLANS.md.
#include <algorithm>
#include <random>

#include "layerlab/error.h"
#include "layerlab/plan.h"

namespace layerlab {

const std::vector<std::string>& variant_names() {
  static const std::vector<std::string> names = {"full", "skip", "middle_repeat", "reverse",
                                                 "shuffle", "parallel", "looped_parallel"};
  return names;
}

Plan make_variant(const std::string& variant, int n_layer, int n, int k, uint64_t seed) {
  const auto& names = variant_names();
  if (std::find(names.begin(), names.end(), variant) == names.end()) {
    std::string all;
    for (const auto& v : names) all += (all.empty() ? "" : ", ") + v;
    fail_option("variant", "unknown variant '" + variant + "' (one of: " + all + ")");
  }
  if (variant == "full") return full_plan(n_layer);
  if (n < 0 || 2 * n >= n_layer)
    fail_option("n", "N = " + std::to_string(n) + " leaves no middle layers in a " + std::to_string(n_layer) +
                    "-layer model (need 0 <= N < T/2 = " + std::to_string(n_layer / 2.0) + ")");
  if (k < 1) fail_option("k", "K must be at least 1");
  std::vector<int> middle;
  for (int l = n; l < n_layer - n; ++l) middle.push_back(l);
  Plan p;
  for (int l = 0; l < n; ++l) p.steps.push_back({{l}, 1});
  if (variant == "skip") {
    // nothing: the middle is removed
  } else if (variant == "middle_repeat") {
    for (size_t i = 0; i < middle.size(); ++i) p.steps.push_back({{n_layer / 2}, 1});
  } else if (variant == "reverse") {
    for (auto it = middle.rbegin(); it != middle.rend(); ++it) p.steps.push_back({{*it}, 1});
  } else if (variant == "shuffle") {
    // Fisher-Yates with a fixed generator so a seed means the same order on every machine.
    std::mt19937_64 rng(seed);
    for (size_t i = middle.size(); i > 1; --i) std::swap(middle[i - 1], middle[rng() % i]);
    for (int l : middle) p.steps.push_back({{l}, 1});
  } else if (variant == "parallel") {
    p.steps.push_back({middle, 1});
  } else if (variant == "looped_parallel") {
    p.steps.push_back({middle, k});
  }
  for (int l = n_layer - n; l < n_layer; ++l) p.steps.push_back({{l}, 1});
  return p;
}

}  // namespace layerlab
