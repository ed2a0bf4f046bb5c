// The masked-LM head's forward and backward on the chosen rows only, and BERT's masking.
#include "train/mlm_head.h"

#include <cmath>

#include "layerlab/error.h"
#include "train/kernels.h"

namespace layerlab::finetune {

std::vector<train::TensorSpec> mlm_head_layout(int d_model, int vocab, int64_t offset0) {
  if (d_model <= 0 || vocab <= 0) fail("mlm", "bad head shape");
  std::vector<train::TensorSpec> out;
  int64_t off = offset0;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, bool matrix, train::Init init) {
    train::append_tensor(out, off, name, std::move(shape), init, matrix);
  };
  const int64_t d = d_model;
  add("cls.predictions.transform.dense.weight", {d, d}, true, train::Init::Normal);
  add("cls.predictions.transform.dense.bias", {d}, false, train::Init::Zero);
  add("cls.predictions.transform.LayerNorm.weight", {d}, false, train::Init::One);
  add("cls.predictions.transform.LayerNorm.bias", {d}, false, train::Init::Zero);
  add("cls.predictions.bias", {vocab}, false, train::Init::Zero);
  return out;
}

template <class T>
MlmHead<T>::MlmHead(int d_model, int vocab, double norm_eps)
    : d_(d_model), V_(vocab), eps_(norm_eps), layout_(mlm_head_layout(d_model, vocab)) {}

template <class T>
double MlmHead<T>::loss(const T* p, const T* wte, const T* h, int n, const std::vector<int>& pos,
                        const std::vector<int32_t>& target, double scale, T* head_g, T* wte_g, T* dh) {
  const int d = d_, V = V_, m = int(pos.size());
  if (target.size() != pos.size()) fail("mlm", "one target per chosen position");
  const bool backward = head_g && wte_g && dh;
  if (backward) std::fill(dh, dh + int64_t(n) * d, T(0));
  if (m == 0) return 0;
  const T *W = p, *b = W + int64_t(d) * d, *lw = b + d, *lb = lw + d, *ob = lb + d;
  std::vector<T> x(size_t(m) * d), u(size_t(m) * d), g(size_t(m) * d), t(size_t(m) * d), mean(m), rstd(m),
      z(size_t(m) * V);
  for (int i = 0; i < m; ++i) {
    if (pos[i] < 0 || pos[i] >= n) fail("mlm", "chosen position out of range");
    std::copy(h + int64_t(pos[i]) * d, h + int64_t(pos[i] + 1) * d, x.begin() + int64_t(i) * d);
  }
  train::k::linear_forward(u.data(), x.data(), W, b, m, d, d);
  const double kInvSqrt2 = 0.70710678118654752440;
  for (size_t i = 0; i < u.size(); ++i) g[i] = T(0.5 * u[i] * (1.0 + std::erf(double(u[i]) * kInvSqrt2)));
  train::k::layernorm_forward(t.data(), mean.data(), rstd.data(), g.data(), lw, lb, m, d, eps_);
  train::k::linear_forward(z.data(), t.data(), wte, ob, m, d, V);  // decoder: t wte^T + bias
  double total = 0;
  for (int i = 0; i < m; ++i) {
    if (target[i] < 0 || target[i] >= V) fail("mlm", "target token out of the vocabulary");
    T* zr = z.data() + int64_t(i) * V;
    double mx = zr[0];
    for (int j = 1; j < V; ++j) mx = std::max(mx, double(zr[j]));
    double s = 0;
    for (int j = 0; j < V; ++j) s += std::exp(double(zr[j]) - mx);
    const double lse = mx + std::log(s);
    total += lse - double(zr[target[i]]);
    if (backward)  // z becomes dz = scale (softmax - onehot)
      for (int j = 0; j < V; ++j) zr[j] = T(scale * (std::exp(double(zr[j]) - lse) - (j == target[i] ? 1.0 : 0.0)));
  }
  if (!backward) return total;
  T *gW = head_g, *gb = gW + int64_t(d) * d, *glw = gb + d, *glb = glw + d, *gob = glb + d;
  std::vector<T> dt(size_t(m) * d), dg(size_t(m) * d), dx(size_t(m) * d);
  train::k::linear_backward(dt.data(), false, wte_g, gob, z.data(), t.data(), wte, m, d, V);
  train::k::layernorm_backward(dg.data(), false, glw, glb, dt.data(), g.data(), mean.data(), rstd.data(), lw, m, d);
  const double kInvSqrt2Pi = 0.39894228040143267794;
  for (size_t i = 0; i < u.size(); ++i) {
    const double v = u[i];
    dg[i] = T(dg[i] * (0.5 * (1.0 + std::erf(v * kInvSqrt2)) + v * kInvSqrt2Pi * std::exp(-0.5 * v * v)));
  }
  train::k::linear_backward(dx.data(), false, gW, gb, dg.data(), x.data(), W, m, d, d);
  for (int i = 0; i < m; ++i)  // a position chosen twice gets both gradients
    for (int c = 0; c < d; ++c) dh[int64_t(pos[i]) * d + c] += dx[int64_t(i) * d + c];
  return total;
}

template class MlmHead<float>;
template class MlmHead<double>;

Masked mask_tokens(const std::vector<int32_t>& ids, const std::vector<bool>& special, int32_t mask_id, int vocab,
                   double rate, std::mt19937_64& rng) {
  if (special.size() != ids.size()) fail("mlm", "one special flag per token");
  if (rate < 0 || rate > 1) fail_option("mask_rate", "must be in [0, 1]");
  std::uniform_real_distribution<double> u(0, 1);
  std::uniform_int_distribution<int32_t> tok(0, vocab - 1);
  Masked m{ids, {}, {}};
  for (size_t i = 0; i < ids.size(); ++i) {
    if (special[i] || u(rng) >= rate) continue;
    m.positions.push_back(int(i));
    m.targets.push_back(ids[i]);
    const double r = u(rng);
    if (r < 0.8) m.ids[i] = mask_id;
    else if (r < 0.9) m.ids[i] = tok(rng);
  }
  return m;
}

}  // namespace layerlab::finetune
