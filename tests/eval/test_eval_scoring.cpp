// score_sequences against an independent reference: one unpadded Runner::forward per
// sequence (logprobs_next verified against Hugging Face elsewhere). Covers right-padded
// batches of different lengths, several plans with prefix reuse, and the greedy flags.
#include <gtest/gtest.h>

#include "eval_fixtures.h"
#include "layerlab/error.h"
#include "layerlab/eval.h"

using namespace layerlab;
using namespace layerlab::testing;

namespace {

struct TinyModel {
  std::unique_ptr<Model> model = load_model(shared_dir() + "/golden/gpt2-tiny");
  std::unique_ptr<Backend> backend = make_cpu_backend(*model);
  Runner runner{*model, *backend};
};

// Tolerance: the batched path and the reference differ only in summation order inside the
// kernels (padding changes GEMM shapes), so float32 agreement to ~1e-4 is expected.
constexpr double kTol = 2e-4;

}  // namespace

TEST(EvalScoring, MatchesPlainForwardUnderSeveralPlans) {
  TinyModel t;
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"The cat sat on the", " mat"}, {"Hi", " there, friend"}, {"A much longer context about lighthouses and ships", " x"}};
  std::vector<ScoreSequence> seqs;
  std::vector<EncodedPair> enc;
  for (const auto& [c, x] : pairs) {
    enc.push_back(encode_pair(byte_codec(), c, x));
    seqs.push_back(continuation_sequence(enc.back(), 256));
  }
  const std::vector<Plan> plans = {full_plan(6), make_variant("skip", 6, 2), make_variant("looped_parallel", 6, 1, 3)};
  EXPECT_EQ(shared_prefix(plans), 1u);
  for (bool reuse : {true, false}) {
    ScoreOptions o;
    o.prefix_reuse = reuse;
    o.batch_tokens = 64;  // forces batches of 1 and 2 sequences of different lengths
    const PlanScores s = score_sequences(t.runner, plans, seqs, o);
    for (size_t p = 0; p < plans.size(); ++p)
      for (size_t i = 0; i < seqs.size(); ++i) {
        const RefLoglik ref = reference_loglik(t.runner, plans[p], enc[i].context, enc[i].continuation);
        double sum = 0;
        bool greedy = true;
        ASSERT_EQ(s[p][i].size(), enc[i].continuation.size());
        for (const TokenScore& ts : s[p][i]) sum += ts.logprob, greedy = greedy && ts.greedy;
        EXPECT_NEAR(sum, ref.logprob, kTol) << "plan " << p << " seq " << i << " reuse " << reuse;
        EXPECT_EQ(greedy, ref.greedy);
      }
  }
}

TEST(EvalScoring, GreedyFlagIsTrueForTheArgmaxToken) {
  TinyModel t;
  // Find the model's own greedy next token after a context, then score it: greedy must hold.
  const std::vector<int32_t> ctx = bytes_of("Once upon a time");
  ForwardRequest req;
  req.ids = ctx;
  req.all_logits = true;
  const ForwardResult r = t.runner.forward(full_plan(6), req);
  const int vocab = t.model->config().vocab;
  const float* last = r.logits.data() + (ctx.size() - 1) * vocab;
  const int32_t best = static_cast<int32_t>(std::max_element(last, last + vocab) - last);
  const int32_t other = best == 0 ? 1 : 0;
  ScoreSequence s{ctx, {static_cast<int32_t>(ctx.size() - 1), static_cast<int32_t>(ctx.size() - 1)}, {best, other}};
  const PlanScores out = score_sequences(t.runner, {full_plan(6)}, {s});
  EXPECT_TRUE(out[0][0][0].greedy);
  EXPECT_FALSE(out[0][0][1].greedy);
  EXPECT_GT(out[0][0][0].logprob, out[0][0][1].logprob);
}

TEST(EvalScoring, BadSequencesAreErrors) {
  TinyModel t;
  EXPECT_THROW(score_sequences(t.runner, {full_plan(6)}, {ScoreSequence{{1, 2}, {5}, {3}}}), Error);
  EXPECT_THROW(score_sequences(t.runner, {full_plan(6)}, {ScoreSequence{{1, 2}, {0}, {999999}}}), Error);
  EXPECT_THROW(score_sequences(t.runner, {full_plan(6)}, {ScoreSequence{{}, {}, {}}}), Error);
}
