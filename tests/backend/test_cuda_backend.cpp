// The CUDA backend against the golden cases (Hugging Face, float64) and against the CPU
// backend. Every test skips cleanly when no GPU is visible (CI compiles this, runs nothing).
// Tolerances (max |ours - ref| / max |ref| per tensor, tests/golden.h):
//   f32  1e-4  (the same bound as the CPU backend: float32 arithmetic, TF32 off);
//   f16  3e-2  (half-precision weights and GEMM inputs, 11 bits of mantissa; accumulators,
//               norms, softmax and the residual stream stay float32);
//   bf16 3e-2 for gpt2-tiny; 8e-2 for llama-tiny and bert-tiny. bf16 keeps 8 bits of mantissa
//               and these random models (initializer_range 0.2, sharp attention) amplify
//               rounding: Hugging Face itself in bf16 on the GPU lands at 0.077 (residuals) and
//               0.054 (last logits) from the float64 golden on llama-tiny's full-plan cases
//               (bench/cuda/hf_bf16_golden.py, H100); layerlab bf16 measured 0.070 / 0.035.
//               3e-2 is out of reach for any bf16 model there: rounding the WEIGHTS alone to
//               bf16 (everything else float64) already gives 0.044 on llama-tiny's residuals
//               and 0.035 on bert-tiny's final norm over all plans (bert's 0.039 is that final
//               norm, not the residuals; HF's 0.015 was measured on residuals only):
//               bench/cuda/bf16_error_budget.py, a float64 reimplementation that reproduces the
//               golden exactly when nothing is rounded.
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "layerlab/cuda_backend.h"
#include "layerlab/error.h"
#include "model/golden_check.h"
#ifdef LAYERLAB_HAVE_CUDA
#include "backend/cuda/flash_attention.h"
#endif

