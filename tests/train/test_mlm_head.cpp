// The masked-LM head (cls.predictions, decoder tied to the word embeddings): gradients of
// encoder + head in float64 against central finite differences (every parameter, a position
// chosen twice, tied embeddings getting both the input and the decoder gradient), its loss
// against the formula written out here, and the masking proportions (15%; 80/10/10).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "train/encoder_model.h"
#include "train/mlm_head.h"

using namespace layerlab;
using namespace layerlab::finetune;

namespace {

const EncoderShape kShape{2, 8, 2, 16, 12, 10, 2, 1e-12};

struct Seq {
  std::vector<int32_t> ids, types;
  std::vector<int> pos;
  std::vector<int32_t> target;
};

// Mean cross-entropy over every chosen position of the batch; with grads: the analytic
// gradient of encoder + head (the head's tensors after the encoder's in p).
double total_loss(EncoderModel<double>& enc, MlmHead<double>& head, const std::vector<double>& p, int64_t enc_n,
                  int64_t wte_off, const std::vector<Seq>& batch, std::vector<double>* grads) {
  const int d = kShape.d_model;
  int chosen = 0;
  for (const Seq& s : batch) chosen += int(s.pos.size());
  if (grads) grads->assign(p.size(), 0.0);
  double sum = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    const Seq& s = batch[i];
    const auto& h = enc.forward(p.data(), s.ids, s.types, int(i));
    const int n = int(s.ids.size());
    std::vector<double> dh(size_t(n) * d);
    sum += head.loss(p.data() + enc_n, p.data() + wte_off, h.data(), n, s.pos, s.target, 1.0 / chosen,
                     grads ? grads->data() + enc_n : nullptr, grads ? grads->data() + wte_off : nullptr,
                     grads ? dh.data() : nullptr);
    if (grads) enc.backward(p.data(), grads->data(), dh, int(i));
  }
  return sum / chosen;
}

}  // namespace

TEST(MlmHead, GradientAgainstFiniteDifferencesWithTiedEmbeddings) {
  EncoderModel<double> enc(kShape, parse_plan_text("0,1,1"));
  MlmHead<double> head(kShape.d_model, kShape.vocab, kShape.norm_eps);
  const int64_t enc_n = train::parameter_count(enc.layout());
  int64_t wte_off = -1;
  for (const auto& t : enc.layout())
    if (t.name == "bert.embeddings.word_embeddings.weight") wte_off = t.offset;
  ASSERT_GE(wte_off, 0);
  std::vector<double> p(size_t(enc_n + train::parameter_count(head.layout())));
  std::mt19937_64 rng(11);
  std::normal_distribution<double> nd(0.0, 0.5);
  for (double& v : p) v = nd(rng);
  for (const auto& t : enc.layout())
    if (t.name.find("LayerNorm.weight") != std::string::npos)
      for (int64_t i = 0; i < t.numel; ++i) p[size_t(t.offset + i)] += 1.0;
  for (const auto& t : head.layout())
    if (t.name.find("LayerNorm.weight") != std::string::npos)
      for (int64_t i = 0; i < t.numel; ++i) p[size_t(enc_n + t.offset + i)] += 1.0;
  // Position 2 of the first sequence is chosen twice (both gradients must add up).
  const std::vector<Seq> batch = {{{1, 4, 3, 7, 2}, {0, 0, 0, 0, 0}, {1, 2, 2}, {5, 9, 3}},
                                  {{1, 6, 2, 8}, {0, 0, 1, 1}, {3}, {11}}};
  std::vector<double> g;
  total_loss(enc, head, p, enc_n, wte_off, batch, &g);
  double worst = 0;
  const double h = 1e-6;
  for (size_t i = 0; i < p.size(); ++i) {
    const double keep = p[i];
    p[i] = keep + h;
    const double up = total_loss(enc, head, p, enc_n, wte_off, batch, nullptr);
    p[i] = keep - h;
    const double down = total_loss(enc, head, p, enc_n, wte_off, batch, nullptr);
    p[i] = keep;
    const double fd = (up - down) / (2 * h);
    const double err = std::abs(fd - g[i]) / std::max(1e-3, std::abs(fd) + std::abs(g[i]));
    worst = std::max(worst, err);
    ASSERT_LT(err, 1e-5) << "parameter " << i << " analytic " << g[i] << " numeric " << fd;
  }
  // A vocabulary row no input uses still gets the decoder's gradient (tied embeddings).
  EXPECT_NE(g[size_t(wte_off) + 10 * kShape.d_model], 0.0);
  std::printf("%zu parameters checked, worst relative error %.2e\n", p.size(), worst);
}

