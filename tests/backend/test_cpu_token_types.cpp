// Token type ids in the CPU backend's embeddings (BERT sentence pairs): the hidden states of a
// pair with types 0/1 under several plans against a float64 BERT written from the Hugging Face
// definition (tests/bert_reference.h). Tolerance 1e-4 relative to the largest value: float32
// through 6 post-LN layers (the golden BERT cases match to ~1e-6; 1e-4 leaves room for the
// longer input and the plans).
#include <gtest/gtest.h>

#include <cmath>

#include "bert_reference.h"
#include "golden.h"
#include "layerlab/backend.h"
#include "layerlab/error.h"
#include "layerlab/runner.h"

using namespace layerlab;
using namespace layerlab::testing;

namespace {

struct Bert {
  std::string dir = shared_dir() + "/golden/bert-tiny";
  std::unique_ptr<Model> model = load_model(dir);
  std::unique_ptr<Backend> backend = make_cpu_backend(*model);
  Runner runner{*model, *backend};
  const ModelConfig& c = model->config();
  BertReference ref{dir, c.d_model, c.n_head, c.d_ff, c.n_layer, c.norm_eps};
};

// The reference under a plan: each step a layer, or a parallel group (mean of the members'
// outputs on the same input, repeated `iterations` times).
Mat reference_plan(const BertReference& r, const Plan& plan, const std::vector<int32_t>& ids, const std::vector<int32_t>& types) {
  const int n = int(ids.size());
  Mat x = r.embed(ids, types);
  for (const PlanStep& s : plan.steps)
    for (int it = 0; it < s.iterations; ++it) {
      Mat sum(x.size(), 0.0);
      for (int l : s.layers) {
        const Mat y = r.layer(x, n, l);
        for (size_t i = 0; i < y.size(); ++i) sum[i] += y[i] / double(s.layers.size());
      }
      x = sum;
    }
  return x;
}

double max_rel_err(const std::vector<float>& got, const Mat& want) {
  double scale = 0, err = 0;
  for (double v : want) scale = std::max(scale, std::abs(v));
  for (size_t i = 0; i < want.size(); ++i) err = std::max(err, std::abs(double(got[i]) - want[i]));
  return err / scale;
}

}  // namespace

TEST(CpuTokenTypes, PairMatchesFloat64Bert) {
  Bert b;
  // [CLS] a [SEP] b [SEP] with real vocabulary ids; types 0 then 1.
  const std::vector<int32_t> ids = {101, 7592, 1010, 2088, 999, 102, 2951, 5107, 3989, 102};
  const std::vector<int32_t> types = {0, 0, 0, 0, 0, 0, 1, 1, 1, 1};
  for (const std::string text : {"0-5", "0,2,2,[3,4]x2,5", "5-0"}) {
    const Plan plan = parse_plan_text(text);
    auto x = b.runner.embed_typed(ids, types, 1);
    b.runner.run(plan, *x);
    const Mat want = reference_plan(b.ref, plan, ids, types);
    EXPECT_LT(max_rel_err(x->to_host(), want), 1e-4) << text;
    // Types matter: the same ids with all-zero types differ from the reference by far more.
    auto z = b.runner.embed(ids, 1);
    b.runner.run(plan, *z);
    EXPECT_GT(max_rel_err(z->to_host(), want), 1e-2) << text;
  }
}

TEST(CpuTokenTypes, BatchOfTwoAndZeroTypesEqualPlainEmbed) {
  Bert b;
  const std::vector<int32_t> ids = {101, 7592, 102, 2088, 102, 101, 2951, 102, 5107, 102};
  const std::vector<int32_t> types = {0, 0, 0, 1, 1, 0, 0, 0, 1, 1};
  auto x = b.runner.embed_typed(ids, types, 2);
  const std::vector<float> got = x->to_host();
  for (int s = 0; s < 2; ++s) {
    const std::vector<int32_t> i1(ids.begin() + 5 * s, ids.begin() + 5 * s + 5), t1(types.begin() + 5 * s, types.begin() + 5 * s + 5);
    const Mat want = b.ref.embed(i1, t1);
    EXPECT_LT(max_rel_err(std::vector<float>(got.begin() + 5 * s * b.c.d_model, got.begin() + 5 * (s + 1) * b.c.d_model), want), 1e-5);
  }
  EXPECT_EQ(b.runner.embed_typed(ids, std::vector<int32_t>(ids.size(), 0), 2)->to_host(), b.runner.embed(ids, 2)->to_host());
}

TEST(CpuTokenTypes, BadTypesAreErrors) {
  Bert b;
  const std::vector<int32_t> ids = {101, 7592, 102};
  EXPECT_THROW(b.runner.embed_typed(ids, {0, 2, 0}, 1), Error);   // type_vocab is 2
  EXPECT_THROW(b.runner.embed_typed(ids, {0, -1, 0}, 1), Error);
  EXPECT_THROW(b.runner.embed_typed(ids, {0, 1}, 1), Error);      // count differs
  auto gpt2 = load_model(shared_dir() + "/golden/gpt2-tiny");    // no token types at all
  auto backend = make_cpu_backend(*gpt2);
  Runner r(*gpt2, *backend);
  EXPECT_THROW(r.embed_typed({1, 2}, {0, 1}, 1), Error);
  EXPECT_EQ(r.embed_typed({1, 2}, {0, 0}, 1)->to_host(), r.embed({1, 2}, 1)->to_host());
}
