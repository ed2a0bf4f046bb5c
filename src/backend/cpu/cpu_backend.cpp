// The CPU backend: one transformer layer written once over the uniform weight layout
// (pre- or post-norm, LayerNorm or RMSNorm, learned or rotary positions, GELU or SwiGLU,
// sequential or parallel sub-blocks, plain or shaped attention, optional skips, gains and
// norms), run for all members of a plan step at once so a parallel group is batched work.
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "attention.h"
#include "gemm.h"
#include "kernels.h"
#include "layerlab/backend.h"
#include "layerlab/error.h"
#include "model/rope.h"

namespace layerlab {

namespace {

class CpuHidden : public Hidden {
 public:
  std::vector<float> data;
  std::vector<float> to_host() const override { return data; }
  std::unique_ptr<Hidden> clone() const override { return std::make_unique<CpuHidden>(*this); }
};

class CpuKvCache : public KvCache {
 public:
  std::vector<int> slot_offset;           // per plan step: first slot
  std::vector<std::vector<float>> k, v;   // per slot: [batch, capacity, kv_dim]
};

// Temporaries of a layer application, kept across layers and calls: fresh zero-filled vectors
// cost a memset and, above malloc's mmap threshold, page faults on every layer (a fifth of a
// 512-token forward pass of a GPT-2-124M-shaped model). Contents are not cleared: every user
// writes its buffer before reading it.
class Workspace {
 public:
  enum Slot { kAttnIn, kQkv, kCtx, kProbs, kMlpIn, kUp, kAct, kBranch, kMembers, kSlots };
  float* get(Slot slot, size_t count) {
    std::vector<float>& b = bufs_[slot];
    if (b.size() < count) b.resize(count);
    return b.data();
  }

 private:
  std::array<std::vector<float>, kSlots> bufs_;
};

CpuHidden& as_cpu(Hidden& h) { return static_cast<CpuHidden&>(h); }
const CpuHidden& as_cpu(const Hidden& h) { return static_cast<const CpuHidden&>(h); }

class CpuBackend : public Backend {
 public:
  explicit CpuBackend(const Model& model) : model_(model), cfg_(model.config()), w_(model.weights()) {}

  std::string name() const override { return "cpu"; }
  bool supports_inspection() const override { return true; }
  void set_inspector(Inspector* inspector) override { inspector_ = inspector; }

  std::unique_ptr<Hidden> embed(const std::vector<int32_t>& ids, int batch, int tokens, int pos0) override {
    auto h = std::make_unique<CpuHidden>();
    const int d = cfg_.d_model;
    h->batch = batch, h->tokens = tokens, h->width = d, h->pos0 = pos0;
    h->data.assign(size_t(batch) * tokens * d, 0.0f);
    for (int b = 0; b < batch; ++b)
      for (int t = 0; t < tokens; ++t) {
        float* row = h->data.data() + (int64_t(b) * tokens + t) * d;
        const float* tok = w_.tok_emb.data + int64_t(ids[size_t(b) * tokens + t]) * d;
        std::memcpy(row, tok, sizeof(float) * d);
        if (w_.pos_emb) cpu::add_inplace(row, w_.pos_emb.data + int64_t(pos0 + t) * d, d);
        if (w_.type_emb) cpu::add_inplace(row, w_.type_emb.data, d);  // token type 0
      }
    if (w_.emb_ln_w) cpu::layer_norm(h->data.data(), h->data.data(), h->rows(), d, w_.emb_ln_w.data, w_.emb_ln_b.data, cfg_.norm_eps);
    return h;
  }

  void run_step(const PlanStep& step, int step_index, Hidden& xh, KvCache* kvc) override {
    CpuHidden& x = as_cpu(xh);
    const int M = static_cast<int>(step.layers.size());
    const size_t n = x.data.size();
    float* outs = M > 1 ? ws_.get(Workspace::kMembers, n * M) : nullptr;
    auto* kv = static_cast<CpuKvCache*>(kvc);
    for (int it = 0; it < step.iterations; ++it) {
      std::vector<int> slots(M, -1);
      if (kv)
        for (int m = 0; m < M; ++m) slots[m] = kv->slot_offset[step_index] + it * M + m;
      std::vector<float*> out_ptrs(M);
      for (int m = 0; m < M; ++m) out_ptrs[m] = M == 1 ? x.data.data() : outs + n * m;
      layers_forward(step.layers, slots, x, out_ptrs, kv, step_index, it);
      if (M > 1) {
        const float inv = 1.0f / M;
#pragma omp parallel for if (n > 65536)
        for (size_t i = 0; i < n; ++i) {
          float s = 0;
          for (int m = 0; m < M; ++m) s += outs[n * m + i];
          x.data[i] = s * inv;
        }
      }
    }
  }

