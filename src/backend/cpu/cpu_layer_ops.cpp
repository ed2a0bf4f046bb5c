#include "backend/cpu/cpu_layer_ops.h"

#include <algorithm>
#include <cstring>

#include "attention.h"
#include "gemm.h"
#include "kernels.h"
#include "layerlab/error.h"
#include "model/rope.h"

namespace layerlab::cpu {

namespace {

bool present(const Param* p) { return p && *p; }

}  // namespace

void CpuLayerOps::set_input(float* x, int batch, int tokens, int pos0, CpuKvCache* kv) {
  x_ = x, batch_ = batch, tokens_ = tokens, pos0_ = pos0, kv_ = kv;
}

float* CpuLayerOps::slot(Slot s, size_t count) {
  std::vector<float>& b = bufs_[s];
  if (b.size() < count) b.resize(count);
  return b.data();
}

float* CpuLayerOps::ptr(Ref r) {
  const int64_t R = int64_t(batch_) * tokens_;
  const size_t per = size_t(R) * width(r.buf);
  auto member_of = [&](Slot s) { return slot(s, per * M_) + per * r.member; };
  switch (r.buf) {
    case Buf::X: return x_;
    case Buf::Out: return M_ == 1 ? x_ : member_of(kMembers);
    case Buf::AttnIn: return member_of(kAttnIn);
    case Buf::Qkv: return member_of(kQkv);
    case Buf::Ctx: return member_of(kCtx);
    case Buf::MlpIn: return member_of(kMlpIn);
    case Buf::Up: return member_of(kUp);
    case Buf::Mlp: return cfg_.gated() ? member_of(kMlp) : ptr({Buf::Up, r.member});
  }
  return nullptr;
}

void CpuLayerOps::norm_rows(const float* x, float* y, int64_t rows, const Param& w, const Param& b) const {
  if (cfg_.norm == NormKind::RMSNorm)
    rms_norm(x, y, rows, cfg_.d_model, w.data, cfg_.norm_eps);
  else
    layer_norm(x, y, rows, cfg_.d_model, w.data, b.data, cfg_.norm_eps);
}

void CpuLayerOps::activate_rows(float* x, size_t count) const {
  if (cfg_.act == Activation::GeluErf)
    gelu_erf(x, count);
  else
    gelu_tanh(x, count);
}

void CpuLayerOps::norm(Ref in, Ref out, const Param& w, const Param& b) {
  norm_rows(ptr(in), ptr(out), int64_t(batch_) * tokens_, w, b);
}

// Products with W go to oneDNN in one batch (typed weights through typed_gemm.h) (straight into the output when there is no gain);
// gains and identities are applied after, row by row.
void CpuLayerOps::linear(int n, int k, int col, const std::vector<LinearCall>& calls) {
  const int64_t R = int64_t(batch_) * tokens_;
  const int C = static_cast<int>(calls.size());
  bool need_tmp = false;
  for (const LinearCall& c : calls) need_tmp |= present(c.w) && present(c.gain);
  float* tmp = need_tmp ? slot(kBranch, size_t(C) * R * n) : nullptr;
  std::vector<GemmArgs> batch;
  for (int i = 0; i < C; ++i) {
    const LinearCall& c = calls[i];
    if (!present(c.w)) continue;
    const bool direct = !present(c.gain);
    const float* bias = present(c.bias) ? c.bias->data : nullptr;
    if (direct)
      batch.push_back(weight_product(ptr(c.in), *c.w, bias, ptr(c.out) + col, width(c.in.buf), width(c.out.buf), c.accumulate));
    else
      batch.push_back(weight_product(ptr(c.in), *c.w, bias, tmp + i * R * n, width(c.in.buf), n, false));
  }
  if (!batch.empty()) gemm_nt_batched(R, n, k, batch);
  for (int i = 0; i < C; ++i) {
    const LinearCall& c = calls[i];
    if (present(c.w) && !present(c.gain)) continue;
    const float* src = present(c.w) ? tmp + i * R * n : ptr(c.in);
    const int64_t src_stride = present(c.w) ? n : width(c.in.buf);
    const float g = present(c.gain) ? c.gain->data[0] : 1.0f;
    float* o = ptr(c.out) + col;
    const int64_t o_stride = width(c.out.buf);
    const bool acc = c.accumulate;
#pragma omp parallel for if (R * n > 65536)
    for (int64_t r = 0; r < R; ++r) {
      const float* s = src + r * src_stride;
      float* y = o + r * o_stride;
      if (acc)
        for (int j = 0; j < n; ++j) y[j] += g * s[j];
      else
        for (int j = 0; j < n; ++j) y[j] = g * s[j];
    }
  }
}

void CpuLayerOps::copy(Ref from, Ref to) {
  const float* a = ptr(from);
  float* b = ptr(to);
  if (a != b) std::memcpy(b, a, sizeof(float) * size_t(batch_) * tokens_ * cfg_.d_model);
}

void CpuLayerOps::zero(Ref to) { std::memset(ptr(to), 0, sizeof(float) * size_t(batch_) * tokens_ * cfg_.d_model); }

void CpuLayerOps::scale(Ref x, const Param& gain) {
  const float g = gain.data[0];
  float* o = ptr(x);
  const int64_t count = int64_t(batch_) * tokens_ * cfg_.d_model;
#pragma omp parallel for if (count > 65536)
  for (int64_t i = 0; i < count; ++i) o[i] *= g;
}

void CpuLayerOps::rope() {
  const int hd = cfg_.head_dim, qd = cfg_.q_dim(), qkvd = cfg_.qkv_dim(), T = tokens_;
  if (pos0_ + T > rope_positions_) {
    rope_positions_ = std::max(pos0_ + T, 2 * rope_positions_);
    rope_table(cfg_, rope_positions_, rope_cos_, rope_sin_);
  }
  const int64_t rows = int64_t(M_) * batch_ * T;  // the members' rows are contiguous
  float* qkv = ptr({Buf::Qkv, 0});
  const int half = hd / 2;
#pragma omp parallel for
  for (int64_t r = 0; r < rows; ++r) {
    const int pos = pos0_ + static_cast<int>(r % T);
    float* row = qkv + r * qkvd;
    const float* c = rope_cos_.data() + int64_t(pos) * half;
    const float* s = rope_sin_.data() + int64_t(pos) * half;
    rope_rotate(row, cfg_.n_head, hd, c, s);
    rope_rotate(row + qd, cfg_.n_kv_head, hd, c, s);
  }
}

// Keys and values: straight from the qkv buffer, or appended to this application's cache slot.
void CpuLayerOps::attend(const Application& app, const std::vector<const LayerWeights*>& layers) {
  const int B = batch_, T = tokens_, pos0 = pos0_, qd = cfg_.q_dim(), kvd = cfg_.kv_dim(), qkvd = cfg_.qkv_dim();
  const size_t probs_per = size_t(cfg_.n_head) * T * (pos0 + T);
  float* probs = inspector_ ? slot(kProbs, M_ * probs_per) : nullptr;
  std::vector<AttentionArgs> attn(M_);
  for (int m = 0; m < M_; ++m) {
    const float* base = ptr({Buf::Qkv, m});
    AttentionArgs& a = attn[m];
    a.q = base, a.q_stride = qkvd;
    a.out = ptr({Buf::Ctx, m}), a.out_stride = qd;
    if (probs) a.probs = probs + m * probs_per;
    if (cfg_.shaped_attention)
      a.alpha = layers[m]->attn_alpha.data, a.beta = layers[m]->attn_beta.data, a.gamma = layers[m]->attn_gamma.data;
    if (kv_) {
      if (pos0 + T > kv_->capacity) fail("kv cache", "sequence longer than the cache capacity");
      float* kc = kv_->k[app.slots[m]].data();
      float* vc = kv_->v[app.slots[m]].data();
      for (int b = 0; b < B; ++b)
        for (int t = 0; t < T; ++t) {
          const float* src = base + (int64_t(b) * T + t) * qkvd;
          const int64_t dst = (int64_t(b) * kv_->capacity + pos0 + t) * kvd;
          std::memcpy(kc + dst, src + qd, sizeof(float) * kvd);
          std::memcpy(vc + dst, src + qd + kvd, sizeof(float) * kvd);
        }
      a.k = kc, a.v = vc, a.kv_stride = kvd, a.kv_batch_stride = int64_t(kv_->capacity) * kvd;
    } else {
      a.k = base + qd, a.v = base + qd + kvd, a.kv_stride = qkvd, a.kv_batch_stride = int64_t(T) * qkvd;
    }
  }
  attention({B, T, kv_ ? pos0 : 0, cfg_.n_head, cfg_.n_kv_head, cfg_.head_dim, cfg_.causal}, attn);
}

void CpuLayerOps::activate() {
  const int64_t rows = int64_t(M_) * batch_ * tokens_;
  float* up = ptr({Buf::Up, 0});
  if (cfg_.gated())
    swiglu(up, ptr({Buf::Mlp, 0}), rows, cfg_.d_ff);
  else
    activate_rows(up, size_t(rows) * cfg_.up_rows());
}

void CpuLayerOps::mean_of_members() {
  const size_t n = size_t(batch_) * tokens_ * cfg_.d_model;
  const float* outs = ptr({Buf::Out, 0});
  const float inv = 1.0f / M_;
  const int M = M_;
#pragma omp parallel for if (n > 65536)
  for (size_t i = 0; i < n; ++i) {
    float s = 0;
    for (int m = 0; m < M; ++m) s += outs[n * m + i];
    x_[i] = s * inv;
  }
}

void CpuLayerOps::trace(const Application& app) {
  if (!inspector_) return;
  const size_t probs_per = size_t(cfg_.n_head) * tokens_ * (pos0_ + tokens_);
  for (int m = 0; m < M_; ++m) {
    LayerTrace t;
    t.step = app.step, t.member = m, t.iteration = app.iteration, t.layer = app.layers[m];
    t.tokens = tokens_, t.keys = pos0_ + tokens_;
    t.attn_probs = bufs_[kProbs].data() + m * probs_per;
    t.qkv = ptr({Buf::Qkv, m});
    t.mlp_act = ptr({Buf::Mlp, m});
    t.output = ptr({Buf::Out, m});
    inspector_->on_layer(t);
  }
}

}  // namespace layerlab::cpu
