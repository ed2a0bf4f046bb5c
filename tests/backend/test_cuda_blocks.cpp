// The CUDA backend runs every block the CPU backend runs, through the same layer wiring
// (backend/layer.cpp): layerlab-trained parallel / sas / sasp blocks (with and without norms,
// with scalar gains, identity values and shaped attention), under plans with parallel groups
// and loops, with and without the KV cache; and it reports the same layer internals to an
// Inspector (the explainer). Reference: the CPU backend, itself checked against the CPU
// trainer's forward (test_cpu_trained_blocks) and Hugging Face (the golden cases).
// Skips cleanly without a GPU.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "golden.h"
#include "layerlab/cuda_backend.h"
#include "layerlab/runner.h"
#include "trained_blocks.h"

namespace layerlab::testing {
namespace {

#define SKIP_WITHOUT_GPU() \
  if (!cuda_available()) GTEST_SKIP() << "no CUDA GPU visible (or built without CUDA)"

double tol_for(CudaDType t) { return t == CudaDType::F32 ? 1e-4 : 3e-2; }

class CudaTrainedBlocks : public ::testing::TestWithParam<BlockCase> {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            ("layerlab_cuda_blocks_" + std::to_string(::getpid()) + "_" + GetParam().name())).string();
    std::filesystem::remove_all(dir_);
    train::Transformer<float> m(tiny_shape(GetParam(), 4));
    perturbed_init(m, 17);
    write_layerlab_folder(m, dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_P(CudaTrainedBlocks, MatchCpuUnderPlans) {
  SKIP_WITHOUT_GPU();
  auto model = load_model(dir_);
  auto cpu = make_cpu_backend(*model);
  ForwardRequest req;
  req.ids = windows(1, 19, model->config().vocab)[0];
  req.keep_residuals = true;
  req.all_logits = true;
  req.logprobs_next = true;
  for (const std::string plan_text : {"0-3", "0,[1,2],3", "0,[1-2]x2,3", "3-0"}) {
    const Plan plan = parse_plan_text(plan_text);
    const ForwardResult ref = Runner(*model, *cpu).forward(plan, req);
    for (CudaDType t : {CudaDType::F32, CudaDType::BF16}) {
      SCOPED_TRACE(std::string(cuda_dtype_name(t)) + " plan " + plan_text);
      auto gpu = make_cuda_backend(*model, t);
      const ForwardResult got = Runner(*model, *gpu).forward(plan, req);
      ASSERT_EQ(got.resid.size(), ref.resid.size());
      for (size_t k = 0; k < ref.resid.size(); ++k)
        EXPECT_LE(max_rel_error(got.resid[k], ref.resid[k]), tol_for(t)) << "resid " << k;
      EXPECT_LE(max_rel_error(got.logits, ref.logits), tol_for(t)) << "logits";
      EXPECT_LE(max_rel_error(got.logprobs_next, ref.logprobs_next), tol_for(t)) << "logprobs_next";
    }
  }
}

// Decoding token by token from the KV cache gives the rows of the full pass.
TEST_P(CudaTrainedBlocks, KvCacheMatchesFullPass) {
  SKIP_WITHOUT_GPU();
  auto model = load_model(dir_);
  auto gpu = make_cuda_backend(*model, CudaDType::F32);
  Runner runner(*model, *gpu);
  const std::vector<int32_t> ids = windows(1, 11, model->config().vocab)[0];
  const Plan plan = parse_plan_text("0,[1-2]x2,3");
  auto full = runner.embed(ids, 1);
  runner.run(plan, *full);
  const std::vector<float> want = full->to_host();
  auto cache = gpu->make_cache(plan, 1, int(ids.size()));
  const int d = model->config().d_model;
  for (size_t t = 0; t < ids.size(); ++t) {
    auto x = gpu->embed({ids[t]}, 1, 1, int(t));
    runner.run(plan, *x, 0, SIZE_MAX, cache.get());
    cache->length = int(t) + 1;
    const std::vector<float> row = x->to_host();
    const std::vector<float> ref(want.begin() + t * d, want.begin() + (t + 1) * d);
    EXPECT_LE(max_rel_error(row, ref), 1e-4) << "token " << t;
  }
}

INSTANTIATE_TEST_SUITE_P(Blocks, CudaTrainedBlocks, ::testing::ValuesIn(all_block_cases()),
                         [](const ::testing::TestParamInfo<BlockCase>& i) { return i.param.name(); });

// What the explainer reads: every layer application's attention probabilities, Q/K/V, MLP
// activations and output, from the GPU as from the CPU.
struct Recorder : Inspector {
  struct Seen {
    int step, member, iteration, layer, tokens, keys;
    std::vector<float> probs, qkv, mlp, out;
  };
  const ModelConfig* cfg;
  std::vector<Seen> seen;
  void on_layer(const LayerTrace& t) override {
    const size_t T = t.tokens;
    seen.push_back({t.step, t.member, t.iteration, t.layer, t.tokens, t.keys,
                    {t.attn_probs, t.attn_probs + size_t(cfg->n_head) * T * t.keys},
                    {t.qkv, t.qkv + T * cfg->qkv_dim()},
                    {t.mlp_act, t.mlp_act + T * cfg->d_ff},
                    {t.output, t.output + T * cfg->d_model}});
  }
};

void expect_same_traces(const std::string& dir, const std::string& plan_text) {
  auto model = load_model(dir);
  auto cpu = make_cpu_backend(*model);
  auto gpu = make_cuda_backend(*model, CudaDType::F32);
  ASSERT_TRUE(gpu->supports_inspection());
  const Plan plan = parse_plan_text(plan_text);
  std::vector<int32_t> ids = windows(1, 15, model->config().vocab)[0];
  Recorder a, b;
  a.cfg = b.cfg = &model->config();
  cpu->set_inspector(&a);
  gpu->set_inspector(&b);
  Runner rc(*model, *cpu), rg(*model, *gpu);
  auto xc = rc.embed(ids, 1);
  rc.run(plan, *xc);
  auto xg = rg.embed(ids, 1);
  rg.run(plan, *xg);
  ASSERT_EQ(a.seen.size(), b.seen.size());
  for (size_t i = 0; i < a.seen.size(); ++i) {
    SCOPED_TRACE("application " + std::to_string(i) + " (layer " + std::to_string(a.seen[i].layer) + ")");
    EXPECT_EQ(a.seen[i].layer, b.seen[i].layer);
    EXPECT_EQ(a.seen[i].member, b.seen[i].member);
    EXPECT_EQ(a.seen[i].iteration, b.seen[i].iteration);
    EXPECT_LE(max_rel_error(b.seen[i].probs, a.seen[i].probs), 1e-4) << "attention probabilities";
    EXPECT_LE(max_rel_error(b.seen[i].qkv, a.seen[i].qkv), 1e-4) << "qkv";
    EXPECT_LE(max_rel_error(b.seen[i].mlp, a.seen[i].mlp), 1e-4) << "mlp";
    EXPECT_LE(max_rel_error(b.seen[i].out, a.seen[i].out), 1e-4) << "output";
  }
}

TEST(CudaInspector, SameTracesAsCpu) {
  SKIP_WITHOUT_GPU();
  for (const char* golden : {"gpt2-tiny", "llama-tiny"}) {
    const std::string dir = shared_dir() + "/golden/" + golden;
    if (!std::filesystem::exists(dir + "/config.json")) continue;
    SCOPED_TRACE(golden);
    expect_same_traces(dir, "0-2,[3,4]x2,5");
  }
  const std::string dir = (std::filesystem::temp_directory_path() / ("layerlab_cuda_trace_" + std::to_string(::getpid()))).string();
  train::Transformer<float> m(tiny_shape({BlockKind::SASP, true}, 3));
  perturbed_init(m, 5);
  write_layerlab_folder(m, dir);
  SCOPED_TRACE("sasp");
  expect_same_traces(dir, "0,[1,2]");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace layerlab::testing