  std::unique_ptr<Hidden> final_norm(const Hidden& xh) override {
    const CpuHidden& x = as_cpu(xh);
    auto y = std::make_unique<CpuHidden>(x);
    const int d = cfg_.d_model;
    if (cfg_.has_mlm_head) {
      cpu::gemm_nt(x.rows(), d, d, {x.data.data(), w_.mlm_dense_w.data, w_.mlm_dense_b.data, y->data.data()});
      activate(y->data.data(), y->data.size());
      cpu::layer_norm(y->data.data(), y->data.data(), y->rows(), d, w_.final_w.data, w_.final_b.data, cfg_.norm_eps);
    } else {
      norm(x.data.data(), y->data.data(), x.rows(), w_.final_w, w_.final_b);
    }
    return y;
  }

  void logits(const Hidden& normed, int64_t row_begin, int64_t count, float* out) override {
    const CpuHidden& x = as_cpu(normed);
    cpu::gemm_nt(count, cfg_.vocab, cfg_.d_model,
                 {x.data.data() + row_begin * cfg_.d_model, w_.head_w.data, w_.head_b.data, out});
  }

  std::unique_ptr<KvCache> make_cache(const Plan& plan, int batch, int capacity) override {
    auto c = std::make_unique<CpuKvCache>();
    c->capacity = capacity;
    int slots = 0;
    for (const auto& s : plan.steps) {
      c->slot_offset.push_back(slots);
      slots += static_cast<int>(s.layers.size()) * s.iterations;
    }
    const size_t per = size_t(batch) * capacity * cfg_.kv_dim();
    c->k.assign(slots, std::vector<float>(per));
    c->v.assign(slots, std::vector<float>(per));
    return c;
  }

 private:
  void norm(const float* x, float* y, int64_t rows, const Param& w, const Param& b) const {
    if (cfg_.norm == NormKind::RMSNorm)
      cpu::rms_norm(x, y, rows, cfg_.d_model, w.data, cfg_.norm_eps);
    else
      cpu::layer_norm(x, y, rows, cfg_.d_model, w.data, b.data, cfg_.norm_eps);
  }

  void activate(float* x, size_t count) const {
    if (cfg_.act == Activation::GeluErf)
      cpu::gelu_erf(x, count);
    else
      cpu::gelu_tanh(x, count);
  }

  void ensure_rope(int positions) {
    if (positions <= rope_positions_) return;
    rope_positions_ = std::max(positions, 2 * rope_positions_);
    rope_table(cfg_, rope_positions_, rope_cos_, rope_sin_);
  }

  // out[m] += gain_m * (in_m W_m^T + b_m) for every member, W = LayerWeights::*w; an empty W is
  // the identity (n == k), an empty gain is 1. Without gains the product accumulates in place.
  void add_branch(const std::vector<const LayerWeights*>& Ls, Param LayerWeights::*w, Param LayerWeights::*b,
                  Param LayerWeights::*gain, int64_t R, int n, int k, const float* in, const std::vector<float*>& out) {
    const int M = static_cast<int>(Ls.size());
    bool need_tmp = false;
    for (const LayerWeights* L : Ls) need_tmp |= (L->*w) && (L->*gain);
    float* tmp = need_tmp ? ws_.get(Workspace::kBranch, size_t(M) * R * n) : nullptr;
    std::vector<cpu::GemmArgs> batch;
    for (int m = 0; m < M; ++m)
      if (Ls[m]->*w) {
        const bool direct = !(Ls[m]->*gain);
        batch.push_back({in + m * R * k, (Ls[m]->*w).data, (Ls[m]->*b).data, direct ? out[m] : tmp + m * R * n,
                         0, 0, direct});
      }
    cpu::gemm_nt_batched(R, n, k, batch);
    for (int m = 0; m < M; ++m) {
      const Param& W = Ls[m]->*w;
      if (W && !(Ls[m]->*gain)) continue;
      const float* br = W ? tmp + m * R * n : in + m * R * k;
      const float g = (Ls[m]->*gain) ? (Ls[m]->*gain).data[0] : 1.0f;
      float* o = out[m];
      const int64_t count = R * n;
#pragma omp parallel for if (count > 65536)
      for (int64_t i = 0; i < count; ++i) o[i] += g * br[i];
    }
  }

