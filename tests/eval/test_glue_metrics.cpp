// GLUE metrics against values recomputed independently by tests/eval/glue_metrics_reference.py
// (sklearn's multiclass MCC formula, F1 from precision and recall, Python's
// statistics.correlation, ranks by counting) on the fixed predictions below, plus hand-worked
// cases. Tolerance 1e-12: both sides compute in double.
#include <gtest/gtest.h>

#include <cmath>

#include "layerlab/error.h"
#include "layerlab/glue.h"

using namespace layerlab;

namespace {
// Printed by tests/eval/glue_metrics_reference.py.
const std::vector<int> kPred = {0, 1, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0};
const std::vector<int> kGold = {0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1};
const std::vector<double> kScoreX = {0.6, 2.6, 1.4, 1.2, 0.8, 3.8, 0.2, 3.4, 1.4, 1.4, 3.4, 3.2, 0.4, 0.2, 1.2, 2.6, 0.2, 3, 1, 2, 5, 0.4, 1, 2, 1.4, 3.4, 1, 2.6, 2.6};
const std::vector<double> kScoreY = {4.4, 0.8, 0.8, 5, 3, 0.2, 0.2, 1.8, 0, 3.6, 3.4, 0.8, 2.4, 1.6, 1.8, 3.8, 4.4, 3.4, 4.8, 1.2, 0.4, 3.4, 0.4, 4.8, 1.4, 2.8, 0.8, 1.4, 5};
const std::vector<double> kRanksX = {6.0, 20.5, 14.5, 11.5, 7.0, 28.0, 2.0, 26.0, 14.5, 14.5, 26.0, 24.0, 4.5, 2.0, 11.5,
                                     20.5, 2.0, 23.0, 9.0, 17.5, 29.0, 4.5, 9.0, 17.5, 14.5, 26.0, 9.0, 20.5, 20.5};
constexpr double kTol = 1e-12;
}  // namespace

TEST(GlueMetrics, ClassificationAgainstReferenceScript) {
  EXPECT_NEAR(glue::accuracy(kPred, kGold), 0.6756756756756757, kTol);
  EXPECT_NEAR(glue::matthews(kPred, kGold), 0.29278770069994303, kTol);
  EXPECT_NEAR(glue::f1_binary(kPred, kGold), 0.5384615384615384, kTol);
}

TEST(GlueMetrics, CorrelationsAgainstReferenceScript) {
  EXPECT_NEAR(glue::pearson(kScoreX, kScoreY), -0.17885147853954095, kTol);
  EXPECT_NEAR(glue::spearman(kScoreX, kScoreY), -0.14707363434456125, kTol);
  const std::vector<double> r = glue::average_ranks(kScoreX);
  ASSERT_EQ(r.size(), kRanksX.size());
  for (size_t i = 0; i < r.size(); ++i) EXPECT_DOUBLE_EQ(r[i], kRanksX[i]) << i;
}

TEST(GlueMetrics, HandWorkedCases) {
  // tp=2 tn=1 fp=1 fn=0: MCC = (2*1 - 1*0) / sqrt(3*2*2*1) = 2/sqrt(12); F1 = 4/5.
  EXPECT_NEAR(glue::matthews({1, 1, 1, 0}, {1, 1, 0, 0}), 2 / std::sqrt(12.0), kTol);
  EXPECT_NEAR(glue::f1_binary({1, 1, 1, 0}, {1, 1, 0, 0}), 0.8, kTol);
  EXPECT_EQ(glue::matthews({1, 1, 1}, {1, 0, 1}), 0.0);  // one predicted class only: sklearn gives 0
  EXPECT_EQ(glue::f1_binary({0, 0}, {0, 0}), 0.0);
  EXPECT_NEAR(glue::matthews({0, 1, 0, 1}, {1, 0, 1, 0}), -1.0, kTol);
  // Spearman of a monotone but non-linear relation is 1; Pearson is not.
  EXPECT_NEAR(glue::spearman({1, 2, 3, 4}, {1, 8, 27, 64}), 1.0, kTol);
  EXPECT_LT(glue::pearson({1, 2, 3, 4}, {1, 8, 27, 64}), 0.99);
  EXPECT_NEAR(glue::pearson({1, 2, 3, 4}, {1, 3, 2, 5}), 0.8315218406202999, kTol);  // statistics.correlation
  EXPECT_THROW(glue::accuracy({1}, {1, 0}), Error);
  EXPECT_THROW(glue::accuracy({}, {}), Error);
}

TEST(GlueMetrics, TaskAndGlueScoresAverageAsTheLeaderboard) {
  // MRPC: mean of F1 and accuracy; the GLUE score: the unweighted mean over tasks.
  const glue::TaskSpec& mrpc = glue::task_spec("mrpc");
  std::vector<glue::Example> gold(kGold.size());
  for (size_t i = 0; i < gold.size(); ++i) gold[i].label = kGold[i];
  const auto m = glue::evaluate(mrpc, kPred, {}, gold);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].name, "f1");
  EXPECT_EQ(m[1].name, "acc");
  EXPECT_NEAR(glue::task_score(m), (0.5384615384615384 + 0.6756756756756757) / 2, kTol);
  EXPECT_NEAR(glue::glue_score({0.5, 0.7, 0.9}), 0.7, kTol);
  std::vector<glue::Example> sts(kScoreY.size());
  for (size_t i = 0; i < sts.size(); ++i) sts[i].score = kScoreY[i];
  const auto s = glue::evaluate(glue::task_spec("stsb"), {}, kScoreX, sts);
  EXPECT_NEAR(glue::task_score(s), (-0.17885147853954095 + -0.14707363434456125) / 2, kTol);
}
