#include "head_detail.h"

#include <cmath>

#include "http_error.h"

namespace layerlab::server {

namespace {

double r4(double x) { return std::round(x * 1e4) / 1e4; }

// Copies what one layer application reports, when it is the requested one.
class HeadCapture : public Inspector {
 public:
  HeadCapture(const ModelConfig& cfg, const HeadRequest& r) : cfg_(cfg), r_(r) {}
  bool found = false;
  int layer = -1, member = 0, iteration = 0, tokens = 0, keys = 0;
  std::vector<float> qkv, probs;  // [tokens, qkv_dim]; this head's [tokens, keys]

  void on_layer(const LayerTrace& t) override {
    if (t.step != step_seen_) step_seen_ = t.step, index_in_step_ = 0;
    const int index = index_in_step_++;
    if (t.step != r_.step || index != r_.application) return;
    found = true;
    layer = t.layer, member = t.member, iteration = t.iteration, tokens = t.tokens, keys = t.keys;
    qkv.assign(t.qkv, t.qkv + size_t(t.tokens) * cfg_.qkv_dim());
    const float* p = t.attn_probs + size_t(r_.head) * t.tokens * t.keys;
    probs.assign(p, p + size_t(t.tokens) * t.keys);
  }

 private:
  const ModelConfig& cfg_;
  const HeadRequest& r_;
  int step_seen_ = -1, index_in_step_ = 0;
};

struct InspectorScope {
  Backend& b;
  InspectorScope(Backend& backend, Inspector* i) : b(backend) { b.set_inspector(i); }
  ~InspectorScope() { b.set_inspector(nullptr); }
};

json rows_of(const std::vector<float>& qkv, int tokens, int stride, int offset, int n) {
  json out = json::array();
  for (int t = 0; t < tokens; ++t) {
    json row = json::array();
    for (int i = 0; i < n; ++i) row.push_back(r4(qkv[size_t(t) * stride + offset + i]));
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace

json explain_head(ModelSession& s, const Plan& plan, const std::vector<int32_t>& ids, const HeadRequest& r) {
  const ModelConfig& cfg = s.config();
  if (r.step < 0 || size_t(r.step) >= plan.steps.size())
    bad_request("field 'step' must be a step of the plan (0.." + std::to_string(plan.steps.size() - 1) + ")");
  const PlanStep& st = plan.steps[size_t(r.step)];
  const int apps = int(st.layers.size()) * st.iterations;
  if (r.application < 0 || r.application >= apps)
    bad_request("field 'application' must be 0.." + std::to_string(apps - 1) + " (the step's layer applications)");
  if (r.head < 0 || r.head >= cfg.n_head)
    bad_request("field 'head' must be 0.." + std::to_string(cfg.n_head - 1));
  Backend& b = s.backend();
  if (!b.supports_inspection()) bad_request("this backend does not report layer internals");

  HeadCapture cap(cfg, r);
  {
    InspectorScope scope(b, &cap);
    auto x = s.runner().embed(ids, 1);
    s.runner().run(plan, *x, 0, size_t(r.step) + 1);
  }
  if (!cap.found) throw HttpError(500, "the requested layer application was not reported");

  const int T = cap.tokens, hd = cfg.head_dim, stride = cfg.qkv_dim();
  const int kv_head = r.head / (cfg.n_head / cfg.n_kv_head);
  const int q_off = r.head * hd, k_off = cfg.q_dim() + kv_head * hd;
  const int v_off = cfg.q_dim() + cfg.kv_dim() + kv_head * hd;
  // Scores from the reported Q and K, in double: q_i . k_j, then / sqrt(head_dim).
  const double scale = 1.0 / std::sqrt(double(hd));
  json scores = json::array();
  for (int i = 0; i < T; ++i) {
    json row = json::array();
    for (int j = 0; j < cap.keys; ++j) {
      double dot = 0;
      for (int c = 0; c < hd; ++c)
        dot += double(cap.qkv[size_t(i) * stride + q_off + c]) * cap.qkv[size_t(j) * stride + k_off + c];
      row.push_back(r4(dot));
    }
    scores.push_back(std::move(row));
  }
  // The backend's probabilities (full rows) and the head's output: sum_j p_ij v_j.
  json probs = json::array(), output = json::array();
  for (int i = 0; i < T; ++i) {
    json prow = json::array();
    std::vector<double> o(size_t(hd), 0.0);
    for (int j = 0; j < cap.keys; ++j) {
      const double p = cap.probs[size_t(i) * cap.keys + j];
      prow.push_back(r4(p));
      if (!cfg.identity_value)
        for (int c = 0; c < hd; ++c) o[size_t(c)] += p * cap.qkv[size_t(j) * stride + v_off + c];
    }
    probs.push_back(std::move(prow));
    json orow = json::array();
    for (double v : o) orow.push_back(r4(v));
    output.push_back(std::move(orow));
  }
  json out = {{"layer", cap.layer}, {"member", cap.member}, {"iteration", cap.iteration},
              {"head", r.head}, {"kv_head", kv_head}, {"head_dim", hd}, {"scale", scale},
              {"causal", cfg.causal}, {"rope", cfg.positions == Positions::Rope},
              {"shaped", cfg.shaped_attention},
              {"tokens", s.tokens_json(ids)},
              {"q", rows_of(cap.qkv, T, stride, q_off, hd)}, {"k", rows_of(cap.qkv, T, stride, k_off, hd)},
              {"scores", std::move(scores)}, {"probs", std::move(probs)}};
  // With an identity value (trained sas/sasp blocks) V is the attention input, not in qkv.
  if (!cfg.identity_value) {
    out["v"] = rows_of(cap.qkv, T, stride, v_off, hd);
    out["output"] = std::move(output);
  }
  return out;
}

}  // namespace layerlab::server
