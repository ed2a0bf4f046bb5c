// The trainable transformer: forward pass keeping activations, and its backward pass, for
// the four block types of include/layerlab/train.h.
#include <omp.h>

#include <random>

#include "kernels.h"
#include "layer_index.h"
#include "layerlab/error.h"
#include "layerlab/train.h"

namespace layerlab::train {

template <class T>
struct Transformer<T>::Acts {
  struct Layer {
    std::vector<T> x;                          // input [N,C]
    std::vector<T> ln1, ln1_mean, ln1_rstd;    // first norm
    std::vector<T> qkv;                        // [N,3C] or shaped [N,2C]
    std::vector<T> v;                          // shaped layer 0: xa + xa Wv^T
    std::vector<T> p;                          // [B,H,L,L]
    std::vector<T> y;                          // attention output before projection [N,C]
    std::vector<T> h;                          // preln/sas: stream after the attention sub-block
    std::vector<T> ln2, ln2_mean, ln2_rstd;
    std::vector<T> u, g;                       // MLP pre/post activation [N,F]
    std::vector<T> m;                          // MLP output [N,C]
  };
  std::vector<LayerIdx> idx;
  int64_t wte = 0, wpe = 0, lnf_w = 0, lnf_b = 0;
  int B = 0, L = 0;
  std::vector<int32_t> inputs, targets;
  std::vector<Layer> layers;
  std::vector<T> xL, lnf, lnf_mean, lnf_rstd, logits, row_loss;
  bool have_forward = false;
};

template <class T>
Transformer<T>::Transformer(const ModelShape& shape) : shape_(shape), layout_(parameter_layout(shape)) {
  shape_.validate("model");
  const int64_t n = parameter_count(layout_);
  params_.assign(n, T(0));
  grads_.assign(n, T(0));
  acts_ = new Acts;
  auto off = [&](const std::string& name) -> int64_t {
    for (const auto& t : layout_)
      if (t.name == name) return t.offset;
    return -1;
  };
  acts_->wte = off("wte");
  acts_->wpe = off("wpe");
  acts_->lnf_w = off("ln_f.weight");
  acts_->lnf_b = off("ln_f.bias");
  for (int l = 0; l < shape_.n_layer; ++l) acts_->idx.push_back(layer_index(l, off));
}

template <class T>
Transformer<T>::~Transformer() {
  delete acts_;
}

template <class T>
const TensorSpec& Transformer<T>::spec(const std::string& name) const {
  for (const auto& t : layout_)
    if (t.name == name) return t;
  fail("model", "no parameter named '" + name + "'");
}

template <class T>
void Transformer<T>::init(uint64_t seed) {
  // One generator per tensor, seeded from (seed, tensor index): adding a tensor never shifts the
  // initial values of the others. Box-Muller on mt19937_64 so every platform draws the same.
  for (size_t i = 0; i < layout_.size(); ++i) {
    const TensorSpec& t = layout_[i];
    T* w = params_.data() + t.offset;
    std::mt19937_64 rng(seed * 1000003ULL + i);
    for (int64_t j = 0; j < t.numel; ++j) {
      switch (t.init) {
        case Init::Zero: w[j] = 0; break;
        case Init::One: w[j] = 1; break;
        case Init::Constant: w[j] = T(t.value); break;
        case Init::Normal: {
          const double u1 = (double(rng() >> 11) + 0.5) * 0x1.0p-53;
          const double u2 = double(rng() >> 11) * 0x1.0p-53;
          w[j] = T(t.value * std::sqrt(-2.0 * std::log(u1)) * std::cos(2 * M_PI * u2));
          break;
        }
      }
    }
  }
}

template <class T>
double Transformer<T>::forward(const int32_t* inputs, const int32_t* targets, int B, int L) {
  const ModelShape& s = shape_;
  if (B <= 0 || L <= 0 || L > s.context)
    fail("train", "batch " + std::to_string(B) + " x length " + std::to_string(L) + " does not fit context " +
                      std::to_string(s.context));
  Acts& A = *acts_;
  const int C = s.d_model, F = s.ff(), H = s.n_head, hd = s.head_dim(), V = s.vocab;
  const int N = B * L;
  for (int i = 0; i < N; ++i)
    if (inputs[i] < 0 || inputs[i] >= V || targets[i] < 0 || targets[i] >= V)
      fail("train", "token id out of range [0, " + std::to_string(V) + ") at position " + std::to_string(i));
  A.B = B;
  A.L = L;
  A.inputs.assign(inputs, inputs + N);
  A.targets.assign(targets, targets + N);
  A.layers.resize(s.n_layer);
  const T* P = params_.data();

  std::vector<T> x(int64_t(N) * C);
  for (int n = 0; n < N; ++n) {
    const T* te = P + A.wte + int64_t(inputs[n]) * C;
    const T* pe = P + A.wpe + int64_t(n % L) * C;
    for (int c = 0; c < C; ++c) x[int64_t(n) * C + c] = te[c] + pe[c];
  }
  const int64_t NC = int64_t(N) * C;
  for (int l = 0; l < s.n_layer; ++l) {
    auto& a = A.layers[l];
    const LayerIdx& I = A.idx[l];
    a.x = x;
    // Attention input.
    const T* xa = a.x.data();
    if (I.ln1_w >= 0) {
      a.ln1.resize(NC);
      a.ln1_mean.resize(N);
      a.ln1_rstd.resize(N);
      k::layernorm_forward(a.ln1.data(), a.ln1_mean.data(), a.ln1_rstd.data(), a.x.data(), P + I.ln1_w, P + I.ln1_b,
                           N, C, s.norm_eps);
      xa = a.ln1.data();
    }
    a.p.resize(int64_t(B) * H * L * L);
    a.y.resize(NC);
    std::vector<T> branch(NC);  // attention sub-block output before any gain / skip
    if (!s.shaped()) {
      a.qkv.resize(NC * 3);
      k::linear_forward(a.qkv.data(), xa, P + I.attn_w, P + I.attn_b, N, C, 3 * C);
      const T* q = a.qkv.data();
      k::attention_forward<T>(a.y.data(), a.p.data(), {q, q + C, q + 2 * C, 3 * C, 3 * C, 3 * C}, {}, B, L, H, hd);
      k::linear_forward(branch.data(), a.y.data(), P + I.proj_w, P + I.proj_b, N, C, C);
    } else {
      a.qkv.resize(NC * 2);
      k::linear_forward(a.qkv.data(), xa, P + I.qk_w, P + I.qk_b, N, C, 2 * C);
      const T* v = xa;
      if (I.v_resid >= 0) {
        a.v.resize(NC);
        k::linear_forward(a.v.data(), xa, P + I.v_resid, static_cast<const T*>(nullptr), N, C, C);
        for (int64_t i = 0; i < NC; ++i) a.v[i] += xa[i];
        v = a.v.data();
      }
      const T* q = a.qkv.data();
      k::Shape<T> sh{P + I.coef, P + I.coef + H, P + I.coef + 2 * H};
      k::attention_forward<T>(a.y.data(), a.p.data(), {q, q + C, v, 2 * C, 2 * C, C}, sh, B, L, H, hd);
      const T ga = P[I.attn_gain];
      for (int64_t i = 0; i < NC; ++i) branch[i] = ga * a.y[i];
    }
    // MLP input.
    const T* xm = xa;
    if (!s.parallel()) {
      a.h.resize(NC);
      if (s.block == BlockKind::PreLN)
        for (int64_t i = 0; i < NC; ++i) a.h[i] = a.x[i] + branch[i];
      else
        a.h = branch;
      xm = a.h.data();
      if (I.ln2_w >= 0) {
        a.ln2.resize(NC);
        a.ln2_mean.resize(N);
        a.ln2_rstd.resize(N);
        k::layernorm_forward(a.ln2.data(), a.ln2_mean.data(), a.ln2_rstd.data(), a.h.data(), P + I.ln2_w,
                             P + I.ln2_b, N, C, s.norm_eps);
        xm = a.ln2.data();
      }
    }
    a.u.resize(int64_t(N) * F);
    a.g.resize(int64_t(N) * F);
    a.m.resize(NC);
    k::linear_forward(a.u.data(), xm, P + I.fc_w, P + I.fc_b, N, C, F);
    k::gelu_forward(a.g.data(), a.u.data(), int64_t(N) * F);
    k::linear_forward(a.m.data(), a.g.data(), P + I.fc2_w, P + I.fc2_b, N, F, C);
    // Block output.
    switch (s.block) {
      case BlockKind::PreLN:
        for (int64_t i = 0; i < NC; ++i) x[i] = a.h[i] + a.m[i];
        break;
      case BlockKind::Parallel:
        for (int64_t i = 0; i < NC; ++i) x[i] = a.x[i] + branch[i] + a.m[i];
        break;
      case BlockKind::SAS: {
        const T sk = P[I.mlp_skip], gf = P[I.mlp_gain];
        for (int64_t i = 0; i < NC; ++i) x[i] = sk * a.h[i] + gf * a.m[i];
        break;
      }
      case BlockKind::SASP: {
        const T gf = P[I.mlp_gain];
        for (int64_t i = 0; i < NC; ++i) x[i] = branch[i] + gf * a.m[i];
        break;
      }
    }
  }
  A.xL = x;
  A.lnf.resize(NC);
  A.lnf_mean.resize(N);
  A.lnf_rstd.resize(N);
  k::layernorm_forward(A.lnf.data(), A.lnf_mean.data(), A.lnf_rstd.data(), A.xL.data(), P + A.lnf_w, P + A.lnf_b, N,
                       C, s.norm_eps);
  // Tied head; logits are turned into probabilities in place (backward needs only those).
  A.logits.resize(int64_t(N) * V);
  k::linear_forward(A.logits.data(), A.lnf.data(), P + A.wte, static_cast<const T*>(nullptr), N, C, V);
  A.row_loss.resize(N);
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    T* r = A.logits.data() + int64_t(n) * V;
    T mx = r[0];
    for (int v = 1; v < V; ++v) mx = std::max(mx, r[v]);
    double sum = 0;
    for (int v = 0; v < V; ++v) {
      r[v] = std::exp(r[v] - mx);
      sum += r[v];
    }
    const T inv = T(1.0 / sum);
    for (int v = 0; v < V; ++v) r[v] *= inv;
    A.row_loss[n] = T(-std::log(double(r[targets[n]])));
  }
  double loss = 0;
  for (int n = 0; n < N; ++n) loss += A.row_loss[n];
  A.have_forward = true;
  return loss / N;
}