TEST(MlmHead, LossIsTheFormula) {
  // Head loss on given hidden states against dense -> erf GELU -> LayerNorm -> h E^T + b, written out.
  const int d = 4, V = 5;
  MlmHead<double> head(d, V, 1e-12);
  std::mt19937_64 rng(3);
  std::normal_distribution<double> nd(0.0, 0.7);
  std::vector<double> p(size_t(train::parameter_count(head.layout()))), E(size_t(V) * d), h(size_t(3) * d);
  for (auto* v : {&p, &E, &h})
    for (double& x : *v) x = nd(rng);
  const std::vector<int> pos = {0, 2};
  const std::vector<int32_t> tgt = {4, 1};
  double want = 0;
  for (size_t i = 0; i < pos.size(); ++i) {
    std::vector<double> u(d), t(d);
    for (int o = 0; o < d; ++o) {
      double s = p[size_t(d * d + o)];
      for (int c = 0; c < d; ++c) s += p[size_t(o * d + c)] * h[size_t(pos[i] * d + c)];
      u[size_t(o)] = 0.5 * s * (1 + std::erf(s / std::sqrt(2.0)));
    }
    double m = 0, var = 0;
    for (double x : u) m += x / d;
    for (double x : u) var += (x - m) * (x - m) / d;
    for (int c = 0; c < d; ++c)
      t[size_t(c)] = (u[size_t(c)] - m) / std::sqrt(var + 1e-12) * p[size_t(d * d + d + c)] + p[size_t(d * d + 2 * d + c)];
    std::vector<double> z(V);
    double mx = -1e300;
    for (int v = 0; v < V; ++v) {
      z[size_t(v)] = p[size_t(d * d + 3 * d + v)];
      for (int c = 0; c < d; ++c) z[size_t(v)] += t[size_t(c)] * E[size_t(v * d + c)];
      mx = std::max(mx, z[size_t(v)]);
    }
    double se = 0;
    for (double x : z) se += std::exp(x - mx);
    want += mx + std::log(se) - z[size_t(tgt[i])];
  }
  EXPECT_NEAR(head.loss(p.data(), E.data(), h.data(), 3, pos, tgt, 1.0, nullptr, nullptr, nullptr), want, 1e-12);
}

TEST(MlmMasking, FifteenPercentThenEightyTenTen) {
  std::mt19937_64 rng(5);
  const int n = 200000, vocab = 1000, mask = 999;
  std::vector<int32_t> ids(n);
  std::vector<bool> special(n, false);
  for (int i = 0; i < n; ++i) ids[i] = 1 + i % 500, special[i] = i % 10 == 0;  // 10% special
  const Masked m = mask_tokens(ids, special, mask, vocab, 0.15, rng);
  int as_mask = 0, kept = 0, other = 0;
  for (size_t k = 0; k < m.positions.size(); ++k) {
    const int i = m.positions[k];
    ASSERT_FALSE(special[size_t(i)]);
    ASSERT_EQ(m.targets[k], ids[size_t(i)]);
    if (m.ids[size_t(i)] == mask) ++as_mask;
    else if (m.ids[size_t(i)] == ids[size_t(i)]) ++kept;
    else ++other;
  }
  for (int i = 0; i < n; ++i)  // unchosen tokens unchanged
    if (!std::binary_search(m.positions.begin(), m.positions.end(), i)) {
      ASSERT_EQ(m.ids[size_t(i)], ids[size_t(i)]);
    }
  const double chosen = double(m.positions.size());
  EXPECT_NEAR(chosen / (0.9 * n), 0.15, 0.003);
  EXPECT_NEAR(as_mask / chosen, 0.8, 0.01);
  EXPECT_NEAR(other / chosen, 0.1, 0.01);  // a random token (rarely the same: counted as kept)
  EXPECT_NEAR(kept / chosen, 0.1, 0.01);
}