namespace layerlab::testing {
namespace {

// Float32 tensors of normal random values (mean + std * N(0, 1)), in the order they are added,
// from one seeded generator: a checkpoint that is the same on every run.
struct RandomTensors {
  explicit RandomTensors(unsigned seed) : rng(seed) {}
  void add(const std::string& name, std::vector<int64_t> shape, float mean, float std) {
    int64_t n = 1;
    for (auto s : shape) n *= s;
    std::vector<float> v(n);
    for (auto& x : v) x = mean + std * nd(rng);
    tensors.push_back({name, std::move(shape), std::move(v), {}, DType::F32});
  }
  std::mt19937 rng;
  std::normal_distribution<float> nd{0.0f, 1.0f};
  std::vector<OutTensor> tensors;
};

#define SKIP_WITHOUT_GPU() \
  if (!cuda_available()) GTEST_SKIP() << "no CUDA GPU visible (or built without CUDA)"

double tol_for(CudaDType t) { return t == CudaDType::F32 ? 1e-4 : 3e-2; }
double golden_tol(const std::string& model, CudaDType t) {
  if (t == CudaDType::BF16 && model != "gpt2-tiny") return 8e-2;
  return tol_for(t);
}

class GoldenCuda : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(GoldenCuda, MatchesHuggingFace) {
  SKIP_WITHOUT_GPU();
  const auto& [model_name, dtype] = GetParam();
  const std::string dir = shared_dir() + "/golden/" + model_name;
  if (!std::filesystem::exists(dir + "/cases.json")) GTEST_SKIP() << dir << " not present";
  auto model = load_model(dir);
  const CudaDType t = parse_cuda_dtype(dtype);
  auto backend = make_cuda_backend(*model, t);
  check_golden_model(model_name, *backend, *model, "json", golden_tol(model_name, t));
}

INSTANTIATE_TEST_SUITE_P(AllModels, GoldenCuda,
                         ::testing::Combine(::testing::Values("gpt2-tiny", "llama-tiny", "bert-tiny"),
                                            ::testing::Values("f32", "bf16", "f16")));

// Incremental decoding with the KV cache gives the rows of a full recompute (f32 and a looped
// parallel group, so cache slots per application are exercised).
TEST(CudaBackend, KvCacheMatchesFullRecompute) {
  SKIP_WITHOUT_GPU();
  const std::string dir = shared_dir() + "/golden/llama-tiny";
  if (!std::filesystem::exists(dir + "/config.json")) GTEST_SKIP() << dir << " not present";
  auto model = load_model(dir);
  auto backend = make_cuda_backend(*model, CudaDType::F32);
  Runner runner(*model, *backend);
  const Plan plan = parse_plan_text("0,1,[2,3]x2,4,5");
  const int B = 2, T = 20, T0 = 14;
  std::vector<int32_t> ids(B * T);
  for (int i = 0; i < B * T; ++i) ids[i] = (i * 7919 + 13) % model->config().vocab;
  auto full = runner.embed(ids, B, 0);
  runner.run(plan, *full);
  const std::vector<float> ref = full->to_host();

  auto kv = backend->make_cache(plan, B, T);
  auto slice = [&](int t0, int t1) {
    std::vector<int32_t> s;
    for (int b = 0; b < B; ++b)
      for (int t = t0; t < t1; ++t) s.push_back(ids[b * T + t]);
    return s;
  };
  const int d = model->config().d_model;
  auto x = backend->embed(slice(0, T0), B, T0, 0);
  runner.run(plan, *x, 0, SIZE_MAX, kv.get());
  kv->length = T0;
  for (int t = T0; t < T; ++t) {
    auto y = backend->embed(slice(t, t + 1), B, 1, t);
    runner.run(plan, *y, 0, SIZE_MAX, kv.get());
    kv->length = t + 1;
    const std::vector<float> got = y->to_host();
    for (int b = 0; b < B; ++b) {
      std::vector<float> g(got.begin() + b * d, got.begin() + (b + 1) * d);
      std::vector<float> r(ref.begin() + (int64_t(b) * T + t) * d, ref.begin() + (int64_t(b) * T + t + 1) * d);
      EXPECT_LE(max_rel_error(g, r), 1e-4) << "b=" << b << " t=" << t;
    }
  }
}

// A GPT-2-124M-shaped model (12 layers, d=768, 12 heads, 50257 vocab) with random weights:
// the CUDA backend (f32 and bf16) against the CPU backend, batch 2 x 128 tokens, for the
// full plan and a plan with a looped parallel group.
std::string write_gpt2_124m(const std::string& dir) {
  std::filesystem::create_directories(dir);
  const int d = 768, L = 12, V = 50257, P = 1024, ff = 4 * d;
  nlohmann::json cfg = {{"model_type", "gpt2"},      {"architectures", {"GPT2LMHeadModel"}},
                        {"n_embd", d},               {"n_layer", L},
                        {"n_head", 12},              {"n_positions", P},
                        {"vocab_size", V},           {"layer_norm_epsilon", 1e-5},
                        {"activation_function", "gelu_new"}, {"tie_word_embeddings", true},
                        {"bos_token_id", 50256},     {"eos_token_id", 50256},
                        {"n_inner", nullptr},        {"scale_attn_weights", true},
                        {"dtype", "float32"}};
  std::ofstream(dir + "/config.json") << cfg.dump(2);
  RandomTensors w(1234);
  w.add("transformer.wte.weight", {V, d}, 0, 0.02f);
  w.add("transformer.wpe.weight", {P, d}, 0, 0.01f);
  for (int l = 0; l < L; ++l) {
    const std::string p = "transformer.h." + std::to_string(l) + ".";
    w.add(p + "ln_1.weight", {d}, 1, 0.1f), w.add(p + "ln_1.bias", {d}, 0, 0.02f);
    w.add(p + "attn.c_attn.weight", {d, 3 * d}, 0, 0.02f), w.add(p + "attn.c_attn.bias", {3 * d}, 0, 0.02f);
    w.add(p + "attn.c_proj.weight", {d, d}, 0, 0.02f), w.add(p + "attn.c_proj.bias", {d}, 0, 0.02f);
    w.add(p + "ln_2.weight", {d}, 1, 0.1f), w.add(p + "ln_2.bias", {d}, 0, 0.02f);
    w.add(p + "mlp.c_fc.weight", {d, ff}, 0, 0.02f), w.add(p + "mlp.c_fc.bias", {ff}, 0, 0.02f);
    w.add(p + "mlp.c_proj.weight", {ff, d}, 0, 0.02f), w.add(p + "mlp.c_proj.bias", {d}, 0, 0.02f);
  }
  w.add("transformer.ln_f.weight", {d}, 1, 0.1f), w.add("transformer.ln_f.bias", {d}, 0, 0.02f);
  write_safetensors(dir + "/model.safetensors", w.tensors);
  return dir;
}

TEST(CudaBackend, Gpt2_124mShapedMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const std::string dir = write_gpt2_124m((std::filesystem::temp_directory_path() /
                                           ("layerlab_gpt2_124m_" + std::to_string(::getpid()))).string());
  auto model = load_model(dir);
  auto cpu = make_cpu_backend(*model);
  const int B = 2, T = 128;
  ForwardRequest req;
  req.batch = B;
  for (int i = 0; i < B * T; ++i) req.ids.push_back((i * 7919 + 5) % model->config().vocab);
  req.keep_residuals = true;
  req.all_logits = true;
  req.logprobs_next = true;
  for (const std::string plan_text : {"0-11", "0-2,[3-8],[9,10]x3,11"}) {
    const Plan plan = parse_plan_text(plan_text);
    ForwardResult ref = Runner(*model, *cpu).forward(plan, req);
    for (CudaDType t : {CudaDType::F32, CudaDType::BF16}) {
      SCOPED_TRACE(std::string(cuda_dtype_name(t)) + " plan " + plan_text);
      auto gpu = make_cuda_backend(*model, t);
      ForwardResult got = Runner(*model, *gpu).forward(plan, req);
      ASSERT_EQ(got.resid.size(), ref.resid.size());
      for (size_t k = 0; k < ref.resid.size(); ++k) EXPECT_LE(max_rel_error(got.resid[k], ref.resid[k]), tol_for(t)) << "resid " << k;
      EXPECT_LE(max_rel_error(got.final_norm, ref.final_norm), tol_for(t)) << "final_norm";
      EXPECT_LE(max_rel_error(got.logits, ref.logits), tol_for(t)) << "logits";
      EXPECT_LE(max_rel_error(got.logprobs_next, ref.logprobs_next), tol_for(t)) << "logprobs_next";
      // The device-side scoring path agrees with the host one.
      auto x = Runner(*model, *gpu).embed(req.ids, B);
      Runner(*model, *gpu).run(plan, *x);
      auto normed = gpu->final_norm(*x);
      std::vector<int32_t> targets(B * T, -1);
      for (int b = 0; b < B; ++b)
        for (int i = 0; i + 1 < T; ++i) targets[b * T + i] = req.ids[b * T + i + 1];
      std::vector<int64_t> rows(targets.size());
      for (size_t r = 0; r < rows.size(); ++r) rows[r] = int64_t(r);
      const std::vector<TargetScore> scores = gpu->target_scores(*normed, rows, targets);
      std::vector<float> lp;
      for (const TargetScore& sc : scores) lp.push_back(sc.logprob);
      if (t == CudaDType::F32) {  // the greedy flags as the host read-out computes them
        auto xc = Runner(*model, *cpu).embed(req.ids, B);
        Runner(*model, *cpu).run(plan, *xc);
        const std::vector<TargetScore> host = cpu->target_scores(*cpu->final_norm(*xc), rows, targets);
        for (size_t r = 0; r < rows.size(); ++r) EXPECT_EQ(scores[r].greedy, host[r].greedy) << "greedy flag of row " << r;
      }
      std::vector<float> lp_ref;
      for (int b = 0; b < B; ++b)
        for (int i = 0; i + 1 < T; ++i) lp_ref.push_back(ref.logprobs_next[b * (T - 1) + i]), (void)0;
      std::vector<float> lp_got;
      for (int b = 0; b < B; ++b)
        for (int i = 0; i + 1 < T; ++i) lp_got.push_back(lp[b * T + i]);
      EXPECT_LE(max_rel_error(lp_got, lp_ref), tol_for(t)) << "target_scores on the device";
    }
  }
  std::filesystem::remove_all(dir);
}

#ifdef LAYERLAB_HAVE_CUDA
// The flash attention kernel against a float64 reference on the same (bf16- / f16-rounded)
// inputs: sequence lengths that are not multiples of the 64-row / 64-key tiles, T = 1, GQA
// and MQA, a query offset into a longer key range (past > 0), non-causal, head_dim 64 and 128.
// Tolerance 1e-2 of max |ref|: P is rounded to the input type before P.V and the output is
// stored in it (8 bits of mantissa for bf16). Every output row must be written (NaN poison).
float round_to(float x, bool bf16) {
  if (bf16) {
    uint32_t u;
    std::memcpy(&u, &x, 4);
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;  // round to nearest even
    std::memcpy(&x, &u, 4);
    return x;
  }
  return static_cast<float>(static_cast<_Float16>(x));
}

struct FlashCase {
  int B, T, past, H, Hkv, hd;
  bool causal, bf16;
};

TEST(CudaFlashAttention, MatchesFloat64Reference) {
  SKIP_WITHOUT_GPU();
  const FlashCase cases[] = {
      {2, 77, 0, 4, 2, 128, true, true},   {1, 1, 0, 2, 2, 64, true, false},   {3, 130, 0, 4, 4, 64, false, true},
      {2, 64, 0, 8, 1, 128, true, false},  {1, 200, 37, 2, 1, 64, true, true}, {2, 513, 0, 2, 2, 128, true, true},
      {1, 5, 0, 3, 1, 128, false, false},  {1, 129, 0, 2, 1, 64, true, false},
  };
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (const FlashCase& c : cases) {
    const int keys = c.past + c.T;
    SCOPED_TRACE("B=" + std::to_string(c.B) + " T=" + std::to_string(c.T) + " past=" + std::to_string(c.past) +
                 " H=" + std::to_string(c.H) + "/" + std::to_string(c.Hkv) + " hd=" + std::to_string(c.hd) +
                 (c.causal ? " causal" : " full") + (c.bf16 ? " bf16" : " f16"));
    std::vector<float> q(size_t(c.B) * c.T * c.H * c.hd), k(size_t(c.B) * keys * c.Hkv * c.hd), v(k.size());
    for (auto& x : q) x = round_to(2.0f * nd(rng), c.bf16);  // sharp attention
    for (auto& x : k) x = round_to(nd(rng), c.bf16);
    for (auto& x : v) x = round_to(nd(rng), c.bf16);
    const std::vector<float> got =
        cuda_detail::flash_attention_host(q, k, v, c.B, c.T, c.past, keys, c.H, c.Hkv, c.hd, c.causal, c.bf16);
    std::vector<float> ref(q.size());
    const double scale = 1.0 / std::sqrt(double(c.hd));
    for (int b = 0; b < c.B; ++b)
      for (int h = 0; h < c.H; ++h) {
        const int g = h / (c.H / c.Hkv);
        for (int t = 0; t < c.T; ++t) {
          const float* qr = &q[((size_t(b) * c.T + t) * c.H + h) * c.hd];
          const int n = c.causal ? c.past + t + 1 : keys;
          std::vector<double> s(n);
          double mx = -INFINITY;
          for (int j = 0; j < n; ++j) {
            const float* kr = &k[((size_t(b) * keys + j) * c.Hkv + g) * c.hd];
            double acc = 0;
            for (int i = 0; i < c.hd; ++i) acc += double(qr[i]) * kr[i];
            s[j] = acc * scale, mx = std::max(mx, s[j]);
          }
          double sum = 0;
          for (auto& x : s) sum += (x = std::exp(x - mx));
          for (int i = 0; i < c.hd; ++i) {
            double acc = 0;
            for (int j = 0; j < n; ++j) acc += s[j] * v[((size_t(b) * keys + j) * c.Hkv + g) * c.hd + i];
            ref[((size_t(b) * c.T + t) * c.H + h) * c.hd + i] = float(acc / sum);
          }
        }
      }
    size_t nan = 0;
    for (float x : got) nan += std::isnan(x);
    EXPECT_EQ(nan, 0u) << "unwritten or NaN outputs";
    EXPECT_LE(max_rel_error(got, ref), 1e-2);
  }
}
#endif

// A small Llama-shaped random model with head_dim 128 and GQA (4 query / 2 key-value heads), the
// shape the flash kernel serves: bf16 / f16 with the flash kernel against the float32 GEMM
// attention (LAYERLAB_CUDA_ATTENTION=gemm) and against the CPU backend, for odd lengths, T = 1,
// and a right-padded batch (the rows before the padding equal the unpadded sequence's).
std::string write_llama_small(const std::string& dir) {
  std::filesystem::create_directories(dir);
  const int d = 512, L = 2, V = 1000, ff = 1024, H = 4, Hkv = 2, hd = 128;
  nlohmann::json cfg = {{"model_type", "llama"},     {"architectures", {"LlamaForCausalLM"}},
                        {"hidden_size", d},          {"intermediate_size", ff},
                        {"num_hidden_layers", L},    {"num_attention_heads", H},
                        {"num_key_value_heads", Hkv}, {"head_dim", hd},
                        {"vocab_size", V},           {"max_position_embeddings", 1024},
                        {"rms_norm_eps", 1e-5},      {"rope_theta", 10000.0},
                        {"tie_word_embeddings", false}, {"hidden_act", "silu"},
                        {"dtype", "float32"}};
  std::ofstream(dir + "/config.json") << cfg.dump(2);
  RandomTensors w(99);
  w.add("model.embed_tokens.weight", {V, d}, 0, 1.0f);
  for (int l = 0; l < L; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    w.add(p + "input_layernorm.weight", {d}, 1, 0.1f);
    w.add(p + "self_attn.q_proj.weight", {H * hd, d}, 0, 0.08f);
    w.add(p + "self_attn.k_proj.weight", {Hkv * hd, d}, 0, 0.08f);
    w.add(p + "self_attn.v_proj.weight", {Hkv * hd, d}, 0, 0.05f);
    w.add(p + "self_attn.o_proj.weight", {d, H * hd}, 0, 0.05f);
    w.add(p + "post_attention_layernorm.weight", {d}, 1, 0.1f);
    w.add(p + "mlp.gate_proj.weight", {ff, d}, 0, 0.05f);
    w.add(p + "mlp.up_proj.weight", {ff, d}, 0, 0.05f);
    w.add(p + "mlp.down_proj.weight", {d, ff}, 0, 0.05f);
  }
  w.add("model.norm.weight", {d}, 1, 0.1f);
  w.add("lm_head.weight", {V, d}, 0, 0.05f);
  write_safetensors(dir + "/model.safetensors", w.tensors);
  return dir;
}

TEST(CudaBackend, FlashAttentionModelMatchesGemmPathAndCpu) {
  SKIP_WITHOUT_GPU();
  const std::string dir = write_llama_small((std::filesystem::temp_directory_path() /
                                             ("layerlab_llama_small_" + std::to_string(::getpid()))).string());
  auto model = load_model(dir);
  auto cpu = make_cpu_backend(*model);
  const Plan plan = parse_plan_text("0,[0,1]x2,1");
  for (auto [B, T] : {std::pair{3, 77}, std::pair{1, 1}, std::pair{2, 130}}) {
    ForwardRequest req;
    req.batch = B;
    for (int i = 0; i < B * T; ++i) req.ids.push_back((i * 7919 + 5) % model->config().vocab);
    req.keep_residuals = true;
    req.all_logits = true;
    const ForwardResult ref = Runner(*model, *cpu).forward(plan, req);
    for (CudaDType t : {CudaDType::BF16, CudaDType::F16}) {
      SCOPED_TRACE(std::string(cuda_dtype_name(t)) + " B=" + std::to_string(B) + " T=" + std::to_string(T));
      auto flash = make_cuda_backend(*model, t);
      ::setenv("LAYERLAB_CUDA_ATTENTION", "gemm", 1);
      auto gemm = make_cuda_backend(*model, t);
      ::unsetenv("LAYERLAB_CUDA_ATTENTION");
      const ForwardResult got = Runner(*model, *flash).forward(plan, req);
      const ForwardResult old = Runner(*model, *gemm).forward(plan, req);
      ASSERT_EQ(got.resid.size(), ref.resid.size());
      for (size_t k = 0; k < ref.resid.size(); ++k) {
        EXPECT_LE(max_rel_error(got.resid[k], ref.resid[k]), 3e-2) << "resid " << k << " vs CPU";
        EXPECT_LE(max_rel_error(got.resid[k], old.resid[k]), 3e-2) << "resid " << k << " vs GEMM attention";
      }
      EXPECT_LE(max_rel_error(got.logits, ref.logits), 3e-2) << "logits vs CPU";
      EXPECT_LE(max_rel_error(got.logits, old.logits), 3e-2) << "logits vs GEMM attention";
    }
  }
  // Right padding: sequence 1 is sequence 0's first 50 tokens, then padding; its first 50 rows
  // match sequence 0's (causal), through the flash kernel's partial tiles.
  {
    const int T = 97, keep = 50;
    auto gpu = make_cuda_backend(*model, CudaDType::BF16);
    ForwardRequest req;
    req.batch = 2;
    for (int i = 0; i < T; ++i) req.ids.push_back((i * 31 + 3) % model->config().vocab);
    for (int i = 0; i < T; ++i) req.ids.push_back(i < keep ? req.ids[i] : 0);
    req.all_logits = true;
    const ForwardResult got = Runner(*model, *gpu).forward(plan, req);
    const int V = model->config().vocab;
    std::vector<float> a(got.logits.begin(), got.logits.begin() + size_t(keep) * V);
    std::vector<float> b(got.logits.begin() + size_t(T) * V, got.logits.begin() + size_t(T + keep) * V);
    EXPECT_LE(max_rel_error(b, a), 1e-3) << "padded batch row vs the unpadded sequence";
  }
  std::filesystem::remove_all(dir);
}

// Errors are layerlab::Error with the call named, not crashes.
TEST(CudaBackend, OutOfMemoryIsAClearError) {
  SKIP_WITHOUT_GPU();
  const std::string dir = shared_dir() + "/golden/gpt2-tiny";
  if (!std::filesystem::exists(dir + "/config.json")) GTEST_SKIP() << dir << " not present";
  auto model = load_model(dir);
  auto backend = make_cuda_backend(*model, CudaDType::F32);
  const Plan plan = full_plan(model->config().n_layer);
  try {
    backend->make_cache(plan, 1 << 20, 1 << 16);  // petabytes
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cudaMalloc"), std::string::npos) << e.what();
  }
  // The backend still works afterwards.
  ForwardRequest req;
  req.ids = {1, 2, 3, 4};
  req.all_logits = true;
  EXPECT_NO_THROW(Runner(*model, *backend).forward(plan, req));
}

TEST(CudaBackend, DtypeNames) {
  EXPECT_EQ(parse_cuda_dtype("bf16"), CudaDType::BF16);
  EXPECT_STREQ(cuda_dtype_name(CudaDType::F16), "f16");
  EXPECT_THROW(parse_cuda_dtype("f8"), Error);
}

}  // namespace
}  // namespace layerlab::testing
