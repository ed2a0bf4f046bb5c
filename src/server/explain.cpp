#include "explain.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

#include "util/fast_math.h"
#include "layerlab/generate.h"

namespace layerlab::server {

namespace {

// Rounded values keep responses small (nlohmann prints the shortest round-trip form).
double round_to(double x, double scale) { return std::round(x * scale) / scale; }
double r4(double x) { return round_to(x, 1e4); }
double r3(double x) { return round_to(x, 1e3); }

double norm(const float* v, int n) {
  double s = 0;
  for (int i = 0; i < n; ++i) s += double(v[i]) * v[i];
  return std::sqrt(s);
}

// Indices of the k largest values (descending; ties by lower index).
std::vector<int> top_indices(const float* v, int n, int k) {
  k = std::min(k, n);
  std::vector<int> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                    [&](int a, int b) { return v[a] > v[b] || (v[a] == v[b] && a < b); });
  idx.resize(k);
  return idx;
}

// log-sum-exp of a row (for exact probabilities without materialising them). Runs for every
// position of every step (the logit lens), so it is written to vectorise: 16 float partial
// sums of a polynomial exp, combined in double.
double log_sum_exp(const float* v, int n) {
  const float mx = *std::max_element(v, v + n);
  float acc[16] = {};
  int i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) acc[j] += fastmath::fast_exp(v[i + j] - mx);
  double s = 0;
  for (; i < n; ++i) s += std::exp(double(v[i]) - mx);
  for (float a : acc) s += a;
  return mx + std::log(s);
}

// The k largest entries (descending; ties by lower index) in one pass, for small k.
std::vector<int> top_small(const float* v, int n, int k) {
  k = std::min(k, n);
  std::vector<int> top;
  top.reserve(k + 1);
  for (int i = 0; i < n; ++i) {
    if (int(top.size()) == k && v[i] <= v[top.back()]) continue;
    auto pos = std::upper_bound(top.begin(), top.end(), i, [&](int a, int b) { return v[a] > v[b]; });
    top.insert(pos, i);
    if (int(top.size()) > k) top.pop_back();
  }
  return top;
}

// Collects one JSON summary per layer application while the backend runs a step.
class TraceCollector : public Inspector {
 public:
  TraceCollector(const ModelConfig& cfg, const ExplainOptions& o) : cfg_(cfg), o_(o) {}
  std::vector<json> apps;  // of the current step; moved out after each step

  void on_layer(const LayerTrace& t) override {
    const int T = t.tokens, H = cfg_.n_head, KV = cfg_.n_kv_head, hd = cfg_.head_dim;
    json a = {{"layer", t.layer}, {"member", t.member}, {"iteration", t.iteration}};
    if (o_.attention) {
      // [head][query][key]; causal rows keep only keys <= query (the rest are exactly 0).
      json heads = json::array();
      for (int h = 0; h < H; ++h) {
        json rows = json::array();
        for (int q = 0; q < T; ++q) {
          const float* p = t.attn_probs + (size_t(h) * T + q) * t.keys;
          const int n = cfg_.causal ? q + 1 : t.keys;
          json row = json::array();
          for (int k = 0; k < n; ++k) row.push_back(r4(p[k]));
          rows.push_back(std::move(row));
        }
        heads.push_back(std::move(rows));
      }
      a["attention"] = std::move(heads);
    }
    // Attention entropy per head and query: how spread out each head looks.
    json ent = json::array();
    for (int h = 0; h < H; ++h) {
      json e = json::array();
      for (int q = 0; q < T; ++q) {
        const float* p = t.attn_probs + (size_t(h) * T + q) * t.keys;
        double s = 0;
        for (int k = 0; k < t.keys; ++k)
          if (p[k] > 0) s -= double(p[k]) * std::log(double(p[k]));
        e.push_back(r3(s));
      }
      ent.push_back(std::move(e));
    }
    a["attn_entropy"] = std::move(ent);
    // Q/K/V: the norm of each head's vector at each token ([token][head]).
    const int qkvd = cfg_.qkv_dim();
    auto head_norms = [&](int offset, int heads) {
      json out = json::array();
      for (int tok = 0; tok < T; ++tok) {
        json row = json::array();
        for (int h = 0; h < heads; ++h) row.push_back(r3(norm(t.qkv + size_t(tok) * qkvd + offset + h * hd, hd)));
        out.push_back(std::move(row));
      }
      return out;
    };
    a["q_norm"] = head_norms(0, H);
    a["k_norm"] = head_norms(cfg_.q_dim(), KV);
    a["v_norm"] = head_norms(cfg_.q_dim() + cfg_.kv_dim(), KV);
    // MLP: per token mean |activation| and share of positive units; the most active neurons.
    const int ff = cfg_.d_ff;
    json mean_abs = json::array(), active = json::array();
    std::vector<float> peak(ff, 0.0f);
    for (int tok = 0; tok < T; ++tok) {
      const float* v = t.mlp_act + size_t(tok) * ff;
      double s = 0;
      int pos = 0;
      for (int i = 0; i < ff; ++i) {
        s += std::fabs(v[i]);
        pos += v[i] > 0;
        peak[i] = std::max(peak[i], std::fabs(v[i]));
      }
      mean_abs.push_back(r4(s / ff));
      active.push_back(r4(double(pos) / ff));
    }
    const std::vector<int> top = top_indices(peak.data(), ff, o_.mlp_neurons);
    json values = json::array();
    for (int i : top) {
      json row = json::array();
      for (int tok = 0; tok < T; ++tok) row.push_back(r3(t.mlp_act[size_t(tok) * ff + i]));
      values.push_back(std::move(row));
    }
    a["mlp"] = {{"mean_abs", std::move(mean_abs)}, {"active_frac", std::move(active)},
                {"neurons", top}, {"values", std::move(values)}};
    json out_norm = json::array();
    for (int tok = 0; tok < T; ++tok) out_norm.push_back(r3(norm(t.output + size_t(tok) * cfg_.d_model, cfg_.d_model)));
    a["out_norm"] = std::move(out_norm);
    apps.push_back(std::move(a));
  }

