// AdamW, schedule and clipping against hand-computed values (torch.optim.AdamW's formulas).
#include <gtest/gtest.h>

#include <cmath>

#include "layerlab/train.h"

using namespace layerlab::train;

namespace {

std::vector<TensorSpec> two_tensors() {
  TensorSpec w;
  w.name = "w";
  w.shape = {2, 1};
  w.numel = 2;
  w.offset = 0;
  w.matrix = true;
  TensorSpec b;
  b.name = "b";
  b.shape = {1};
  b.numel = 1;
  b.offset = 2;
  return {w, b};
}

TEST(AdamW, TwoStepsByHand) {
  OptimConfig c;
  c.beta1 = 0.9;
  c.beta2 = 0.99;
  c.eps = 1e-8;
  c.weight_decay = 0.5;
  AdamW opt(two_tensors(), c);
  std::vector<float> p = {1.0f, -2.0f, 3.0f}, g = {0.5f, 0.1f, -1.0f};
  const double lr = 0.1;
  opt.step(p, g, lr);
  // Step 1: m = 0.1 g, v = 0.01 g^2, m_hat = g, v_hat = g^2 -> update lr * sign(g) (|g| >> eps);
  // decay multiplies matrices by (1 - lr * wd) = 0.95 first; the bias "b" is not decayed.
  EXPECT_NEAR(p[0], 1.0 * 0.95 - 0.1, 1e-6);
  EXPECT_NEAR(p[1], -2.0 * 0.95 - 0.1, 1e-6);
  EXPECT_NEAR(p[2], 3.0 + 0.1, 1e-6);
  const float p0 = p[0];
  std::vector<float> g2 = {-0.5f, 0.1f, -1.0f};
  opt.step(p, g2, lr);
  // Step 2 for p[0]: m = 0.9*0.05 + 0.1*(-0.5) = -0.005; v = 0.99*0.0025 + 0.01*0.25 = 0.004975;
  // m_hat = -0.005 / 0.19, v_hat = 0.004975 / 0.0199.
  const double m_hat = -0.005 / 0.19, v_hat = 0.004975 / (1 - 0.99 * 0.99);
  EXPECT_NEAR(p[0], p0 * 0.95 - lr * m_hat / (std::sqrt(v_hat) + 1e-8), 1e-6);
}

TEST(Schedule, WarmupThenCosine) {
  OptimConfig c;
  c.lr = 1.0;
  c.warmup = 10;
  c.min_lr_ratio = 0.1;
  EXPECT_NEAR(learning_rate(c, 0, 110), 0.1, 1e-12);
  EXPECT_NEAR(learning_rate(c, 9, 110), 1.0, 1e-12);
  EXPECT_NEAR(learning_rate(c, 10, 110), 1.0, 1e-12);
  EXPECT_NEAR(learning_rate(c, 60, 110), 0.1 + 0.9 * 0.5, 1e-12);  // half way: cos = 0
  EXPECT_NEAR(learning_rate(c, 110, 110), 0.1, 1e-12);
}

TEST(Clip, ScalesToMaxNorm) {
  std::vector<float> g = {3.0f, 4.0f};
  EXPECT_NEAR(clip_grad_norm(g, 1.0), 5.0, 1e-6);
  EXPECT_NEAR(std::hypot(g[0], g[1]), 1.0, 1e-5);
  std::vector<float> small = {0.3f, 0.4f};
  clip_grad_norm(small, 1.0);
  EXPECT_FLOAT_EQ(small[0], 0.3f);
}

TEST(Decay, MatricesOnlyByDefault) {
  OptimConfig c;
  TensorSpec emb;
  emb.embedding = true;
  TensorSpec mat;
  mat.matrix = true;
  TensorSpec norm;
  EXPECT_FALSE(decays(c, emb));
  EXPECT_TRUE(decays(c, mat));
  EXPECT_FALSE(decays(c, norm));
  c.decay_embeddings = true;
  EXPECT_TRUE(decays(c, emb));
}

}  // namespace
