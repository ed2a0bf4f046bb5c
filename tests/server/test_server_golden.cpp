// The explainer's numbers against independent references, on the tiny golden models of
// ../shared/golden (Hugging Face transformers, float64):
// - residual norms per step, next-token surprisal, final logits and probabilities come straight
//   from the golden tensors (probabilities at a temperature are computed here from HF logits);
// - attention probabilities and Q/K/V norms are computed by hand in this file from the
//   checkpoint's raw GPT-2 weights (LayerNorm, c_attn, causal softmax), with each step's input
//   taken from HF's golden residual stream, so every plan step's trace is checked on its own.
// Tolerances: the API rounds attention to 1e-4, norms to 1e-3, logits to 1e-4; float32 vs
// float64 adds ~1e-5 relative. Checks use rounding + 1e-4 relative slack.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "layerlab/safetensors.h"
#include "server_fixture.h"
#include "trained_blocks.h"

namespace layerlab::testing {
namespace {

struct Gpt2Weights {
  int d = 0, heads = 0;
  double eps = 1e-5;
  SafetensorsFile file;
  explicit Gpt2Weights(const std::string& dir) : file(dir + "/model.safetensors") {
    auto cfg = json::parse(read_text_file(dir + "/config.json"));
    d = cfg["n_embd"], heads = cfg["n_head"];
    eps = cfg.value("layer_norm_epsilon", 1e-5);
  }
  std::vector<float> t(const std::string& n) const { return file.read_f32("transformer." + n); }
};

// Hand-written GPT-2 attention of `layer` on input rows x [T, d]: probs[h][q][k] and the q/k/v
// vectors [T, 3d] (before the head split).
void hand_attention(const Gpt2Weights& w, int layer, const std::vector<float>& x, int T,
                    std::vector<std::vector<std::vector<double>>>& probs, std::vector<double>& qkv) {
  const int d = w.d, H = w.heads, hd = d / H;
  const std::string p = "h." + std::to_string(layer) + ".";
  const auto g = w.t(p + "ln_1.weight"), b = w.t(p + "ln_1.bias"), W = w.t(p + "attn.c_attn.weight"),
             bias = w.t(p + "attn.c_attn.bias");
  qkv.assign(size_t(T) * 3 * d, 0.0);
  for (int r = 0; r < T; ++r) {
    double mean = 0, var = 0;
    for (int i = 0; i < d; ++i) mean += x[r * d + i];
    mean /= d;
    for (int i = 0; i < d; ++i) var += (x[r * d + i] - mean) * (x[r * d + i] - mean);
    var /= d;
    std::vector<double> h(d);
    for (int i = 0; i < d; ++i) h[i] = (x[r * d + i] - mean) / std::sqrt(var + w.eps) * g[i] + b[i];
    for (int j = 0; j < 3 * d; ++j) {  // Conv1D: W is [d, 3d]
      double s = bias[j];
      for (int i = 0; i < d; ++i) s += h[i] * W[size_t(i) * 3 * d + j];
      qkv[size_t(r) * 3 * d + j] = s;
    }
  }
  probs.assign(H, std::vector<std::vector<double>>(T));
  for (int hh = 0; hh < H; ++hh)
    for (int q = 0; q < T; ++q) {
      std::vector<double> s(q + 1);
      double mx = -1e300, z = 0;
      for (int k = 0; k <= q; ++k) {
        double dot = 0;
        for (int i = 0; i < hd; ++i) dot += qkv[size_t(q) * 3 * d + hh * hd + i] * qkv[size_t(k) * 3 * d + d + hh * hd + i];
        s[k] = dot / std::sqrt(double(hd));
        mx = std::max(mx, s[k]);
      }
      for (auto& v : s) z += (v = std::exp(v - mx));
      for (auto& v : s) v /= z;
      probs[hh][q] = s;
    }
}

double row_norm(const double* v, int n) {
  double s = 0;
  for (int i = 0; i < n; ++i) s += v[i] * v[i];
  return std::sqrt(s);
}

TEST(ServerGolden, Gpt2TinyEveryPlanMatchesHuggingFaceAndHandAttention) {
  const std::string dir = shared_dir() + "/golden/gpt2-tiny";
  ServerUnderTest srv(dir);
  Gpt2Weights w(dir);
  SafetensorsFile golden(dir + "/golden.safetensors");
  const int d = w.d, H = w.heads, hd = d / H;
  const auto wte = w.t("wte.weight"), wpe = w.t("wpe.weight");
  const double temperature = 0.7;
  for (const GoldenCase& c : golden_cases("gpt2-tiny")) {
    SCOPED_TRACE(c.key + " plan " + c.plan_text);
    std::vector<int> ids;
    for (int64_t id : golden.read_i64(c.key + ".input_ids")) ids.push_back(int(id));
    const int T = int(ids.size());
    auto [code, j] = srv.post("/api/forward", json{{"ids", ids}, {"plan", {{"steps", c.steps}}}, {"top_k", 5},
                                                   {"temperature", temperature}, {"lens_k", 1}});
    ASSERT_EQ(code, 200) << j.dump();
    ASSERT_EQ(j["steps"].size(), c.steps.size());
    // Embedding: token + position rows.
    std::vector<float> x(size_t(T) * d);
    for (int t = 0; t < T; ++t)
      for (int i = 0; i < d; ++i) {
        x[t * d + i] = wte[size_t(ids[t]) * d + i] + wpe[size_t(t) * d + i];
        EXPECT_NEAR(j["embedding"]["vectors"][t][i].get<double>(), x[t * d + i], 6e-4);
      }
    for (size_t k = 0; k < c.steps.size(); ++k) {
      const json& st = j["steps"][k];
      SCOPED_TRACE("step " + std::to_string(k + 1));
      // Attention of every layer application that reads this step's input (iteration 0).
      for (const json& a : st["applications"]) {
        if (a["iteration"] != 0) continue;
        std::vector<std::vector<std::vector<double>>> probs;
        std::vector<double> qkv;
        hand_attention(w, a["layer"], x, T, probs, qkv);
        for (int h = 0; h < H; ++h)
          for (int q = 0; q < T; ++q) {
            ASSERT_EQ(a["attention"][h][q].size(), size_t(q + 1));
            for (int kk = 0; kk <= q; ++kk)
              ASSERT_NEAR(a["attention"][h][q][kk].get<double>(), probs[h][q][kk], 5e-5 + 1e-4 * probs[h][q][kk])
                  << "layer " << a["layer"] << " head " << h << " q " << q << " k " << kk;
            const double qn = row_norm(qkv.data() + size_t(q) * 3 * d + h * hd, hd);
            const double kn = row_norm(qkv.data() + size_t(q) * 3 * d + d + h * hd, hd);
            const double vn = row_norm(qkv.data() + size_t(q) * 3 * d + 2 * d + h * hd, hd);
            EXPECT_NEAR(a["q_norm"][q][h].get<double>(), qn, 5e-4 + 1e-4 * qn);
            EXPECT_NEAR(a["k_norm"][q][h].get<double>(), kn, 5e-4 + 1e-4 * kn);
            EXPECT_NEAR(a["v_norm"][q][h].get<double>(), vn, 5e-4 + 1e-4 * vn);
          }
      }
      // The residual stream after this step (HF), which is also the next step's input.
      x = golden.read_f32(c.key + ".resid." + std::to_string(k + 1));
      for (int t = 0; t < T; ++t) {
        double n = 0;
        for (int i = 0; i < d; ++i) n += double(x[t * d + i]) * x[t * d + i];
        n = std::sqrt(n);
        EXPECT_NEAR(st["resid_norm"][t].get<double>(), n, 5e-4 + 1e-4 * n);
      }
    }
    // Next-token surprisal = -log p from HF.
    const auto lp = golden.read_f32(c.key + ".logprobs_next");
    ASSERT_EQ(j["surprisal"].size(), lp.size());
    for (size_t t = 0; t < lp.size(); ++t)
      EXPECT_NEAR(j["surprisal"][t].get<double>(), -lp[t], 5e-5 + 1e-4 * std::fabs(lp[t]));
    // Final distribution at the temperature, from HF's last-position logits.
    const auto logits = golden.read_f32(c.key + ".logits_last");
    const int V = int(logits.size() / 2);
    const float* last = logits.data() + V;
    double mx = *std::max_element(last, last + V), z = 0;
    for (int i = 0; i < V; ++i) z += std::exp((last[i] - mx) / temperature);
    std::vector<int> order(V);
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + 5, order.end(), [&](int a, int b) { return last[a] > last[b]; });
    for (int r = 0; r < 5; ++r) {
      const json& e = j["final"]["top"][r];
      EXPECT_EQ(e["id"].get<int>(), order[r]) << "rank " << r;
      EXPECT_NEAR(e["logit"].get<double>(), last[order[r]], 5e-5 + 1e-4 * std::fabs(last[order[r]]));
      const double p = std::exp((last[order[r]] - mx) / temperature) / z;
      EXPECT_NEAR(e["prob"].get<double>(), p, 1e-4 * p + 1e-7);
    }
  }
}

// /api/head (the step-by-step attention view) and the embedding's parts, against the hand
// attention on HF's residual stream: Q, K, V vectors, raw scores q.k, the 1/sqrt(hd) scale, the
// causal softmax and the head output sum_j p_ij v_j, for every step and head of two plans.
TEST(ServerGolden, Gpt2TinyHeadDetailMatchesHandAttention) {
  const std::string dir = shared_dir() + "/golden/gpt2-tiny";
  ServerUnderTest srv(dir);
  Gpt2Weights w(dir);
  SafetensorsFile golden(dir + "/golden.safetensors");
  const int d = w.d, H = w.heads, hd = d / H;
  const auto wte = w.t("wte.weight"), wpe = w.t("wpe.weight");
  int checked = 0;
  for (const GoldenCase& c : golden_cases("gpt2-tiny")) {
    if (c.key != "full.1" && c.key != "parallel.1") continue;
    SCOPED_TRACE(c.key);
    std::vector<int> ids;
    for (int64_t id : golden.read_i64(c.key + ".input_ids")) ids.push_back(int(id));
    const int T = int(ids.size());
    const json plan = {{"steps", c.steps}};
    auto [fc, fj] = srv.post("/api/forward", json{{"ids", ids}, {"plan", plan}, {"lens_k", 0}, {"attention", false}});
    ASSERT_EQ(fc, 200) << fj.dump();
    const json& emb = fj["embedding"];
    EXPECT_EQ(emb["positions"], "learned");
    for (int t = 0; t < T; ++t)
      for (int i = 0; i < d; ++i) {
        EXPECT_NEAR(emb["token_vectors"][t][i].get<double>(), wte[size_t(ids[t]) * d + i], 6e-4);
        EXPECT_NEAR(emb["position_vectors"][t][i].get<double>(), wpe[size_t(t) * d + i], 6e-4);
      }
    std::vector<float> x(size_t(T) * d);
    for (int t = 0; t < T; ++t)
      for (int i = 0; i < d; ++i) x[t * d + i] = wte[size_t(ids[t]) * d + i] + wpe[size_t(t) * d + i];
    for (size_t k = 0; k < c.steps.size(); ++k) {
      const json& st = fj["steps"][k];
      for (size_t a = 0; a < st["applications"].size(); ++a) {
        const json& app = st["applications"][a];
        if (app["iteration"] != 0) continue;
        std::vector<std::vector<std::vector<double>>> probs;
        std::vector<double> qkv;
        hand_attention(w, app["layer"], x, T, probs, qkv);
        for (int h = 0; h < H; ++h) {
          auto [code, j] = srv.post("/api/head", json{{"ids", ids}, {"plan", plan}, {"step", k}, {"application", a}, {"head", h}});
          ASSERT_EQ(code, 200) << j.dump();
          ASSERT_EQ(j["layer"], app["layer"]);
          EXPECT_DOUBLE_EQ(j["scale"].get<double>(), 1.0 / std::sqrt(double(hd)));
          for (int q = 0; q < T; ++q) {
            const double* row = qkv.data() + size_t(q) * 3 * d;
            for (int i = 0; i < hd; ++i) {
              ASSERT_NEAR(j["q"][q][i].get<double>(), row[h * hd + i], 2e-4 + 1e-4 * std::fabs(row[h * hd + i]));
              ASSERT_NEAR(j["k"][q][i].get<double>(), row[d + h * hd + i], 2e-4 + 1e-4 * std::fabs(row[d + h * hd + i]));
              ASSERT_NEAR(j["v"][q][i].get<double>(), row[2 * d + h * hd + i], 2e-4 + 1e-4 * std::fabs(row[2 * d + h * hd + i]));
            }
            for (int kk = 0; kk < T; ++kk) {
              double dot = 0;
              for (int i = 0; i < hd; ++i) dot += row[h * hd + i] * qkv[size_t(kk) * 3 * d + d + h * hd + i];
              ASSERT_NEAR(j["scores"][q][kk].get<double>(), dot, 2e-4 + 1e-4 * std::fabs(dot)) << "q " << q << " k " << kk;
              const double p = kk <= q ? probs[h][q][kk] : 0.0;  // causal: masked keys get 0
              ASSERT_NEAR(j["probs"][q][kk].get<double>(), p, 5e-5 + 1e-4 * p);
            }
            for (int i = 0; i < hd; ++i) {
              double o = 0;
              for (int kk = 0; kk <= q; ++kk) o += probs[h][q][kk] * qkv[size_t(kk) * 3 * d + 2 * d + h * hd + i];
              ASSERT_NEAR(j["output"][q][i].get<double>(), o, 2e-4 + 1e-4 * std::fabs(o));
            }
          }
          ++checked;
        }
      }
      x = golden.read_f32(c.key + ".resid." + std::to_string(k + 1));
    }
  }
  EXPECT_GE(checked, 6 * 4 * 2);
  // Out-of-range selections are 400s naming the field.
  for (const auto& [field, value] : {std::pair{"step", 99}, {"application", 5}, {"head", 4}}) {
    json body = {{"ids", {1, 2, 3}}, {field, value}};
    auto [code, j] = srv.post("/api/head", body);
    EXPECT_EQ(code, 400) << j.dump();
    EXPECT_NE(j["error"].get<std::string>().find(field), std::string::npos) << j.dump();
  }
}

// The explainer reads text with the model's BOS policy, as the CLI does (layerlab/bos_policy.h):
// a Llama folder whose tokenizer_config.json says add_bos_token false gets no BOS, and
// /api/info says so.
TEST(ServerGolden, TextFollowsTheModelsBosPolicy) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("layerlab_server_bos_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::copy(shared_dir() + "/golden/llama-tiny", dir, fs::copy_options::recursive);
  std::ofstream(dir / "tokenizer_config.json", std::ios::trunc) << R"({"add_bos_token": false})";
  {
    ServerUnderTest srv(dir.string());
    auto [code, j] = srv.post("/api/forward", json{{"text", "def f(x): return x"}});
    ASSERT_EQ(code, 200) << j.dump();
    EXPECT_NE(j["tokens"][0]["id"], 1);
    auto info = srv.client().Get("/api/info");
    ASSERT_TRUE(info);
    EXPECT_EQ(json::parse(info->body)["default_add_special"], false);
  }
  fs::remove_all(dir);
}

TEST(ServerGolden, OtherFamiliesServe) {
  {  // Llama: RoPE, grouped-query attention (2 key/value heads for 4 query heads).
    ServerUnderTest srv(shared_dir() + "/golden/llama-tiny");
    auto [code, j] = srv.post("/api/forward", json{{"text", "def f(x): return x"}, {"plan", {{"variant", "skip"}, {"n", 2}}}});
    ASSERT_EQ(code, 200) << j.dump();
    EXPECT_EQ(j["tokens"][0]["id"], 1);  // BOS by default for SentencePiece models
    EXPECT_EQ(j["steps"][0]["applications"][0]["k_norm"][0].size(), 2u);
    EXPECT_EQ(j["steps"][0]["applications"][0]["q_norm"][0].size(), 4u);
    // No position vector: RoPE, with the config's base.
    const json cfg = json::parse(read_text_file(shared_dir() + "/golden/llama-tiny/config.json"));
    const double theta = cfg.contains("rope_parameters") ? cfg["rope_parameters"]["rope_theta"].get<double>() : cfg["rope_theta"].get<double>();
    EXPECT_EQ(j["embedding"]["positions"], "rope");
    EXPECT_TRUE(j["embedding"]["position_vectors"].empty());
    EXPECT_DOUBLE_EQ(j["embedding"]["rope_theta"].get<double>(), theta);
    // /api/head under grouped-query attention: query head 3 reads key/value head 3 / (4 / 2) = 1;
    // the causal softmax of its scores / sqrt(head_dim) is the model's attention of that head.
    auto [hc, h] = srv.post("/api/head", json{{"text", "def f(x): return x"}, {"step", 1}, {"head", 3}});
    ASSERT_EQ(hc, 200) << h.dump();
    EXPECT_EQ(h["kv_head"], 1);
    EXPECT_TRUE(h["rope"].get<bool>());
    const int hd = cfg["hidden_size"].get<int>() / cfg["num_attention_heads"].get<int>();
    EXPECT_DOUBLE_EQ(h["scale"].get<double>(), 1.0 / std::sqrt(double(hd)));
    const size_t T = h["tokens"].size();
    for (size_t q = 0; q < T; ++q) {
      double mx = -1e300, z = 0;
      for (size_t k = 0; k <= q; ++k) mx = std::max(mx, h["scores"][q][k].get<double>() * h["scale"].get<double>());
      for (size_t k = 0; k <= q; ++k) z += std::exp(h["scores"][q][k].get<double>() * h["scale"].get<double>() - mx);
      for (size_t k = 0; k < T; ++k) {
        const double p = k <= q ? std::exp(h["scores"][q][k].get<double>() * h["scale"].get<double>() - mx) / z : 0.0;
        EXPECT_NEAR(h["probs"][q][k].get<double>(), p, 2e-3) << q << " " << k;
      }
    }
    auto [gc, g] = srv.post("/api/generate", json{{"text", "x"}, {"max_tokens", 3}, {"stop_at_eos", false}});
    EXPECT_EQ(gc, 200);
  }
  {  // BERT: bidirectional attention (full rows), no generation.
    ServerUnderTest srv(shared_dir() + "/golden/bert-tiny");
    auto [code, j] = srv.post("/api/forward", json{{"text", "the cat sat"}});
    ASSERT_EQ(code, 200) << j.dump();
    const size_t T = j["tokens"].size();
    EXPECT_EQ(j["tokens"][0]["text"], "[CLS]");
    EXPECT_EQ(j["steps"][0]["applications"][0]["attention"][0][0].size(), T);
    auto [gc, g] = srv.post("/api/generate", json{{"text", "x"}});
    EXPECT_EQ(gc, 400);
    EXPECT_NE(g["error"].get<std::string>().find("not a decoder"), std::string::npos);
  }
}

// A model in `layerlab train`'s own format (sasp without norms: shaped attention, identity
// value, no skips) serves too; it has no tokenizer files, so requests give token ids. Shaped
// attention shows its softmax part (rows sum to 1); the logit lens's last step is the output.
TEST(ServerGolden, TrainedSaspServes) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("layerlab_srv_sasp_" + std::to_string(::getpid()))).string();
  train::Transformer<float> m(tiny_shape({BlockKind::SASP, false}));
  perturbed_init(m, 5);
  write_layerlab_folder(m, dir);
  {
    ServerUnderTest srv(dir);
    const std::vector<int> ids = {3, 14, 15, 92, 65, 35};
    auto [code, j] = srv.post("/api/forward", json{{"ids", ids}, {"plan", "0,[1,2]x2"}});
    ASSERT_EQ(code, 200) << j.dump();
    ASSERT_EQ(j["steps"].size(), 2u);
    const json& att = j["steps"][1]["applications"][0]["attention"];
    ASSERT_EQ(att.size(), 4u);  // heads
    for (const auto& head : att)
      for (const auto& row : head) {
        double sum = 0;
        for (const auto& p : row) sum += p.get<double>();
        EXPECT_NEAR(sum, 1.0, 1e-3);  // rounded to 4 decimals per entry
      }
    auto [gc, g] = srv.post("/api/generate", json{{"ids", ids}, {"max_tokens", 3}, {"temperature", 0}});
    EXPECT_EQ(gc, 200) << g.dump();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace layerlab::testing
