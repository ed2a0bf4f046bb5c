#pragma once
// Shared helpers of the eval tests: the golden tiny models, a byte-level codec (one token per
// byte, so token boundaries are known by hand), and an independent log-likelihood reference
// computed with Runner::forward's logprobs_next (itself checked against Hugging Face in
// tests/model/test_golden_cpu.cpp), one unpadded sequence at a time.
#include <string>
#include <vector>

#include "golden.h"
#include "layerlab/eval.h"
#include "layerlab/runner.h"

namespace layerlab::testing {

inline std::string eval_data(const std::string& name) { return std::string(LAYERLAB_EVAL_DATA_DIR) + "/" + name; }

inline TextCodec byte_codec() {
  TextCodec c;
  c.encode = [](const std::string& s) {
    std::vector<int32_t> ids;
    for (unsigned char ch : s) ids.push_back(ch);
    return ids;
  };
  c.decode = [](const std::vector<int32_t>& ids) {
    std::string s;
    for (int32_t i : ids) s += i < 256 ? static_cast<char>(i) : '?';
    return s;
  };
  c.prefix_id = c.eos_id = 50256;
  return c;
}

inline std::vector<int32_t> bytes_of(const std::string& s) { return byte_codec().encode(s); }

// log p(continuation | context) and "all greedy" by a plain full forward of context + continuation.
struct RefLoglik {
  double logprob = 0;
  bool greedy = true;
};
inline RefLoglik reference_loglik(Runner& runner, const Plan& plan, const std::vector<int32_t>& ctx,
                                  const std::vector<int32_t>& cont, bool want_greedy = true) {
  ForwardRequest req;
  req.ids = ctx;
  req.ids.insert(req.ids.end(), cont.begin(), cont.end());
  req.logprobs_next = true;
  req.all_logits = want_greedy;
  const ForwardResult r = runner.forward(plan, req);
  const int vocab = runner.model().config().vocab;
  RefLoglik out;
  for (size_t j = 0; j < cont.size(); ++j) {
    const size_t row = ctx.size() - 1 + j;  // row t predicts token t + 1
    out.logprob += r.logprobs_next[row];
    if (!want_greedy) continue;
    const float* lg = r.logits.data() + row * vocab;
    int best = 0;
    for (int v = 1; v < vocab; ++v)
      if (lg[v] > lg[best]) best = v;
    out.greedy = out.greedy && best == cont[j];
  }
  return out;
}

}  // namespace layerlab::testing
