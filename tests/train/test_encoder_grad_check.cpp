// The fine-tuning encoder + head: gradients in float64 against central finite differences
// (every parameter, under a plan with a repeated layer and a looped parallel group, token
// types, classification and regression heads), and the forward pass against the float64 BERT
// written from the Hugging Face definition (tests/bert_reference.h) on bert-tiny's weights,
// with the head's loss recomputed here from its formula.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "bert_reference.h"
#include "golden.h"
#include "layerlab/finetune.h"
#include "layerlab/model.h"
#include "model/checkpoint.h"
#include "train/encoder_model.h"

using namespace layerlab;
using namespace layerlab::finetune;
using namespace layerlab::testing;

namespace {

struct Batch {
  std::vector<std::vector<int32_t>> ids, types;
  std::vector<int> labels;
  std::vector<double> targets;
};

// Mean head loss of the batch; with grads: the analytic gradient of encoder + head.
double total_loss(EncoderModel<double>& enc, Head<double>& head, const std::vector<double>& p, int64_t enc_n, const Batch& b,
                  std::vector<double>* grads, int d) {
  const int B = int(b.ids.size());
  std::vector<double> x(size_t(B) * d), dx(x.size());
  for (int i = 0; i < B; ++i) {
    const auto& h = enc.forward(p.data(), b.ids[i], b.types[i], i);
    std::copy_n(h.data(), d, x.data() + size_t(i) * d);
  }
  std::copy(p.begin() + enc_n, p.end(), head.params().begin());
  const double loss = head.loss(x.data(), B, b.labels.data(), b.targets.data(), grads != nullptr, dx.data());
  if (grads) {
    grads->assign(p.size(), 0.0);
    std::copy(head.grads().begin(), head.grads().end(), grads->begin() + enc_n);
    for (int i = 0; i < B; ++i) {
      std::vector<double> dout(b.ids[i].size() * size_t(d), 0.0);
      std::copy_n(dx.data() + size_t(i) * d, d, dout.data());
      enc.backward(p.data(), grads->data(), dout, i);
    }
  }
  return loss;
}

void grad_check(int num_labels, const std::string& plan_text) {
  const EncoderShape s{3, 8, 2, 16, 20, 10, 2, 1e-12};
  const Plan plan = parse_plan_text(plan_text);
  EncoderModel<double> enc(s, plan);
  Head<double> head(HeadShape{s.d_model, num_labels, true});
  const int64_t enc_n = train::parameter_count(enc.layout());
  std::vector<double> p(size_t(enc_n + train::parameter_count(head.layout())));
  std::mt19937_64 rng(7);
  std::normal_distribution<double> nd(0.0, 0.5);
  for (double& v : p) v = nd(rng);
  for (const auto& t : enc.layout())  // LayerNorm gains near 1, as trained models have them
    if (t.name.find("LayerNorm.weight") != std::string::npos)
      for (int64_t i = 0; i < t.numel; ++i) p[size_t(t.offset + i)] += 1.0;
  Batch b;
  b.ids = {{1, 5, 7, 2, 9}, {1, 3, 2, 19}};
  b.types = {{0, 0, 0, 1, 1}, {0, 0, 1, 1}};
  b.labels = {num_labels > 1 ? 2 : 0, num_labels > 1 ? 1 : 0};
  b.targets = {3.2, 0.4};
  std::vector<double> g;
  total_loss(enc, head, p, enc_n, b, &g, s.d_model);
  double worst = 0;
  int64_t checked = 0;
  const double h = 1e-6;
  for (size_t i = 0; i < p.size(); ++i) {
    const double keep = p[i];
    p[i] = keep + h;
    const double up = total_loss(enc, head, p, enc_n, b, nullptr, s.d_model);
    p[i] = keep - h;
    const double down = total_loss(enc, head, p, enc_n, b, nullptr, s.d_model);
    p[i] = keep;
    const double fd = (up - down) / (2 * h);
    const double err = std::abs(fd - g[i]) / std::max(1e-3, std::abs(fd) + std::abs(g[i]));
    worst = std::max(worst, err);
    ++checked;
    ASSERT_LT(err, 1e-5) << "parameter " << i << " analytic " << g[i] << " numeric " << fd;
  }
  // Rows of the vocabulary no input uses get no gradient; every other row does.
  EXPECT_EQ(g[size_t(enc.layout()[0].offset) + 4 * s.d_model], 0.0);
  std::printf("%lld parameters checked, worst relative error %.2e\n", static_cast<long long>(checked), worst);
}

}  // namespace

TEST(EncoderGradCheck, ClassificationUnderRepeatAndParallelPlan) { grad_check(3, "0,1,1,[0,2]x2"); }
TEST(EncoderGradCheck, RegressionReversed) { grad_check(1, "2-0"); }

TEST(EncoderForward, MatchesFloat64BertAndHeadLossFormula) {
  const std::string dir = shared_dir() + "/golden/bert-tiny";
  auto model = load_model(dir);
  const ModelConfig& c = model->config();
  const BertReference ref(dir, c.d_model, c.n_head, c.d_ff, c.n_layer, c.norm_eps);
  const EncoderShape s{c.n_layer, c.d_model, c.n_head, c.d_ff, c.vocab, c.max_positions, c.type_vocab, c.norm_eps};
  const Plan plan = parse_plan_text("0,2,2,[3,4],5");
  EncoderModel<double> enc(s, plan);
  std::vector<double> p(size_t(train::parameter_count(enc.layout())));
  const Checkpoint ck(dir);
  for (const auto& t : enc.layout()) {
    const std::vector<float> v = ck.read(t.name, t.shape);
    std::copy(v.begin(), v.end(), p.begin() + t.offset);
  }
  const std::vector<int32_t> ids = {101, 7592, 1010, 2088, 102, 2951, 5107, 102}, types = {0, 0, 0, 0, 0, 1, 1, 1};
  const std::vector<double> got = enc.forward(p.data(), ids, types, 0);
  Mat x = ref.embed(ids, types);
  for (const PlanStep& st : plan.steps) {
    Mat mean(x.size(), 0.0);
    for (int l : st.layers) {
      const Mat y = ref.layer(x, int(ids.size()), l);
      for (size_t i = 0; i < y.size(); ++i) mean[i] += y[i] / double(st.layers.size());
    }
    x = mean;
  }
  for (size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(got[i], x[i], 1e-9) << i;
  // The head: loss = logsumexp(z) - z[label], z = Wc tanh(Wp h + bp) + bc, recomputed here.
  Head<double> head(HeadShape{c.d_model, 2, true});
  std::mt19937_64 rng(3);
  std::normal_distribution<double> nd(0.0, 0.2);
  for (double& v : head.params()) v = nd(rng);
  const int d = c.d_model;
  const double* W = head.params().data();
  std::vector<double> pooled(d);
  for (int o = 0; o < d; ++o) {
    double sum = W[d * d + o];
    for (int k = 0; k < d; ++k) sum += W[o * d + k] * got[k];
    pooled[o] = std::tanh(sum);
  }
  double z[2];
  for (int j = 0; j < 2; ++j) {
    z[j] = W[d * d + d + 2 * d + j];
    for (int k = 0; k < d; ++k) z[j] += W[d * d + d + j * d + k] * pooled[k];
  }
  const int label = 1;
  const double want = std::log(std::exp(z[0]) + std::exp(z[1])) - z[label];
  EXPECT_NEAR(head.loss(got.data(), 1, &label, nullptr, false), want, 1e-12);
}
