// Prefix reuse and KV-cached generation give the same numbers as a plain forward pass, which
// is itself checked against Hugging Face (test_golden_cpu).
#include <gtest/gtest.h>

#include "golden.h"
#include "layerlab/error.h"
#include "layerlab/generate.h"
#include "layerlab/runner.h"

namespace layerlab::testing {
namespace {

TEST(PrefixReuse, ContinuingFromACachedPrefixEqualsAFreshRun) {
  auto model = load_model(shared_dir() + "/golden/gpt2-tiny");
  auto backend = make_cpu_backend(*model);
  Runner runner(*model, *backend);
  ForwardRequest req;
  req.ids = {464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13};
  req.logprobs_next = true;
  const Plan a = parse_plan_text("0,1,[2,3,4]x2,5"), b = parse_plan_text("0,1,4,3,2,5");
  const size_t k = common_prefix(a, b);
  ASSERT_EQ(k, 2u);
  auto prefix = runner.embed(req.ids, 1);
  runner.run(a, *prefix, 0, k);
  for (const Plan* p : {&a, &b}) {
    ForwardResult reused = runner.finish(*p, prefix->clone(), k, req);
    ForwardResult fresh = runner.forward(*p, req);
    EXPECT_EQ(reused.logprobs_next, fresh.logprobs_next);
    EXPECT_EQ(reused.final_norm, fresh.final_norm);
  }
}

// Greedy generation with the KV cache must pick, at every step, the argmax of a full
// forward pass over the whole sequence so far, for plans with repeats and loops too.
void check_generation(const std::string& model_name, const std::string& plan_text) {
  auto model = load_model(shared_dir() + "/golden/" + model_name);
  auto backend = make_cpu_backend(*model);
  Runner runner(*model, *backend);
  const Plan plan = parse_plan_text(plan_text);
  std::vector<int32_t> prompt = {1, 450, 4996, 17354};
  SamplingParams greedy;
  greedy.temperature = 0;
  std::vector<int32_t> gen = generate(runner, plan, prompt, 8, greedy);
  ASSERT_EQ(gen.size(), 8u);
  std::vector<int32_t> seq = prompt;
  const int vocab = model->config().vocab;
  for (int32_t tok : gen) {
    ForwardRequest req;
    req.ids = seq;
    req.all_logits = true;
    ForwardResult r = runner.forward(plan, req);
    const float* last = r.logits.data() + (seq.size() - 1) * vocab;
    EXPECT_EQ(tok, std::max_element(last, last + vocab) - last) << model_name << " " << plan_text;
    seq.push_back(tok);
  }
}

TEST(Generate, KvCacheMatchesFullRecomputeGpt2) { check_generation("gpt2-tiny", "0,[1,2,3,4]x3,5"); }
TEST(Generate, KvCacheMatchesFullRecomputeLlama) { check_generation("llama-tiny", "0,3,3,3,3,5"); }

TEST(Generate, RejectsEncodersAndBadParameters) {
  auto bert = load_model(shared_dir() + "/golden/bert-tiny");
  auto backend = make_cpu_backend(*bert);
  Runner runner(*bert, *backend);
  EXPECT_THROW(generate(runner, full_plan(6), {101}, 3, {}), Error);
  SamplingParams bad;
  bad.temperature = -1;
  EXPECT_THROW(validate_sampling(bad), Error);
  bad = {};
  bad.top_p = 0;
  EXPECT_THROW(validate_sampling(bad), Error);
}

TEST(Sampling, TopKOneAndTinyTopPAreGreedy) {
  const std::vector<float> logits = {0.1f, 2.0f, 1.9f, -3.0f};
  std::mt19937_64 rng(1);
  SamplingParams k1;
  k1.top_k = 1;
  SamplingParams p;
  p.top_p = 1e-6;
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(sample_token(logits.data(), 4, k1, rng), 1);
    EXPECT_EQ(sample_token(logits.data(), 4, p, rng), 1);
  }
}

TEST(Sampling, FrequenciesFollowTheTemperatureSoftmax) {
  // softmax([0, ln 3]) = [0.25, 0.75]; at temperature 2: softmax([0, ln3/2]) = [0.366, 0.634].
  const std::vector<float> logits = {0.0f, static_cast<float>(std::log(3.0))};
  for (auto [temp, expected] : {std::pair{1.0, 0.75}, std::pair{2.0, std::sqrt(3.0) / (1 + std::sqrt(3.0))}}) {
    SamplingParams sp;
    sp.temperature = temp;
    std::mt19937_64 rng(42);
    int ones = 0;
    const int n = 20000;
    for (int i = 0; i < n; ++i) ones += sample_token(logits.data(), 2, sp, rng);
    EXPECT_NEAR(double(ones) / n, expected, 0.015) << temp;  // ~4.5 standard errors
  }
}

}  // namespace
}  // namespace layerlab::testing
