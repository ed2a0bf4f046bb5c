// LoadOptions::keep_dtype: the trained f16 checkpoints in ../shared/models keep their matrices
// in f16 (half the resident bytes) and compute the same logits as the float32 conversion of
// the same values: the weights are identical, only the order of the products' sums differs,
// so the tolerance is float32 accumulation noise (1e-5 of the largest logit), far below any
// f16 rounding (about 5e-4 relative).
#include <gtest/gtest.h>

#include "golden.h"
#include "layerlab/backend.h"
#include "layerlab/runner.h"

namespace layerlab::testing {
namespace {

class KeepDtype : public ::testing::TestWithParam<std::string> {};

TEST_P(KeepDtype, F16MatricesGiveTheLogitsOfTheirFloat32Conversion) {
  const std::string dir = shared_dir() + "/models/" + GetParam();
  auto kept = load_model(dir, {.keep_dtype = true});
  auto converted = load_model(dir, {.keep_dtype = false});
  const LayerWeights& L = kept->weights().layers[0];
  EXPECT_EQ(L.qkv_w.type, WeightType::F16);
  EXPECT_EQ(L.down_w.type, WeightType::F16);
  EXPECT_EQ(kept->weights().tok_emb.type, WeightType::F16);
  EXPECT_EQ(L.ln1_w.type, WeightType::F32);  // vectors stay float32
  EXPECT_TRUE(L.ln1_w.data);
  EXPECT_EQ(converted->weights().layers[0].qkv_w.type, WeightType::F32);
  EXPECT_LT(kept->resident_bytes(), converted->resident_bytes() * 0.51);
  auto kb = make_cpu_backend(*kept), cb = make_cpu_backend(*converted);
  Runner kr(*kept, *kb), cr(*converted, *cb);
  for (const char* plan_text : {"0-3", "0,[1-2]x2,3-5,5"}) {
    for (int tokens : {1, 3, 40}) {  // a decoding step, a short and a longer prompt
      ForwardRequest req;
      for (int t = 0; t < tokens; ++t) req.ids.push_back(int32_t(100 + 37 * t));
      req.all_logits = true;
      const Plan plan = parse_plan_text(plan_text);
      const ForwardResult a = kr.forward(plan, req), b = cr.forward(plan, req);
      EXPECT_LE(max_rel_error(a.logits, b.logits), 1e-5) << plan_text << " tokens " << tokens;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(TrainedModels, KeepDtype, ::testing::Values("gpt2-code-24l", "llama-code-16l"));

}  // namespace
}  // namespace layerlab::testing