template <class T>
void Transformer<T>::backward() {
  Acts& A = *acts_;
  if (!A.have_forward) fail("train", "backward() without a forward()");
  const ModelShape& s = shape_;
  const int B = A.B, L = A.L, N = B * L;
  const int C = s.d_model, F = s.ff(), H = s.n_head, hd = s.head_dim(), V = s.vocab;
  const int64_t NC = int64_t(N) * C;
  const T* P = params_.data();
  T* G = grads_.data();
  std::fill(grads_.begin(), grads_.end(), T(0));

  // d loss / d logits = (softmax - onehot) / N, in place.
  T* dlogits = A.logits.data();
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    T* r = dlogits + int64_t(n) * V;
    r[A.targets[n]] -= T(1);
    for (int v = 0; v < V; ++v) r[v] /= T(N);
  }
  std::vector<T> dlnf(NC), dx(NC);
  k::linear_backward(dlnf.data(), false, G + A.wte, static_cast<T*>(nullptr), dlogits, A.lnf.data(), P + A.wte, N, C,
                     V);
  k::layernorm_backward(dx.data(), false, G + A.lnf_w, G + A.lnf_b, dlnf.data(), A.xL.data(), A.lnf_mean.data(),
                        A.lnf_rstd.data(), P + A.lnf_w, N, C);
  A.have_forward = false;  // the probabilities were overwritten

  std::vector<T> dxa(NC), dxm(NC), dh(NC), dy(NC), dm(NC), dqkv(NC * 3), dv(NC), dg(int64_t(N) * F),
      du(int64_t(N) * F), tmp(NC);
  for (int l = s.n_layer - 1; l >= 0; --l) {
    auto& a = A.layers[l];
    const LayerIdx& I = A.idx[l];
    const T* xa = I.ln1_w >= 0 ? a.ln1.data() : a.x.data();
    const T* xm = s.parallel() ? xa : (I.ln2_w >= 0 ? a.ln2.data() : a.h.data());
    // Gradient reaching the MLP output (dm) and, for the skip blocks, the stream around it.
    switch (s.block) {
      case BlockKind::PreLN:
      case BlockKind::Parallel:
        dm = dx;
        break;
      case BlockKind::SAS:
        G[I.mlp_skip] += T(k::dot(dx.data(), a.h.data(), NC));
        G[I.mlp_gain] += T(k::dot(dx.data(), a.m.data(), NC));
        for (int64_t i = 0; i < NC; ++i) dm[i] = P[I.mlp_gain] * dx[i];
        break;
      case BlockKind::SASP:
        G[I.mlp_gain] += T(k::dot(dx.data(), a.m.data(), NC));
        for (int64_t i = 0; i < NC; ++i) dm[i] = P[I.mlp_gain] * dx[i];
        break;
    }
    // MLP: m = W2 gelu(W1 xm + b1) + b2.
    k::linear_backward(dg.data(), false, G + I.fc2_w, G + I.fc2_b, dm.data(), a.g.data(), P + I.fc2_w, N, F, C);
    k::gelu_backward(du.data(), a.u.data(), dg.data(), int64_t(N) * F);
    k::linear_backward(dxm.data(), false, G + I.fc_w, G + I.fc_b, du.data(), xm, P + I.fc_w, N, C, F);

    // Gradient reaching the attention sub-block's output (before its gain): dy_branch.
    std::vector<T>& dbranch = tmp;
    if (!s.parallel()) {
      // dh = (skip into the block output) + (MLP path through the second norm).
      if (s.block == BlockKind::PreLN)
        dh = dx;
      else
        for (int64_t i = 0; i < NC; ++i) dh[i] = P[I.mlp_skip] * dx[i];
      if (I.ln2_w >= 0)
        k::layernorm_backward(dh.data(), true, G + I.ln2_w, G + I.ln2_b, dxm.data(), a.h.data(), a.ln2_mean.data(),
                              a.ln2_rstd.data(), P + I.ln2_w, N, C);
      else
        for (int64_t i = 0; i < NC; ++i) dh[i] += dxm[i];
      dbranch = dh;
    } else {
      dbranch = dx;
    }
    // dx now becomes the gradient w.r.t. this layer's input: first the skip paths.
    if (s.block == BlockKind::PreLN)
      dx = dh;
    else if (s.block == BlockKind::Parallel)
      ;  // dx (the skip) is already the output gradient
    else
      std::fill(dx.begin(), dx.end(), T(0));
    // dxa collects the gradient w.r.t. the attention (and, parallel, MLP) input.
    if (s.parallel())
      dxa = dxm;
    else
      std::fill(dxa.begin(), dxa.end(), T(0));
    if (!s.shaped()) {
      k::linear_backward(dy.data(), false, G + I.proj_w, G + I.proj_b, dbranch.data(), a.y.data(), P + I.proj_w, N, C,
                         C);
      const T* q = a.qkv.data();
      T* dq = dqkv.data();
      k::attention_backward<T>(dq, dq + C, dq + 2 * C, 3 * C, 3 * C, 3 * C, nullptr, dy.data(), a.p.data(),
                               {q, q + C, q + 2 * C, 3 * C, 3 * C, 3 * C}, {}, B, L, H, hd);
      k::linear_backward(dxa.data(), true, G + I.attn_w, G + I.attn_b, dqkv.data(), xa, P + I.attn_w, N, C, 3 * C);
    } else {
      G[I.attn_gain] += T(k::dot(dbranch.data(), a.y.data(), NC));
      for (int64_t i = 0; i < NC; ++i) dy[i] = P[I.attn_gain] * dbranch[i];
      const T* q = a.qkv.data();
      const T* v = I.v_resid >= 0 ? a.v.data() : xa;
      T* dq = dqkv.data();
      k::Shape<T> sh{P + I.coef, P + I.coef + H, P + I.coef + 2 * H};
      k::attention_backward<T>(dq, dq + C, dv.data(), 2 * C, 2 * C, C, G + I.coef, dy.data(), a.p.data(),
                               {q, q + C, v, 2 * C, 2 * C, C}, sh, B, L, H, hd);
      k::linear_backward(dxa.data(), true, G + I.qk_w, G + I.qk_b, dqkv.data(), xa, P + I.qk_w, N, C, 2 * C);
      for (int64_t i = 0; i < NC; ++i) dxa[i] += dv[i];  // identity value path
      if (I.v_resid >= 0)
        k::linear_backward(dxa.data(), true, G + I.v_resid, static_cast<T*>(nullptr), dv.data(), xa, P + I.v_resid, N,
                           C, C);
    }
    if (I.ln1_w >= 0)
      k::layernorm_backward(dx.data(), true, G + I.ln1_w, G + I.ln1_b, dxa.data(), a.x.data(), a.ln1_mean.data(),
                            a.ln1_rstd.data(), P + I.ln1_w, N, C);
    else
      for (int64_t i = 0; i < NC; ++i) dx[i] += dxa[i];
  }
  // Embeddings (serial: fixed order for repeated tokens).
  for (int n = 0; n < N; ++n) {
    T* te = G + A.wte + int64_t(A.inputs[n]) * C;
    T* pe = G + A.wpe + int64_t(n % L) * C;
    for (int c = 0; c < C; ++c) {
      te[c] += dx[int64_t(n) * C + c];
      pe[c] += dx[int64_t(n) * C + c];
    }
  }
}

template class Transformer<float>;
template class Transformer<double>;

}  // namespace layerlab::train