 private:
  const ModelConfig& cfg_;
  const ExplainOptions& o_;
};

// Clears the backend's inspector however the forward pass ends.
struct InspectorScope {
  Backend& b;
  InspectorScope(Backend& backend, Inspector* i) : b(backend) { b.set_inspector(i); }
  ~InspectorScope() { b.set_inspector(nullptr); }
};

std::string step_label(const PlanStep& s) {
  if (!s.is_group()) return "L" + std::to_string(s.layers[0]);
  return plan_to_text(Plan{{s}});
}

json plan_json(const Plan& plan) {
  json steps = json::array();
  for (const auto& s : plan.steps)
    steps.push_back({{"label", step_label(s)}, {"layers", s.layers}, {"iterations", s.iterations}});
  return {{"text", plan_to_text(plan)}, {"steps", std::move(steps)}, {"applications", plan_applications(plan)}};
}

}  // namespace

json distribution_json(const ModelSession& s, const float* logits, int vocab, double temperature, int top_k) {
  const std::vector<float> p = softmax_with_temperature(logits, vocab, temperature);
  double ent = 0;
  for (float v : p)
    if (v > 0) ent -= double(v) * std::log(double(v));
  json top = json::array();
  for (int i : top_indices(logits, vocab, top_k))
    top.push_back({{"id", i}, {"text", s.token_text(i)}, {"logit", r4(logits[i])}, {"prob", double(p[i])}});
  return {{"temperature", temperature}, {"top", std::move(top)}, {"entropy", r4(ent)}};
}

