// Finite-difference check of the backward pass of every block type, in float64 on a tiny
// model: the reference is the central difference (L(w+h) - L(w-h)) / 2h of the forward pass,
// an independent computation from the hand-written backward.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "layerlab/train.h"

using namespace layerlab::train;
using layerlab::BlockKind;

namespace {

ModelShape tiny(BlockKind b, bool norm) {
  ModelShape s;
  s.block = b;
  s.norm = norm;
  s.n_layer = 2;
  s.d_model = 8;
  s.n_head = 2;
  s.d_ff = 12;
  s.vocab = 23;
  s.context = 6;
  return s;
}

struct Case {
  BlockKind block;
  bool norm;
};

class GradCheck : public ::testing::TestWithParam<Case> {};

TEST_P(GradCheck, EveryTensorMatchesCentralDifferences) {
  const ModelShape s = tiny(GetParam().block, GetParam().norm);
  Transformer<double> m(s);
  m.init(7);
  // Move away from the special initial point (zero queries, unit gains) so every path carries
  // gradient: the check then covers the general case, not only the identity-attention start.
  std::mt19937_64 rng(3);
  std::normal_distribution<double> noise(0.0, 0.3);
  for (double& w : m.params()) w += noise(rng);
  const int B = 2, L = 6;
  std::vector<int32_t> in(B * L), tgt(B * L);
  for (int i = 0; i < B * L; ++i) {
    in[i] = int32_t(rng() % s.vocab);
    tgt[i] = int32_t(rng() % s.vocab);
  }
  m.forward(in.data(), tgt.data(), B, L);
  m.backward();
  const std::vector<double> grad = m.grads();
  const double h = 1e-5;
  int checked = 0;
  for (const TensorSpec& t : m.layout()) {
    // Every entry of small tensors, 8 spread-out entries of large ones (the token embedding
    // entries include rows of tokens that occur in the batch).
    std::vector<int64_t> entries;
    if (t.numel <= 16) {
      for (int64_t i = 0; i < t.numel; ++i) entries.push_back(i);
    } else {
      for (int k = 0; k < 8; ++k) entries.push_back(int64_t(rng() % t.numel));
      if (t.name == "wte") entries.push_back(int64_t(in[0]) * s.d_model + 1);
    }
    double max_abs = 0;
    for (int64_t e : entries) {
      double& w = m.params()[t.offset + e];
      const double w0 = w;
      w = w0 + h;
      const double lp = m.forward(in.data(), tgt.data(), B, L);
      w = w0 - h;
      const double lm = m.forward(in.data(), tgt.data(), B, L);
      w = w0;
      const double numeric = (lp - lm) / (2 * h);
      const double analytic = grad[t.offset + e];
      EXPECT_NEAR(analytic, numeric, 1e-8 + 1e-6 * std::abs(numeric)) << t.name << "[" << e << "]";
      max_abs = std::max(max_abs, std::abs(analytic));
      ++checked;
    }
    // A tensor whose gradient is identically zero would pass trivially: make sure it is not.
    EXPECT_GT(max_abs, 1e-6) << t.name << " has no gradient";
  }
  EXPECT_GT(checked, 50);
}

INSTANTIATE_TEST_SUITE_P(Blocks, GradCheck,
                         ::testing::Values(Case{BlockKind::PreLN, true}, Case{BlockKind::Parallel, true},
                                           Case{BlockKind::SAS, true}, Case{BlockKind::SAS, false},
                                           Case{BlockKind::SASP, true}, Case{BlockKind::SASP, false}),
                         [](const auto& info) {
                           return std::string(block_kind_name(info.param.block)) + (info.param.norm ? "_ln" : "_nonorm");
                         });

// float32 and float64 builds of the same code agree on the loss and gradients.
TEST(GradCheck, FloatMatchesDouble) {
  const ModelShape s = tiny(BlockKind::SASP, true);
  Transformer<double> md(s);
  Transformer<float> mf(s);
  md.init(11);
  mf.init(11);
  std::vector<int32_t> in = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, tgt = {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};
  const double ld = md.forward(in.data(), tgt.data(), 2, 6);
  const double lf = mf.forward(in.data(), tgt.data(), 2, 6);
  EXPECT_NEAR(lf, ld, 1e-5);
  md.backward();
  mf.backward();
  for (size_t i = 0; i < md.grads().size(); ++i) ASSERT_NEAR(mf.grads()[i], md.grads()[i], 1e-5) << i;
}

// At initialisation shaped attention is the identity (zero queries make the softmax the
// uniform causal matrix C, and alpha = beta = gamma = 1 give A = I + C - C), so an SAS-P model
// without norms computes out = x + 0.1 * MLP(x) in layers > 0 (paper Sec. 4.1).
TEST(Init, ShapedAttentionStartsAsIdentity) {
  ModelShape s = tiny(BlockKind::SAS, true);
  Transformer<double> m(s);
  m.init(5);
  EXPECT_EQ(m.params()[m.spec("h.1.attn.q.weight").offset], 0.0);
  EXPECT_EQ(m.params()[m.spec("h.1.attn.alpha").offset], 1.0);
  EXPECT_NEAR(m.params()[m.spec("h.1.mlp_gain").offset], 0.1, 1e-7);  // beta_ff_init is a float
  // Changing the key weights cannot change the loss while the queries are zero.
  std::vector<int32_t> in = {1, 2, 3, 4, 5, 6}, tgt = {2, 3, 4, 5, 6, 7};
  const double l0 = m.forward(in.data(), tgt.data(), 1, 6);
  const TensorSpec& k = m.spec("h.1.attn.k.weight");
  for (int64_t i = 0; i < k.numel; ++i) m.params()[k.offset + i] *= 3.0;
  EXPECT_DOUBLE_EQ(m.forward(in.data(), tgt.data(), 1, 6), l0);
}

TEST(Layout, SimplifiedBlocksHaveFewerParameters) {
  ModelShape s = tiny(BlockKind::PreLN, true);
  s.d_model = 64;
  s.n_head = 4;
  s.d_ff = 0;
  const int64_t preln = parameter_count(parameter_layout(s));
  s.block = BlockKind::SASP;
  const int64_t sasp = parameter_count(parameter_layout(s));
  EXPECT_LT(sasp, preln);
  // Per layer: -(3C^2+3C) qkv, -(C^2+C) projection, -2C second norm; +2C^2 q/k, +2C q/k bias,
  // +3H shaped-attention coefficients, +2 gains; layer 0 keeps a C^2 value matrix.
  const int64_t C = 64, H = 4;
  EXPECT_EQ(preln - sasp, 2 * (2 * C * C + 4 * C - 3 * H - 2) - C * C);
}

}  // namespace
