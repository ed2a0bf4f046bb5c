#include "layerlab/similarity.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "layerlab/error.h"

namespace layerlab {

namespace {

std::string step_label(size_t k, const PlanStep& s) {
  Plan one{{s}};
  return std::to_string(k + 1) + ":" + (s.is_group() ? plan_to_text(one) : "L" + std::to_string(s.layers[0]));
}

// Rows scaled to unit length (zero rows stay zero), so a dot product is a cosine.
void normalise_rows(std::vector<float>& x, int64_t rows, int d) {
  for (int64_t r = 0; r < rows; ++r) {
    float* v = x.data() + r * d;
    double ss = 0;
    for (int i = 0; i < d; ++i) ss += double(v[i]) * v[i];
    const float inv = ss > 0 ? static_cast<float>(1.0 / std::sqrt(ss)) : 0.0f;
    for (int i = 0; i < d; ++i) v[i] *= inv;
  }
}

}  // namespace

SimilarityResult layer_similarity(Runner& runner, const Plan& plan, const std::vector<std::vector<int32_t>>& texts,
                                  const std::function<void(int)>& on_text) {
  validate_plan(plan, runner.model().config().n_layer);
  SimilarityResult res;
  res.labels.push_back("emb");
  for (size_t k = 0; k < plan.steps.size(); ++k) res.labels.push_back(step_label(k, plan.steps[k]));
  const size_t S = res.labels.size();
  std::vector<std::vector<double>> sum(S, std::vector<double>(S, 0.0));
  const int d = runner.model().config().d_model;
  for (size_t i = 0; i < texts.size(); ++i) {
    if (texts[i].empty()) continue;
    std::vector<std::vector<float>> states;
    auto x = runner.embed(texts[i], 1);
    states.push_back(x->to_host());
    runner.run(plan, *x, 0, SIZE_MAX, nullptr, [&](size_t, const Hidden& h) { states.push_back(h.to_host()); });
    const int64_t T = x->tokens;
    for (auto& s : states) normalise_rows(s, T, d);
    for (size_t a = 0; a < S; ++a)
      for (size_t b = a; b < S; ++b) {
        double acc = 0;
        for (int64_t t = 0; t < T; ++t) {
          const float* u = states[a].data() + t * d;
          const float* v = states[b].data() + t * d;
          float dot = 0;
          for (int j = 0; j < d; ++j) dot += u[j] * v[j];
          acc += dot;
        }
        sum[a][b] += acc;
      }
    res.tokens += T;
    ++res.texts;
    if (on_text) on_text(static_cast<int>(i));
  }
  if (res.tokens == 0) fail("similarity", "no tokens in the input texts");
  res.matrix.assign(S, std::vector<double>(S, 0.0));
  for (size_t a = 0; a < S; ++a)
    for (size_t b = a; b < S; ++b) res.matrix[a][b] = res.matrix[b][a] = sum[a][b] / res.tokens;
  return res;
}

std::string similarity_to_csv(const SimilarityResult& r) {
  std::string out = "step";
  for (const auto& l : r.labels) out += "," + l;
  out += "\n";
  char buf[32];
  for (size_t a = 0; a < r.labels.size(); ++a) {
    out += r.labels[a];
    for (double v : r.matrix[a]) {
      std::snprintf(buf, sizeof buf, ",%.6f", v);
      out += buf;
    }
    out += "\n";
  }
  return out;
}

std::string similarity_to_json(const SimilarityResult& r) {
  nlohmann::json j = {{"labels", r.labels}, {"matrix", r.matrix}, {"tokens", r.tokens}, {"texts", r.texts}};
  return j.dump(1) + "\n";
}

}  // namespace layerlab