json explain_forward(ModelSession& s, const Plan& plan, const std::vector<int32_t>& ids, const ExplainOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const ModelConfig& cfg = s.config();
  const int d = cfg.d_model, vocab = cfg.vocab, T = static_cast<int>(ids.size());
  Backend& b = s.backend();
  TraceCollector collector(cfg, o);
  InspectorScope scope(b, b.supports_inspection() ? &collector : nullptr);

  json out;
  out["tokens"] = s.tokens_json(ids);
  out["plan"] = plan_json(plan);
  out["causal"] = cfg.causal;

  auto x = s.runner().embed(ids, 1);
  std::vector<float> prev = x->to_host();
  {
    // The input vector and its parts: the token's row of the embedding table and, with learned
    // positions, the position's row (Llama has none: RoPE rotates Q and K inside attention).
    json vec = json::array(), nrm = json::array(), tok_n = json::array(), pos_n = json::array();
    json tok_v = json::array(), pos_v = json::array();
    const ModelWeights& w = s.model().weights();
    auto row_of = [](const float* v, int n) {
      json row = json::array();
      for (int i = 0; i < n; ++i) row.push_back(r3(v[i]));
      return row;
    };
    for (int t = 0; t < T; ++t) {
      const float* v = prev.data() + size_t(t) * d;
      vec.push_back(row_of(v, d));
      nrm.push_back(r3(norm(v, d)));
      // Embedding rows in whatever type the weights are stored in.
      auto add_row = [&](const Param& table, int64_t r, json& norms, json& vectors) {
        std::vector<float> e(size_t(table.cols));
        dequantize_rows(table, r, 1, e.data());
        norms.push_back(r3(norm(e.data(), int(table.cols))));
        vectors.push_back(row_of(e.data(), int(table.cols)));
      };
      if (w.tok_emb) add_row(w.tok_emb, ids[t], tok_n, tok_v);
      if (w.pos_emb) add_row(w.pos_emb, t, pos_n, pos_v);
    }
    const bool rope = cfg.positions == Positions::Rope;
    out["embedding"] = {{"vectors", std::move(vec)}, {"norm", std::move(nrm)}, {"token_norm", std::move(tok_n)},
                        {"position_norm", std::move(pos_n)}, {"token_vectors", std::move(tok_v)},
                        {"position_vectors", std::move(pos_v)}, {"positions", rope ? "rope" : "learned"},
                        {"rope_theta", rope ? cfg.rope.theta : 0.0}, {"rope_type", rope ? cfg.rope.type : ""}};
  }

  json steps = json::array();
  json final_dist, surprisal = json::array();
  std::vector<float> lens_rows;   // final-normed residuals of the lens steps, [steps * T, d]
  std::vector<size_t> lens_steps;
  const size_t last = plan.steps.size() - 1;
  s.runner().run(plan, *x, 0, SIZE_MAX, nullptr, [&](size_t k, const Hidden& h) {
    const PlanStep& st = plan.steps[k];
    json step = {{"index", k}, {"label", step_label(st)}, {"layers", st.layers}, {"iterations", st.iterations}};
    const std::vector<float> cur = h.to_host();
    json rn = json::array(), dn = json::array(), cp = json::array();
    for (int t = 0; t < T; ++t) {
      const float* a = prev.data() + size_t(t) * d;
      const float* c = cur.data() + size_t(t) * d;
      double dd = 0, ab = 0, aa = 0, cc = 0;
      for (int i = 0; i < d; ++i) {
        dd += double(c[i] - a[i]) * (c[i] - a[i]);
        ab += double(a[i]) * c[i], aa += double(a[i]) * a[i], cc += double(c[i]) * c[i];
      }
      rn.push_back(r3(std::sqrt(cc)));
      dn.push_back(r3(std::sqrt(dd)));
      cp.push_back(aa > 0 && cc > 0 ? r4(ab / std::sqrt(aa * cc)) : 0.0);
    }
    step["resid_norm"] = std::move(rn);
    step["delta_norm"] = std::move(dn);
    step["cos_prev"] = std::move(cp);
    prev = cur;
    // Logit lens: the final norm now (on the backend), the head later for all steps at once.
    if (o.lens_k > 0 || k == last) {
      const std::vector<float> n = b.final_norm(h)->to_host();
      lens_rows.insert(lens_rows.end(), n.begin(), n.end());
      lens_steps.push_back(k);
    }
    step["applications"] = std::move(collector.apps);
    collector.apps.clear();
    steps.push_back(std::move(step));
  });
  // The head over every lens row in a few large products on the backend (a CPU product packs
  // the [vocab, d] head once per call, which dominated when each step had its own product).
  const int64_t rows = int64_t(lens_steps.size()) * T;
  const int64_t chunk = std::max<int64_t>(1, (32ll << 20) / (int64_t(vocab) * 4));
  std::vector<float> logits;
  std::vector<json> lens(lens_steps.size(), json::array());
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const int64_t n = std::min(chunk, rows - r0);
    logits.resize(size_t(n) * vocab);
    const auto rows_in = b.from_host(lens_rows.data() + r0 * d, 1, int(n), d);
    b.logits(*rows_in, 0, n, logits.data());
    // Per-row reductions in parallel; the JSON is built serially below.
    std::vector<double> lse_rows(n);
    std::vector<std::vector<int>> top_rows(n);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      lse_rows[i] = log_sum_exp(logits.data() + i * vocab, vocab);
      if (o.lens_k > 0) top_rows[i] = top_small(logits.data() + i * vocab, vocab, o.lens_k);
    }
    for (int64_t i = 0; i < n; ++i) {
      const size_t li = size_t((r0 + i) / T);
      const int row = int((r0 + i) % T);
      const size_t k = lens_steps[li];
      const float* lg = logits.data() + i * vocab;
      const double lse = lse_rows[i];
      if (o.lens_k > 0) {
        json cell = json::array();
        for (int id : top_rows[i])
          cell.push_back({{"id", id}, {"text", s.token_text(id)}, {"prob", r4(std::exp(lg[id] - lse))}});
        lens[li].push_back(std::move(cell));
      }
      if (k != last) continue;
      if (row + 1 < T) surprisal.push_back(r4(lse - lg[ids[row + 1]]));
      if (row == T - 1) final_dist = distribution_json(s, lg, vocab, o.temperature, o.top_k);
    }
  }
  if (o.lens_k > 0)
    for (size_t li = 0; li < lens_steps.size(); ++li) steps[lens_steps[li]]["lens"] = std::move(lens[li]);
  out["steps"] = std::move(steps);
  final_dist["position"] = T - 1;
  out["final"] = std::move(final_dist);
  out["surprisal"] = std::move(surprisal);  // -log p(token t+1 | tokens <= t), nats
  out["inspection"] = b.supports_inspection();
  out["elapsed_ms"] =
      r3(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  return out;
}

