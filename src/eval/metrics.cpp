// Aggregations and standard errors, as lm-eval computes them (lm_eval/api/metrics.py).
#include <cmath>
#include <limits>
#include <random>

#include "layerlab/error.h"
#include "layerlab/eval.h"

namespace layerlab {

const Metric& TaskResult::get(const std::string& name) const {
  for (const Metric& m : metrics)
    if (m.name == name) return m;
  fail("metric", "no metric '" + name + "' in this result");
}

double mean_of(const std::vector<double>& xs) {
  if (xs.empty()) return std::numeric_limits<double>::quiet_NaN();
  double s = 0;
  for (double x : xs) s += x;
  return s / xs.size();
}

double mean_stderr(const std::vector<double>& xs) {
  if (xs.size() < 2) return std::numeric_limits<double>::quiet_NaN();
  const double mu = mean_of(xs);
  double ss = 0;
  for (double x : xs) ss += (x - mu) * (x - mu);
  return std::sqrt(ss / (xs.size() - 1)) / std::sqrt(double(xs.size()));
}

double perplexity_of(const std::vector<double>& logliks) { return std::exp(-mean_of(logliks)); }

double perplexity_bootstrap_stderr(const std::vector<double>& logliks, int resamples, uint64_t seed) {
  if (logliks.size() < 2 || resamples < 2) return std::numeric_limits<double>::quiet_NaN();
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, logliks.size() - 1);
  std::vector<double> stats(resamples);
  for (double& st : stats) {
    double s = 0;
    for (size_t i = 0; i < logliks.size(); ++i) s += logliks[pick(rng)];
    st = std::exp(-s / logliks.size());
  }
  // lm-eval reports the sample standard deviation of the bootstrap replicates.
  const double mu = mean_of(stats);
  double ss = 0;
  for (double x : stats) ss += (x - mu) * (x - mu);
  return std::sqrt(ss / (stats.size() - 1));
}

}  // namespace layerlab
