// BERT encoder forward / backward under a plan (see encoder_model.h). One sequence at a time
// (no padding, so no attention mask): products through train/kernels.h (oneDNN for float,
// OpenBLAS for double), attention and GELU written out here.
#include "train/encoder_model.h"

#include <cmath>

#include "layerlab/error.h"
#include "train/kernels.h"

namespace layerlab::finetune {

namespace {

void add_spec(std::vector<train::TensorSpec>& out, int64_t& off, const std::string& name, std::vector<int64_t> shape,
              bool matrix) {
  train::append_tensor(out, off, name, std::move(shape), matrix ? train::Init::Normal : train::Init::Zero, matrix);
}

// Offsets of one layer's tensors, in encoder_layout's order.
struct LayerOff {
  int64_t q, qb, k, kb, v, vb, o, ob, ln1, ln1b, up, upb, down, downb, ln2, ln2b;
};

}  // namespace

std::vector<train::TensorSpec> encoder_layout(const EncoderShape& s, int64_t off) {
  if (s.n_layer <= 0 || s.d_model <= 0 || s.n_head <= 0 || s.d_model % s.n_head || s.d_ff <= 0 || s.vocab <= 0 ||
      s.max_positions <= 0 || s.type_vocab <= 0)
    fail("finetune", "bad encoder shape");
  std::vector<train::TensorSpec> out;
  const int64_t d = s.d_model, ff = s.d_ff;
  const std::string e = "bert.embeddings.";
  add_spec(out, off, e + "word_embeddings.weight", {s.vocab, d}, true);
  add_spec(out, off, e + "position_embeddings.weight", {s.max_positions, d}, true);
  add_spec(out, off, e + "token_type_embeddings.weight", {s.type_vocab, d}, true);
  add_spec(out, off, e + "LayerNorm.weight", {d}, false);
  add_spec(out, off, e + "LayerNorm.bias", {d}, false);
  for (int l = 0; l < s.n_layer; ++l) {
    const std::string p = "bert.encoder.layer." + std::to_string(l) + ".";
    for (const char* n : {"query", "key", "value"}) {
      add_spec(out, off, p + "attention.self." + n + ".weight", {d, d}, true);
      add_spec(out, off, p + "attention.self." + n + ".bias", {d}, false);
    }
    add_spec(out, off, p + "attention.output.dense.weight", {d, d}, true);
    add_spec(out, off, p + "attention.output.dense.bias", {d}, false);
    add_spec(out, off, p + "attention.output.LayerNorm.weight", {d}, false);
    add_spec(out, off, p + "attention.output.LayerNorm.bias", {d}, false);
    add_spec(out, off, p + "intermediate.dense.weight", {ff, d}, true);
    add_spec(out, off, p + "intermediate.dense.bias", {ff}, false);
    add_spec(out, off, p + "output.dense.weight", {d, ff}, true);
    add_spec(out, off, p + "output.dense.bias", {d}, false);
    add_spec(out, off, p + "output.LayerNorm.weight", {d}, false);
    add_spec(out, off, p + "output.LayerNorm.bias", {d}, false);
  }
  for (auto& t : out) t.init = train::Init::Zero;  // loaded from the checkpoint, never drawn
  return out;
}

// Activations of one layer application.
template <class T>
struct LayerActs {
  std::vector<T> x, q, k, v, p, ctx, h1pre, m1, r1, h1, u, g, outpre, m2, r2, out;
};

template <class T>
struct EncoderModel<T>::Acts {
  int n = 0;
  std::vector<int32_t> ids, types;
  std::vector<T> e, em, er, x0;                // embeddings sum, its LN stats, LN output
  std::vector<LayerActs<T>> apps;               // in plan order: step, iteration, member
  std::vector<T> out;
};

template <class T>
EncoderModel<T>::EncoderModel(const EncoderShape& s, const Plan& plan) : s_(s), plan_(plan), layout_(encoder_layout(s)) {
  validate_plan(plan, s.n_layer);
}

template <class T>
EncoderModel<T>::~EncoderModel() {
  for (Acts* a : slots_) delete a;
}

template <class T>
void EncoderModel<T>::reserve_slots(int n) {
  while (int(slots_.size()) < n) slots_.push_back(new Acts);
}

namespace {

LayerOff layer_off(const std::vector<train::TensorSpec>& L, int l) {
  const size_t b = 5 + size_t(l) * 16;
  auto o = [&](size_t i) { return L[b + i].offset; };
  return {o(0), o(1), o(2), o(3), o(4), o(5), o(6), o(7), o(8), o(9), o(10), o(11), o(12), o(13), o(14), o(15)};
}

constexpr double kInvSqrt2 = 0.70710678118654752440, kInvSqrt2Pi = 0.39894228040143267794;

template <class T>
void layer_forward(LayerActs<T>& a, const T* P, const LayerOff& o, int n, int d, int ff, int H, double eps) {
  using namespace train::k;
  const int hd = d / H;
  a.q.resize(size_t(n) * d), a.k.resize(a.q.size()), a.v.resize(a.q.size());
  linear_forward(a.q.data(), a.x.data(), P + o.q, P + o.qb, n, d, d);
  linear_forward(a.k.data(), a.x.data(), P + o.k, P + o.kb, n, d, d);
  linear_forward(a.v.data(), a.x.data(), P + o.v, P + o.vb, n, d, d);
  a.p.assign(size_t(H) * n * n, T(0));
  a.ctx.assign(size_t(n) * d, T(0));
  const double scale = 1.0 / std::sqrt(double(hd));
  for (int h = 0; h < H; ++h)
    for (int i = 0; i < n; ++i) {
      T* pr = a.p.data() + (size_t(h) * n + i) * n;
      double mx = -1e300;
      for (int j = 0; j < n; ++j) {
        double dot = 0;
        for (int c = 0; c < hd; ++c) dot += double(a.q[size_t(i) * d + h * hd + c]) * a.k[size_t(j) * d + h * hd + c];
        pr[j] = T(dot * scale);
        mx = std::max(mx, double(pr[j]));
      }
      double z = 0;
      for (int j = 0; j < n; ++j) z += (pr[j] = T(std::exp(double(pr[j]) - mx)));
      for (int j = 0; j < n; ++j) pr[j] = T(pr[j] / z);
      for (int j = 0; j < n; ++j)
        for (int c = 0; c < hd; ++c) a.ctx[size_t(i) * d + h * hd + c] += pr[j] * a.v[size_t(j) * d + h * hd + c];
    }
  a.h1pre.resize(size_t(n) * d);
  linear_forward(a.h1pre.data(), a.ctx.data(), P + o.o, P + o.ob, n, d, d);
  for (size_t i = 0; i < a.h1pre.size(); ++i) a.h1pre[i] += a.x[i];
  a.h1.resize(a.h1pre.size()), a.m1.resize(n), a.r1.resize(n);
  layernorm_forward(a.h1.data(), a.m1.data(), a.r1.data(), a.h1pre.data(), P + o.ln1, P + o.ln1b, n, d, eps);
  a.u.resize(size_t(n) * ff), a.g.resize(a.u.size());
  linear_forward(a.u.data(), a.h1.data(), P + o.up, P + o.upb, n, d, ff);
  for (size_t i = 0; i < a.u.size(); ++i) a.g[i] = T(0.5 * a.u[i] * (1.0 + std::erf(double(a.u[i]) * kInvSqrt2)));
  a.outpre.resize(size_t(n) * d);
  linear_forward(a.outpre.data(), a.g.data(), P + o.down, P + o.downb, n, ff, d);
  for (size_t i = 0; i < a.outpre.size(); ++i) a.outpre[i] += a.h1[i];
  a.out.resize(a.outpre.size()), a.m2.resize(n), a.r2.resize(n);
  layernorm_forward(a.out.data(), a.m2.data(), a.r2.data(), a.outpre.data(), P + o.ln2, P + o.ln2b, n, d, eps);
}

// dx = d loss / d a.x given dout; parameter gradients accumulate into G.
template <class T>
void layer_backward(std::vector<T>& dx, const LayerActs<T>& a, const T* P, T* G, const LayerOff& o, const std::vector<T>& dout,
                    int n, int d, int ff, int H) {
  using namespace train::k;
  const int hd = d / H;
  std::vector<T> doutpre(size_t(n) * d), dg(size_t(n) * ff), dh1(size_t(n) * d), dh1pre(size_t(n) * d), dctx(size_t(n) * d);
  layernorm_backward(doutpre.data(), false, G + o.ln2, G + o.ln2b, dout.data(), a.outpre.data(), a.m2.data(), a.r2.data(),
                     P + o.ln2, n, d);
  linear_backward(dg.data(), false, G + o.down, G + o.downb, doutpre.data(), a.g.data(), P + o.down, n, ff, d);
  for (size_t i = 0; i < dg.size(); ++i) {
    const double u = a.u[i];
    dg[i] = T(dg[i] * (0.5 * (1.0 + std::erf(u * kInvSqrt2)) + u * kInvSqrt2Pi * std::exp(-0.5 * u * u)));
  }
  dh1 = doutpre;  // residual
  linear_backward(dh1.data(), true, G + o.up, G + o.upb, dg.data(), a.h1.data(), P + o.up, n, d, ff);
  layernorm_backward(dh1pre.data(), false, G + o.ln1, G + o.ln1b, dh1.data(), a.h1pre.data(), a.m1.data(), a.r1.data(),
                     P + o.ln1, n, d);
  linear_backward(dctx.data(), false, G + o.o, G + o.ob, dh1pre.data(), a.ctx.data(), P + o.o, n, d, d);
  std::vector<T> dq(size_t(n) * d, T(0)), dk(dq.size(), T(0)), dv(dq.size(), T(0)), dpr(n);
  const double scale = 1.0 / std::sqrt(double(hd));
  for (int h = 0; h < H; ++h)
    for (int i = 0; i < n; ++i) {
      const T* pr = a.p.data() + (size_t(h) * n + i) * n;
      const T* dc = dctx.data() + size_t(i) * d + h * hd;
      double dot_pp = 0;
      for (int j = 0; j < n; ++j) {
        double s = 0;
        for (int c = 0; c < hd; ++c) {
          s += double(dc[c]) * a.v[size_t(j) * d + h * hd + c];
          dv[size_t(j) * d + h * hd + c] += pr[j] * dc[c];
        }
        dpr[j] = T(s);
        dot_pp += s * pr[j];
      }
      for (int j = 0; j < n; ++j) {
        const double ds = double(pr[j]) * (double(dpr[j]) - dot_pp) * scale;  // softmax backward, then the scale
        for (int c = 0; c < hd; ++c) {
          dq[size_t(i) * d + h * hd + c] += T(ds * a.k[size_t(j) * d + h * hd + c]);
          dk[size_t(j) * d + h * hd + c] += T(ds * a.q[size_t(i) * d + h * hd + c]);
        }
      }
    }
  dx = dh1pre;  // residual
  linear_backward(dx.data(), true, G + o.q, G + o.qb, dq.data(), a.x.data(), P + o.q, n, d, d);
  linear_backward(dx.data(), true, G + o.k, G + o.kb, dk.data(), a.x.data(), P + o.k, n, d, d);
  linear_backward(dx.data(), true, G + o.v, G + o.vb, dv.data(), a.x.data(), P + o.v, n, d, d);
}

}  // namespace

template <class T>
const std::vector<T>& EncoderModel<T>::forward(const T* P, const std::vector<int32_t>& ids, const std::vector<int32_t>& types,
                                               int slot) {
  reserve_slots(slot + 1);
  Acts& a = *slots_[size_t(slot)];
  const int n = int(ids.size()), d = s_.d_model;
  if (n <= 0 || n > s_.max_positions || types.size() != ids.size()) fail("finetune", "bad sequence length");
  a.n = n, a.ids = ids, a.types = types;
  const int64_t we = layout_[0].offset, pe = layout_[1].offset, te = layout_[2].offset;
  a.e.assign(size_t(n) * d, T(0));
  for (int t = 0; t < n; ++t) {
    if (ids[t] < 0 || ids[t] >= s_.vocab || types[t] < 0 || types[t] >= s_.type_vocab) fail("finetune", "id or type out of range");
    for (int c = 0; c < d; ++c)
      a.e[size_t(t) * d + c] = P[we + int64_t(ids[t]) * d + c] + P[pe + int64_t(t) * d + c] + P[te + int64_t(types[t]) * d + c];
  }
  a.x0.resize(a.e.size()), a.em.resize(n), a.er.resize(n);
  train::k::layernorm_forward(a.x0.data(), a.em.data(), a.er.data(), a.e.data(), P + layout_[3].offset, P + layout_[4].offset, n,
                              d, s_.norm_eps);
  a.apps.clear();
  std::vector<T> x = a.x0;
  for (const PlanStep& st : plan_.steps)
    for (int it = 0; it < st.iterations; ++it) {
      std::vector<T> mean(x.size(), T(0));
      for (int l : st.layers) {
        a.apps.emplace_back();
        LayerActs<T>& la = a.apps.back();
        la.x = x;
        layer_forward(la, P, layer_off(layout_, l), n, d, s_.d_ff, s_.n_head, s_.norm_eps);
        for (size_t i = 0; i < x.size(); ++i) mean[i] += la.out[i] / T(st.layers.size());
      }
      x = std::move(mean);
    }
  a.out = std::move(x);
  return a.out;
}

template <class T>
void EncoderModel<T>::backward(const T* P, T* G, const std::vector<T>& dout, int slot) {
  Acts& a = *slots_.at(size_t(slot));
  const int n = a.n, d = s_.d_model;
  std::vector<T> dx = dout, dmember;
  size_t app = a.apps.size();
  for (size_t si = plan_.steps.size(); si-- > 0;) {
    const PlanStep& st = plan_.steps[si];
    const T share = T(1) / T(st.layers.size());
    for (int it = st.iterations; it-- > 0;) {
      std::vector<T> dy(dx.size()), din(dx.size(), T(0));
      for (size_t i = 0; i < dx.size(); ++i) dy[i] = dx[i] * share;  // the mean's gradient, split
      for (size_t m = st.layers.size(); m-- > 0;) {
        --app;
        layer_backward(dmember, a.apps[app], P, G, layer_off(layout_, st.layers[m]), dy, n, d, s_.d_ff, s_.n_head);
        for (size_t i = 0; i < din.size(); ++i) din[i] += dmember[i];  // every member read the same input
      }
      dx = std::move(din);
    }
  }
  std::vector<T> de(dx.size());
  train::k::layernorm_backward(de.data(), false, G + layout_[3].offset, G + layout_[4].offset, dx.data(), a.e.data(),
                               a.em.data(), a.er.data(), P + layout_[3].offset, n, d);
  const int64_t we = layout_[0].offset, pe = layout_[1].offset, te = layout_[2].offset;
  for (int t = 0; t < n; ++t)
    for (int c = 0; c < d; ++c) {
      const T g = de[size_t(t) * d + c];
      G[we + int64_t(a.ids[t]) * d + c] += g;
      G[pe + int64_t(t) * d + c] += g;
      G[te + int64_t(a.types[t]) * d + c] += g;
    }
}

template class EncoderModel<float>;
template class EncoderModel<double>;

}  // namespace layerlab::finetune