json predict_next(ModelSession& s, const Plan& plan, const std::vector<int32_t>& ids, const PredictOptions& o) {
  const int vocab = s.config().vocab;
  auto x = s.runner().embed(ids, 1);
  s.runner().run(plan, *x);
  auto normed = s.backend().final_norm(*x);
  std::vector<float> lg(vocab);
  s.backend().logits(*normed, normed->rows() - 1, 1, lg.data());
  json out = distribution_json(s, lg.data(), vocab, o.temperature, o.top_k);
  out["position"] = int(ids.size()) - 1;
  if (o.sample) {
    SamplingParams sp;
    sp.temperature = o.temperature, sp.top_k = o.sample_top_k, sp.top_p = o.top_p, sp.seed = o.seed;
    std::mt19937_64 rng(o.seed);
    const int32_t tok = sample_token(lg.data(), vocab, sp, rng);
    out["sampled"] = {{"id", tok}, {"text", s.token_text(tok)}};
  }
  return out;
}

json compare_plans(ModelSession& s, const Plan& base, const Plan& plan, const std::vector<int32_t>& ids) {
  const int vocab = s.config().vocab, d = s.config().d_model, T = static_cast<int>(ids.size());
  Runner& r = s.runner();
  Backend& b = s.backend();
  // Prefix reuse: the steps both plans share run once.
  const size_t shared = common_prefix(base, plan);
  auto xa = r.embed(ids, 1);
  r.run(base, *xa, 0, shared);
  auto xb = xa->clone();
  r.run(base, *xa, shared);
  r.run(plan, *xb, shared);
  const std::vector<float> ha = xa->to_host(), hb = xb->to_host();
  auto na = b.final_norm(*xa), nb = b.final_norm(*xb);
  std::vector<float> la(vocab), lb(vocab);
  json kl = json::array(), agree = json::array(), cosine = json::array();
  double kl_sum = 0, agree_sum = 0, cos_sum = 0;
  for (int t = 0; t < T; ++t) {
    b.logits(*na, t, 1, la.data());
    b.logits(*nb, t, 1, lb.data());
    const double za = log_sum_exp(la.data(), vocab), zb = log_sum_exp(lb.data(), vocab);
    double k = 0;
    for (int i = 0; i < vocab; ++i) {
      const double lpa = la[i] - za, lpb = lb[i] - zb;
      k += std::exp(lpa) * (lpa - lpb);
    }
    k = std::max(0.0, k);
    const bool same = std::max_element(la.begin(), la.end()) - la.begin() ==
                      std::max_element(lb.begin(), lb.end()) - lb.begin();
    const float* u = ha.data() + size_t(t) * d;
    const float* v = hb.data() + size_t(t) * d;
    double uv = 0, uu = 0, vv = 0;
    for (int i = 0; i < d; ++i) uv += double(u[i]) * v[i], uu += double(u[i]) * u[i], vv += double(v[i]) * v[i];
    const double c = uu > 0 && vv > 0 ? uv / std::sqrt(uu * vv) : 0.0;
    kl.push_back(r4(k));
    agree.push_back(same);
    cosine.push_back(r4(c));
    kl_sum += k, agree_sum += same, cos_sum += c;
  }
  return {{"tokens", s.tokens_json(ids)},
          {"base", plan_json(base)},
          {"plan", plan_json(plan)},
          {"shared_steps", shared},
          {"kl", std::move(kl)},
          {"top1_agree", std::move(agree)},
          {"final_cosine", std::move(cosine)},
          {"mean_kl", r4(kl_sum / T)},
          {"top1_agreement", r4(agree_sum / T)},
          {"mean_final_cosine", r4(cos_sum / T)}};
}

}  // namespace layerlab::server
