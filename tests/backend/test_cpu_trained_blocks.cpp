// The CPU backend on layerlab-trained block types (preln, parallel, sas, sasp, and sas/sasp
// without norms), loaded through load_model from the trainer's own format. The reference is
// the trainer's forward pass (src/train/model.cpp), an independent implementation written for
// training (its gradients are checked by finite differences, its preln path against PyTorch).
// Weights are randomly perturbed away from the initialisation so that zero queries, zero
// value extras and unit gains do not hide a path.
//
// Tolerance: relative 1e-4 on mean losses (float32 in both implementations with different
// summation orders; observed differences are about 1e-8 relative, while e.g. a 10% error in
// the centering term gives 1e-3 to 1e-2).
#include <gtest/gtest.h>

#include <filesystem>

#include "layerlab/backend.h"
#include "layerlab/generate.h"
#include "layerlab/model.h"
#include "layerlab/runner.h"
#include "trained_blocks.h"

namespace layerlab::testing {
namespace {

namespace fs = std::filesystem;

class TrainedBlocks : public ::testing::TestWithParam<BlockCase> {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("layerlab_blocks_" + std::to_string(::getpid()) + "_" + GetParam().name()))
               .string();
    train::Transformer<float> m(tiny_shape(GetParam()));
    perturbed_init(m, 11);
    write_layerlab_folder(m, dir_);
    model_ = load_model(dir_);
    backend_ = make_cpu_backend(*model_);
    runner_ = std::make_unique<Runner>(*model_, *backend_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Engine loss under `plan` vs the trainer's loss of a model made of layers `layer_map`.
  void expect_same_loss(const std::string& plan_text, const std::vector<int>& layer_map) {
    auto trainer = read_trainer(dir_, layer_map);
    const Plan plan = parse_plan_text(plan_text);
    for (const auto& w : windows(3, 20, 101)) {
      const double ref = trainer_loss(*trainer, w);
      EXPECT_NEAR(engine_loss(*runner_, plan, w), ref, 1e-4 * std::abs(ref)) << GetParam().name() << " " << plan_text;
    }
  }

  std::string dir_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Runner> runner_;
};

TEST_P(TrainedBlocks, LoadsWithTheBlockSwitches) {
  const ModelConfig& c = model_->config();
  EXPECT_EQ(c.family, "layerlab");
  EXPECT_EQ(c.block, GetParam().block);
  EXPECT_EQ(c.n_layer, 3);
  EXPECT_EQ(c.d_ff, 48);
  EXPECT_EQ(c.max_positions, 24);
  EXPECT_EQ(c.block_norms, GetParam().norm);
  const bool shaped = GetParam().block == BlockKind::SAS || GetParam().block == BlockKind::SASP;
  EXPECT_EQ(c.shaped_attention, shaped);
  EXPECT_EQ(c.attn_skip, !shaped);
  EXPECT_EQ(bool(model_->weights().layers[1].ln1_w), GetParam().norm);
  EXPECT_TRUE(model_->weights().layers[0].ln1_w);
  EXPECT_EQ(bool(model_->weights().layers[0].v_extra_w), shaped);
  EXPECT_FALSE(model_->weights().layers[1].v_extra_w);
}

TEST_P(TrainedBlocks, FullForwardGivesTheTrainersLoss) { expect_same_loss("0-2", {0, 1, 2}); }

// Skips and repeats are plain sequences of layers: the trainer's model built from those
// layers is the reference (layer 0 stays first: only it has the value extra / first norm).
TEST_P(TrainedBlocks, SkipAndRepeatPlansGiveTheTrainersLoss) {
  expect_same_loss("0,2", {0, 2});
  expect_same_loss("0,1,1,2", {0, 1, 1, 2});
  expect_same_loss("0,2x3", {0, 2, 2, 2});
}

// A parallel group is the mean of its members' outputs on the same input, K times: checked
// against single-layer steps of the same backend (the batched member path vs the M = 1 path).
TEST_P(TrainedBlocks, ParallelGroupIsTheMeanOfItsLayers) {
  auto x = runner_->embed(windows(1, 12, 101)[0], 1);
  backend_->run_step({{0}, 1}, 0, *x, nullptr);
  std::vector<float> ref = x->to_host();
  for (int it = 0; it < 2; ++it) {
    std::vector<float> sum(ref.size(), 0.0f);
    for (int layer : {1, 2}) {
      auto state = x->clone();  // the single layer on the current state
      backend_->run_step({{layer}, 1}, 1, *state, nullptr);
      const std::vector<float> out = state->to_host();
      for (size_t i = 0; i < sum.size(); ++i) sum[i] += out[i] / 2;
    }
    backend_->run_step({{1, 2}, 1}, 1, *x, nullptr);
    const std::vector<float> got = x->to_host();
    for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], sum[i], 1e-5f * (1 + std::abs(sum[i]))) << i;
    ref = got;
  }
  // And a looped group through the runner equals the two rounds above.
  auto z = runner_->embed(windows(1, 12, 101)[0], 1);
  runner_->run(parse_plan_text("0,[1,2]x2"), *z);
  const std::vector<float> looped = z->to_host();
  for (size_t i = 0; i < looped.size(); ++i) ASSERT_NEAR(looped[i], ref[i], 1e-5f * (1 + std::abs(ref[i])));
}

