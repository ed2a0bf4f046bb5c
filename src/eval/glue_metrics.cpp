// GLUE's metrics as scikit-learn / scipy compute them (what the Hugging Face `glue` metric
// calls): accuracy, Matthews correlation, binary F1, Pearson and Spearman (average ranks for
// ties), and the GLUE score (mean of the task means).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "layerlab/error.h"
#include "layerlab/glue.h"

namespace layerlab::glue {

namespace {

template <class A, class B>
void check_sizes(const A& a, const B& b, const char* what) {
  if (a.size() != b.size()) fail(what, "predictions and labels differ in count");
  if (a.empty()) fail(what, "no predictions");
}

struct Confusion {
  double tp = 0, tn = 0, fp = 0, fn = 0;
};
Confusion confusion(const std::vector<int>& pred, const std::vector<int>& gold) {
  Confusion c;
  for (size_t i = 0; i < pred.size(); ++i) {
    const bool p = pred[i] == 1, g = gold[i] == 1;
    (p ? (g ? c.tp : c.fp) : (g ? c.fn : c.tn)) += 1;
  }
  return c;
}

}  // namespace

double accuracy(const std::vector<int>& pred, const std::vector<int>& gold) {
  check_sizes(pred, gold, "accuracy");
  size_t right = 0;
  for (size_t i = 0; i < pred.size(); ++i) right += pred[i] == gold[i];
  return double(right) / double(pred.size());
}

double matthews(const std::vector<int>& pred, const std::vector<int>& gold) {
  check_sizes(pred, gold, "matthews");
  const Confusion c = confusion(pred, gold);
  const double den = (c.tp + c.fp) * (c.tp + c.fn) * (c.tn + c.fp) * (c.tn + c.fn);
  return den == 0 ? 0.0 : (c.tp * c.tn - c.fp * c.fn) / std::sqrt(den);
}

double f1_binary(const std::vector<int>& pred, const std::vector<int>& gold) {
  check_sizes(pred, gold, "f1");
  const Confusion c = confusion(pred, gold);
  const double den = 2 * c.tp + c.fp + c.fn;
  return den == 0 ? 0.0 : 2 * c.tp / den;
}

// 0 when either input is constant (scipy returns nan there; a constant predictor scores 0).
double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  check_sizes(x, y, "pearson");
  const double n = double(x.size());
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n, my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxx == 0 || syy == 0 ? 0.0 : sxy / std::sqrt(sxx * syy);
}

std::vector<double> average_ranks(const std::vector<double>& x) {
  std::vector<size_t> order(x.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
  std::vector<double> rank(x.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i + 1;
    while (j < order.size() && x[order[j]] == x[order[i]]) ++j;
    const double r = (double(i + 1) + double(j)) / 2;  // mean of ranks i+1 .. j
    for (size_t k = i; k < j; ++k) rank[order[k]] = r;
    i = j;
  }
  return rank;
}

double spearman(const std::vector<double>& x, const std::vector<double>& y) {
  check_sizes(x, y, "spearman");
  return pearson(average_ranks(x), average_ranks(y));
}

std::vector<MetricValue> evaluate(const TaskSpec& task, const std::vector<int>& pred_class,
                                  const std::vector<double>& pred_score, const std::vector<Example>& gold) {
  std::vector<int> labels;
  std::vector<double> scores;
  for (const Example& e : gold) labels.push_back(e.label), scores.push_back(e.score);
  std::vector<MetricValue> out;
  for (Metric m : task.metrics) {
    double v = 0;
    switch (m) {
      case Metric::Matthews: v = matthews(pred_class, labels); break;
      case Metric::Accuracy: v = accuracy(pred_class, labels); break;
      case Metric::F1: v = f1_binary(pred_class, labels); break;
      case Metric::Pearson: v = pearson(pred_score, scores); break;
      case Metric::Spearman: v = spearman(pred_score, scores); break;
    }
    out.push_back({metric_name(m), v});
  }
  return out;
}

double task_score(const std::vector<MetricValue>& metrics) {
  if (metrics.empty()) fail("glue", "a task without metrics");
  double s = 0;
  for (const MetricValue& m : metrics) s += m.value;
  return s / double(metrics.size());
}

double glue_score(const std::vector<double>& task_scores) {
  if (task_scores.empty()) fail("glue", "no task scores");
  return std::accumulate(task_scores.begin(), task_scores.end(), 0.0) / double(task_scores.size());
}

}  // namespace layerlab::glue
