// Every layer operation of the CPU backend (backend/layer_ops.h, cpu/cpu_layer_ops.cpp) on
// random inputs against a float64 reference written here from the definitions (HF's LayerNorm,
// RMSNorm, rotate-half RoPE, causal / grouped-query / shaped attention, GELU, SwiGLU), in the
// manner of llama.cpp's test-backend-ops. Shapes are small and odd-sized on purpose.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "backend/cpu/cpu_layer_ops.h"
#include "golden.h"

namespace layerlab::testing {
namespace {

constexpr int B = 2, T = 5, R = B * T;

ModelConfig small_config() {
  ModelConfig c;
  c.d_model = 16, c.n_head = 4, c.n_kv_head = 2, c.head_dim = 4, c.d_ff = 12, c.vocab = 50;
  c.norm_eps = 1e-5f;
  c.positions = Positions::Rope;
  c.causal = true;
  return c;
}

std::vector<float> random_values(size_t n, unsigned seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

void fill(float* dst, const std::vector<float>& v) { std::copy(v.begin(), v.end(), dst); }
std::vector<float> read(const float* p, size_t n) { return {p, p + n}; }
std::vector<float> to_float(const std::vector<double>& v) { return {v.begin(), v.end()}; }

struct Fixture {
  ModelConfig cfg = small_config();
  std::vector<float> x = random_values(size_t(R) * cfg.d_model, 1);
  cpu::CpuLayerOps ops{cfg};
  explicit Fixture(int members = 1, int pos0 = 0) {
    ops.set_input(x.data(), B, T, pos0, nullptr);
    ops.begin(members);
  }
};

TEST(LayerOps, LayerNormAndRmsNorm) {
  for (NormKind kind : {NormKind::LayerNorm, NormKind::RMSNorm}) {
    Fixture f;
    f.cfg.norm = kind;
    const int d = f.cfg.d_model;
    const std::vector<float> w = random_values(d, 2, 0.5f), b = random_values(d, 3, 0.5f);
    f.ops.norm({Buf::X}, {Buf::AttnIn}, Param{w.data(), 1, d}, Param{b.data(), 1, d});
    std::vector<double> ref(size_t(R) * d);
    for (int r = 0; r < R; ++r) {
      const float* row = f.x.data() + r * d;
      double mean = 0, sq = 0;
      for (int i = 0; i < d; ++i) mean += row[i], sq += double(row[i]) * row[i];
      mean /= d;
      const double var = kind == NormKind::RMSNorm ? sq / d : sq / d - mean * mean;
      const double inv = 1.0 / std::sqrt(var + f.cfg.norm_eps);
      for (int i = 0; i < d; ++i)
        ref[r * d + i] = kind == NormKind::RMSNorm ? row[i] * inv * w[i] : (row[i] - mean) * inv * w[i] + b[i];
    }
    EXPECT_LE(max_rel_error(read(f.ops.data({Buf::AttnIn}), ref.size()), to_float(ref)), 1e-5) << int(kind);
  }
}

// out (+)= gain * (in W^T + bias) for two members at once; the identity into a column block.
TEST(LayerOps, LinearWithBiasGainAccumulateAndIdentity) {
  Fixture f(2);
  const int d = f.cfg.d_model, n = 6;
  const std::vector<float> w0 = random_values(size_t(n) * d, 4), w1 = random_values(size_t(n) * d, 5);
  const std::vector<float> b0 = random_values(n, 6), g1 = {0.7f};
  const Param W0{w0.data(), n, d}, W1{w1.data(), n, d}, B0{b0.data(), 1, n}, G1{g1.data(), 1, 1};
  std::vector<std::vector<float>> in(2), out0(2);
  for (int m = 0; m < 2; ++m) {
    in[m] = random_values(size_t(R) * d, 10 + m);
    fill(f.ops.data({Buf::AttnIn, m}), in[m]);
    out0[m] = random_values(size_t(R) * d, 20 + m);
    fill(f.ops.data({Buf::Out, m}), out0[m]);
  }
  // Member 0: plain product with bias into Out columns 3..8; member 1: gained and accumulated.
  f.ops.linear(n, d, 3, {{{Buf::AttnIn, 0}, {Buf::Out, 0}, &W0, &B0, nullptr, false},
                         {{Buf::AttnIn, 1}, {Buf::Out, 1}, &W1, nullptr, &G1, true}});
  for (int m = 0; m < 2; ++m) {
    const std::vector<float>& w = m == 0 ? w0 : w1;
    std::vector<double> ref(out0[m].begin(), out0[m].end());
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < n; ++j) {
        double s = m == 0 ? b0[j] : 0.0;
        for (int k = 0; k < d; ++k) s += double(in[m][r * d + k]) * w[j * d + k];
        double& o = ref[r * d + 3 + j];
        o = m == 0 ? s : o + 0.7 * s;
      }
    EXPECT_LE(max_rel_error(read(f.ops.data({Buf::Out, m}), ref.size()), to_float(ref)), 1e-5) << "member " << m;
  }
  // Identity: Qkv[:, 8:16] = AttnIn[:, 0:8] (an identity value).
  const int qkvd = f.cfg.qkv_dim();
  const std::vector<float> before = read(f.ops.data({Buf::Qkv, 0}), size_t(R) * qkvd);
  f.ops.linear(8, 8, 8, {{{Buf::AttnIn, 0}, {Buf::Qkv, 0}}});
  const std::vector<float> after = read(f.ops.data({Buf::Qkv, 0}), size_t(R) * qkvd);
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < qkvd; ++j)
      EXPECT_EQ(after[r * qkvd + j], j >= 8 && j < 16 ? in[0][r * d + j - 8] : before[r * qkvd + j]) << r << "," << j;
}

// HF rotate-half RoPE at positions pos0 + t, theta 10000.
TEST(LayerOps, RopeAtAnOffset) {
  const int pos0 = 3;
  Fixture f(1, pos0);
  const int qkvd = f.cfg.qkv_dim(), hd = f.cfg.head_dim, heads = f.cfg.n_head + f.cfg.n_kv_head;
  const std::vector<float> qkv = random_values(size_t(R) * qkvd, 7);
  fill(f.ops.data({Buf::Qkv}), qkv);
  f.ops.rope();
  std::vector<double> ref(qkv.begin(), qkv.end());
  for (int r = 0; r < R; ++r) {
    const int pos = pos0 + r % T;
    for (int h = 0; h < heads; ++h)  // queries, then keys; values untouched
      for (int i = 0; i < hd / 2; ++i) {
        const double ang = pos * std::pow(10000.0, -2.0 * i / hd);
        const double a = qkv[r * qkvd + h * hd + i], b = qkv[r * qkvd + h * hd + i + hd / 2];
        ref[r * qkvd + h * hd + i] = a * std::cos(ang) - b * std::sin(ang);
        ref[r * qkvd + h * hd + i + hd / 2] = b * std::cos(ang) + a * std::sin(ang);
      }
  }
  EXPECT_LE(max_rel_error(read(f.ops.data({Buf::Qkv}), ref.size()), to_float(ref)), 1e-5);
}

// Causal grouped-query attention, plain and shaped (A = alpha I + beta P - gamma C).
TEST(LayerOps, CausalGroupedAndShapedAttention) {
  for (bool shaped : {false, true}) {
    Fixture f;
    f.cfg.shaped_attention = shaped;
    const int H = f.cfg.n_head, hd = f.cfg.head_dim, qd = f.cfg.q_dim(), kvd = f.cfg.kv_dim(), qkvd = f.cfg.qkv_dim();
    const std::vector<float> qkv = random_values(size_t(R) * qkvd, 8, 1.5f);
    fill(f.ops.data({Buf::Qkv}), qkv);
    const std::vector<float> alpha = {0.9f, 1.1f, 0.5f, 1.0f}, beta = {0.3f, 0.6f, 1.0f, 0.2f}, gamma = {0.2f, 0.1f, 0.4f, 0.3f};
    LayerWeights L;
    L.attn_alpha = {alpha.data(), 1, H}, L.attn_beta = {beta.data(), 1, H}, L.attn_gamma = {gamma.data(), 1, H};
    f.ops.attend({{0}, {-1}, 0, 0}, {&L});
    std::vector<double> ref(size_t(R) * qd, 0.0);
    for (int b = 0; b < B; ++b)
      for (int h = 0; h < H; ++h) {
        const int g = h / (H / f.cfg.n_kv_head);
        for (int i = 0; i < T; ++i) {
          std::vector<double> p(i + 1);
          double mx = -1e300, sum = 0;
          for (int j = 0; j <= i; ++j) {
            double s = 0;
            for (int c = 0; c < hd; ++c)
              s += double(qkv[(b * T + i) * qkvd + h * hd + c]) * qkv[(b * T + j) * qkvd + qd + g * hd + c];
            p[j] = s / std::sqrt(double(hd));
            mx = std::max(mx, p[j]);
          }
          for (double& v : p) sum += (v = std::exp(v - mx));
          for (int j = 0; j <= i; ++j) {
            double a = p[j] / sum;
            if (shaped) a = beta[h] * a - gamma[h] / (i + 1) + (j == i ? alpha[h] : 0.0);
            for (int c = 0; c < hd; ++c) ref[(b * T + i) * qd + h * hd + c] += a * qkv[(b * T + j) * qkvd + qd + kvd + g * hd + c];
          }
        }
      }
    EXPECT_LE(max_rel_error(read(f.ops.data({Buf::Ctx}), ref.size()), to_float(ref)), 1e-5) << "shaped " << shaped;
  }
}

TEST(LayerOps, GeluTanhGeluErfAndSwiglu) {
  for (Activation act : {Activation::GeluTanh, Activation::GeluErf, Activation::SiluGated}) {
    Fixture f;
    f.cfg.act = act;
    const int ff = f.cfg.d_ff, up = f.cfg.up_rows();
    const std::vector<float> u = random_values(size_t(R) * up, 9, 2.0f);
    fill(f.ops.data({Buf::Up}), u);
    f.ops.activate();
    std::vector<double> ref(size_t(R) * ff);
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < ff; ++j) {
        const double v = u[r * up + j];
        if (act == Activation::GeluTanh)
          ref[r * ff + j] = 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
        else if (act == Activation::GeluErf)
          ref[r * ff + j] = 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
        else
          ref[r * ff + j] = v / (1 + std::exp(-v)) * u[r * up + ff + j];
      }
    EXPECT_LE(max_rel_error(read(f.ops.data({Buf::Mlp}), ref.size()), to_float(ref)), 1e-5) << int(act);
  }
}

TEST(LayerOps, MeanOfMembersScaleCopyZero) {
  Fixture f(3);
  const size_t n = size_t(R) * f.cfg.d_model;
  std::vector<std::vector<float>> outs;
  for (int m = 0; m < 3; ++m) {
    outs.push_back(random_values(n, 30 + m));
    fill(f.ops.data({Buf::Out, m}), outs[m]);
  }
  const std::vector<float> g = {-1.5f};
  f.ops.scale({Buf::Out, 2}, Param{g.data(), 1, 1});
  f.ops.mean_of_members();
  std::vector<double> ref(n);
  for (size_t i = 0; i < n; ++i) ref[i] = (double(outs[0][i]) + outs[1][i] - 1.5 * outs[2][i]) / 3;
  EXPECT_LE(max_rel_error(f.x, to_float(ref)), 1e-6);
  f.ops.copy({Buf::X}, {Buf::Out, 1});
  EXPECT_EQ(read(f.ops.data({Buf::Out, 1}), n), f.x);
  f.ops.zero({Buf::Out, 0});
  EXPECT_EQ(read(f.ops.data({Buf::Out, 0}), n), std::vector<float>(n, 0.0f));
}

}  // namespace
}  // namespace layerlab::testing