// KV-cached generation: every greedy token is the argmax of a full recompute, for plans with
// repeats and loops (one cache slot per layer application).
TEST_P(TrainedBlocks, KvCachedGenerationEqualsFullRecompute) {
  for (const std::string plan_text : {"0-2", "0,[1,2]x2", "0,1,1,2"}) {
    const Plan plan = parse_plan_text(plan_text);
    const std::vector<int32_t> prompt = {5, 17, 42, 99, 3};
    SamplingParams greedy;
    greedy.temperature = 0;
    const std::vector<int32_t> gen = generate(*runner_, plan, prompt, 10, greedy);
    ASSERT_EQ(gen.size(), 10u);
    std::vector<int32_t> seq = prompt;
    for (int32_t tok : gen) {
      ForwardRequest req;
      req.ids = seq;
      req.all_logits = true;
      const ForwardResult r = runner_->forward(plan, req);
      const float* last = r.logits.data() + (seq.size() - 1) * 101;
      EXPECT_EQ(tok, std::max_element(last, last + 101) - last) << GetParam().name() << " " << plan_text;
      seq.push_back(tok);
    }
  }
}

// Logits of a cached continuation (a 7-token prefill, then 1, 2, 1, 1 tokens) equal those of
// one full pass (not only the argmax).
TEST_P(TrainedBlocks, CachedContinuationLogitsEqualFullPass) {
  const Plan plan = parse_plan_text("0,[1,2]x2");
  const std::vector<int32_t> ids = windows(1, 11, 101)[0];  // 12 tokens
  ForwardRequest req;
  req.ids = ids;
  req.all_logits = true;
  const ForwardResult full = runner_->forward(plan, req);
  auto cache = backend_->make_cache(plan, 1, 16);
  std::vector<float> cached;
  for (const auto& [pos, n] : std::vector<std::pair<int, int>>{{0, 7}, {7, 1}, {8, 2}, {10, 1}, {11, 1}}) {
    const std::vector<int32_t> part(ids.begin() + pos, ids.begin() + pos + n);
    auto x = runner_->embed(part, 1, pos);
    runner_->run(plan, *x, 0, SIZE_MAX, cache.get());
    auto normed = backend_->final_norm(*x);
    std::vector<float> lg(size_t(n) * 101);
    backend_->logits(*normed, 0, n, lg.data());
    cached.insert(cached.end(), lg.begin(), lg.end());
  }
  ASSERT_EQ(cached.size(), full.logits.size());
  for (size_t i = 0; i < cached.size(); ++i)
    ASSERT_NEAR(cached[i], full.logits[i], 1e-4f * (1 + std::abs(full.logits[i]))) << i;
}

// The explainer's Inspector sees every layer application; attention rows are the causal
// softmax (rows sum to 1); an identity value is the attention input itself.
class Traces : public Inspector {
 public:
  std::vector<LayerTrace> traces;
  std::vector<std::vector<float>> values;  // v part of qkv per trace, [tokens, d]
  int qkvd = 0, qd = 0, d = 0;
  void on_layer(const LayerTrace& t) override {
    traces.push_back(t);
    float row_sum_err = 0;
    for (int q = 0; q < t.tokens; ++q) {
      float s = 0;
      for (int k = 0; k < t.keys; ++k) s += t.attn_probs[size_t(q) * t.keys + k];
      row_sum_err = std::max(row_sum_err, std::abs(s - 1));
    }
    max_row_sum_err = std::max(max_row_sum_err, row_sum_err);
    std::vector<float> v;
    for (int tok = 0; tok < t.tokens; ++tok)
      v.insert(v.end(), t.qkv + size_t(tok) * qkvd + 2 * qd, t.qkv + size_t(tok) * qkvd + 2 * qd + d);
    values.push_back(std::move(v));
  }
  float max_row_sum_err = 0;
};

TEST_P(TrainedBlocks, InspectorSeesEveryApplication) {
  ASSERT_TRUE(backend_->supports_inspection());
  Traces tr;
  tr.qkvd = model_->config().qkv_dim();
  tr.qd = model_->config().q_dim();
  tr.d = model_->config().d_model;
  backend_->set_inspector(&tr);
  ForwardRequest req;
  req.ids = windows(1, 9, 101)[0];
  req.keep_residuals = true;
  const ForwardResult r = runner_->forward(parse_plan_text("0,[1,2],2"), req);
  backend_->set_inspector(nullptr);
  ASSERT_EQ(tr.traces.size(), 4u);
  EXPECT_LT(tr.max_row_sum_err, 1e-5f);
  // Without norms, layers after 0 attend over the stream itself: V == the step's input.
  if (!GetParam().norm) {
    const std::vector<float>& in = r.resid[1];  // input of the last step (layer 2)
    for (size_t i = 0; i < in.size(); ++i) ASSERT_NEAR(tr.values[3][i], in[i], 1e-6f * (1 + std::abs(in[i])));
  }
}

INSTANTIATE_TEST_SUITE_P(Blocks, TrainedBlocks, ::testing::ValuesIn(all_block_cases()),
                         [](const ::testing::TestParamInfo<BlockCase>& i) { return i.param.name(); });

}  // namespace
}  // namespace layerlab::testing