  // Runs layers[m] on the same input x, writing member m's output to out[m] (out may alias x
  // when there is one member). Every stage is issued for all members before the next. The block
  // structure follows the switches of ModelConfig (see LayerWeights in model.h).
  void layers_forward(const std::vector<int>& layers, const std::vector<int>& slots, const CpuHidden& x,
                      const std::vector<float*>& out, CpuKvCache* kv, int step_index, int iteration) {
    const int M = static_cast<int>(layers.size());
    const int d = cfg_.d_model, hd = cfg_.head_dim, qd = cfg_.q_dim(), kvd = cfg_.kv_dim(), qkvd = cfg_.qkv_dim();
    const int ff = cfg_.d_ff, up_rows = cfg_.up_rows();
    const int B = x.batch, T = x.tokens, pos0 = x.pos0;
    const int64_t R = x.rows();
    const bool pre = !cfg_.post_norm, par = cfg_.parallel_block;
    std::vector<const LayerWeights*> Ls(M);
    for (int m = 0; m < M; ++m) Ls[m] = &w_.layers[layers[m]];
    auto L = [&](int m) -> const LayerWeights& { return *Ls[m]; };

    // Attention input: the first pre-norm when the layer has one, else x itself (post-norm
    // blocks, norm-free sas/sasp layers).
    float* h = pre ? ws_.get(Workspace::kAttnIn, size_t(M) * R * d) : nullptr;
    std::vector<const float*> a_in(M, x.data.data());
    for (int m = 0; m < M; ++m)
      if (pre && L(m).ln1_w) {
        norm(x.data.data(), h + m * R * d, R, L(m).ln1_w, L(m).ln1_b);
        a_in[m] = h + m * R * d;
      }

    // q | k | v rows; an identity value is the attention input itself (plus layer 0's extra matrix).
    float* qkv = ws_.get(Workspace::kQkv, size_t(M) * R * qkvd);
    std::vector<cpu::GemmArgs> batch;
    for (int m = 0; m < M; ++m)
      batch.push_back({a_in[m], L(m).qkv_w.data, L(m).qkv_b.data, qkv + m * R * qkvd, 0, qkvd});
    cpu::gemm_nt_batched(R, cfg_.qkv_rows(), d, batch);
    if (cfg_.identity_value) {
#pragma omp parallel for collapse(2) if (R * M > 16)
      for (int m = 0; m < M; ++m)
        for (int64_t r = 0; r < R; ++r)
          std::memcpy(qkv + (m * R + r) * qkvd + qd + kvd, a_in[m] + r * d, sizeof(float) * kvd);
      batch.clear();
      for (int m = 0; m < M; ++m)
        if (L(m).v_extra_w)
          batch.push_back({a_in[m], L(m).v_extra_w.data, nullptr, qkv + m * R * qkvd + qd + kvd, 0, qkvd, true});
      cpu::gemm_nt_batched(R, kvd, d, batch);
    }

    if (cfg_.positions == Positions::Rope) {
      ensure_rope(pos0 + T);
      const int half = hd / 2;
#pragma omp parallel for collapse(2)
      for (int m = 0; m < M; ++m)
        for (int64_t r = 0; r < R; ++r) {
          const int pos = pos0 + static_cast<int>(r % T);
          float* row = qkv + (m * R + r) * qkvd;
          const float* c = rope_cos_.data() + int64_t(pos) * half;
          const float* s = rope_sin_.data() + int64_t(pos) * half;
          cpu::rope_rotate(row, cfg_.n_head, hd, c, s);
          cpu::rope_rotate(row + qd, cfg_.n_kv_head, hd, c, s);
        }
    }

    // Keys and values: straight from the qkv buffer, or appended to this application's cache slot.
    float* ctx = ws_.get(Workspace::kCtx, size_t(M) * R * qd);
    const bool inspect = inspector_ != nullptr;
    float* probs = inspect ? ws_.get(Workspace::kProbs, size_t(M) * cfg_.n_head * T * (pos0 + T)) : nullptr;
    std::vector<cpu::AttentionArgs> attn(M);
    for (int m = 0; m < M; ++m) {
      const float* base = qkv + m * R * qkvd;
      cpu::AttentionArgs& a = attn[m];
      a.q = base;
      a.q_stride = qkvd;
      a.out = ctx + m * R * qd;
      a.out_stride = qd;
      if (inspect) a.probs = probs + size_t(m) * cfg_.n_head * T * (pos0 + T);
      if (cfg_.shaped_attention) {
        a.alpha = L(m).attn_alpha.data;
        a.beta = L(m).attn_beta.data;
        a.gamma = L(m).attn_gamma.data;
      }
      if (kv) {
        if (pos0 + T > kv->capacity) fail("kv cache", "sequence longer than the cache capacity");
        float* kc = kv->k[slots[m]].data();
        float* vc = kv->v[slots[m]].data();
        for (int b = 0; b < B; ++b)
          for (int t = 0; t < T; ++t) {
            const float* src = base + (int64_t(b) * T + t) * qkvd;
            const int64_t dst = (int64_t(b) * kv->capacity + pos0 + t) * kvd;
            std::memcpy(kc + dst, src + qd, sizeof(float) * kvd);
            std::memcpy(vc + dst, src + qd + kvd, sizeof(float) * kvd);
          }
        a.k = kc, a.v = vc, a.kv_stride = kvd, a.kv_batch_stride = int64_t(kv->capacity) * kvd;
      } else {
        a.k = base + qd, a.v = base + qd + kvd, a.kv_stride = qkvd, a.kv_batch_stride = int64_t(T) * qkvd;
      }
    }
    cpu::attention({B, T, kv ? pos0 : 0, cfg_.n_head, cfg_.n_kv_head, hd, cfg_.causal}, attn);

    // out = [x] + g_a * (ctx W_o^T + b_o, or ctx): the attention residual (sequential) or the
    // attention part of the block output (parallel; written after the MLP has read its input,
    // since out may alias x).
    auto attention_out = [&] {
      for (int m = 0; m < M; ++m) {
        if (!cfg_.attn_skip)
          std::memset(out[m], 0, sizeof(float) * R * d);
        else if (out[m] != x.data.data())
          std::memcpy(out[m], x.data.data(), sizeof(float) * R * d);
      }
      add_branch(Ls, &LayerWeights::o_w, &LayerWeights::o_b, &LayerWeights::attn_gain, R, d, qd, ctx, out);
    };
    if (!par) attention_out();

    // MLP input: sequential: LN2(h) or h; parallel: LN2(x) or the attention input; post-norm:
    // LN1 of the attention residual, in place.
    float* h2 = pre ? ws_.get(Workspace::kMlpIn, size_t(M) * R * d) : nullptr;
    std::vector<const float*> mlp_in(M);
    for (int m = 0; m < M; ++m) {
      if (!pre) {
        norm(out[m], out[m], R, L(m).ln1_w, L(m).ln1_b);
        mlp_in[m] = out[m];
      } else if (L(m).ln2_w) {
        norm(par ? x.data.data() : out[m], h2 + m * R * d, R, L(m).ln2_w, L(m).ln2_b);
        mlp_in[m] = h2 + m * R * d;
      } else {
        mlp_in[m] = par ? a_in[m] : out[m];
      }
    }

    float* up = ws_.get(Workspace::kUp, size_t(M) * R * up_rows);
    batch.clear();
    for (int m = 0; m < M; ++m)
      batch.push_back({mlp_in[m], L(m).up_w.data, L(m).up_b.data, up + m * R * up_rows});
    cpu::gemm_nt_batched(R, up_rows, d, batch);
    float* act = cfg_.gated() ? ws_.get(Workspace::kAct, size_t(M) * R * ff) : up;
    if (cfg_.gated())
      cpu::swiglu(up, act, int64_t(M) * R, ff);
    else
      activate(up, size_t(M) * R * up_rows);

    if (par) attention_out();
    // out = s_ff * out + b_ff * MLP (both 1 for standard blocks).
    for (int m = 0; m < M; ++m)
      if (L(m).mlp_skip_gain) {
        const float g = L(m).mlp_skip_gain.data[0];
        float* o = out[m];
#pragma omp parallel for if (R * d > 65536)
        for (int64_t i = 0; i < R * d; ++i) o[i] *= g;
      }
    add_branch(Ls, &LayerWeights::down_w, &LayerWeights::down_b, &LayerWeights::mlp_gain, R, d, ff, act, out);
    if (!pre)
      for (int m = 0; m < M; ++m) norm(out[m], out[m], R, L(m).ln2_w, L(m).ln2_b);

    if (inspect)
      for (int m = 0; m < M; ++m) {
        LayerTrace t;
        t.step = step_index, t.member = m, t.iteration = iteration, t.layer = layers[m];
        t.tokens = T, t.keys = pos0 + T;
        t.attn_probs = probs + size_t(m) * cfg_.n_head * T * (pos0 + T);
        t.qkv = qkv + m * R * qkvd;
        t.mlp_act = act + m * R * ff;
        t.output = out[m];
        inspector_->on_layer(t);
      }
  }

  const Model& model_;
  const ModelConfig& cfg_;
  const ModelWeights& w_;
  Inspector* inspector_ = nullptr;
  int rope_positions_ = 0;
  Workspace ws_;
  std::vector<float> rope_cos_, rope_sin_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const Model& model) { return std::make_unique<CpuBackend>(model); }

}  // namespace layerlab
