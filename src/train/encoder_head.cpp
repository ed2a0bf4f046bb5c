// BertForSequenceClassification's head (pooler dense + tanh, linear classifier; one output and
// squared error for regression), its backward, Hugging Face's initialisation and the linear
// warm-up / decay schedule.
#include <cmath>
#include <random>

#include "layerlab/error.h"
#include "layerlab/finetune.h"
#include "train/kernels.h"

namespace layerlab::finetune {

std::vector<train::TensorSpec> head_layout(const HeadShape& s) {
  if (s.d_model <= 0 || s.num_labels <= 0) fail("finetune", "bad head shape");
  std::vector<train::TensorSpec> out;
  int64_t off = 0;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, bool matrix) {
    train::append_tensor(out, off, name, std::move(shape), matrix ? train::Init::Normal : train::Init::Zero, matrix);
  };
  const int64_t d = s.d_model, L = s.num_labels;
  if (s.train_pooler) {
    add("bert.pooler.dense.weight", {d, d}, true);
    add("bert.pooler.dense.bias", {d}, false);
  }
  add("classifier.weight", {L, d}, true);
  add("classifier.bias", {L}, false);
  return out;
}

template <class T>
Head<T>::Head(const HeadShape& s) : shape_(s), layout_(head_layout(s)) {
  params_.assign(size_t(train::parameter_count(layout_)), T(0));
  grads_.assign(params_.size(), T(0));
}

template <class T>
std::vector<T> Head<T>::logits(const T* x, int B) {
  const int d = shape_.d_model, L = shape_.num_labels;
  const T* p = params_.data();
  const T* in = x;
  if (shape_.train_pooler) {
    pooled_.assign(size_t(B) * d, T(0));
    train::k::linear_forward(pooled_.data(), x, p, p + int64_t(d) * d, B, d, d);
    for (T& v : pooled_) v = std::tanh(v);
    in = pooled_.data();
    p += int64_t(d) * d + d;
  }
  z_.assign(size_t(B) * L, T(0));
  train::k::linear_forward(z_.data(), in, p, p + int64_t(L) * d, B, d, L);
  return z_;
}

template <class T>
double Head<T>::loss(const T* x, int B, const int* labels, const double* targets, bool backward, T* dx) {
  if (B <= 0) fail("finetune", "empty batch");
  const int d = shape_.d_model, L = shape_.num_labels;
  logits(x, B);
  std::vector<T> dz(size_t(B) * L, T(0));
  double total = 0;
  for (int b = 0; b < B; ++b) {
    const T* z = z_.data() + int64_t(b) * L;
    T* g = dz.data() + int64_t(b) * L;
    if (L == 1) {  // torch MSELoss on the squeezed output
      const double e = double(z[0]) - targets[b];
      total += e * e;
      g[0] = T(2 * e / B);
    } else {
      double mx = z[0];
      for (int j = 1; j < L; ++j) mx = std::max(mx, double(z[j]));
      double s = 0;
      for (int j = 0; j < L; ++j) s += std::exp(double(z[j]) - mx);
      const double lse = mx + std::log(s);
      total += lse - double(z[labels[b]]);
      for (int j = 0; j < L; ++j) g[j] = T((std::exp(double(z[j]) - lse) - (j == labels[b] ? 1.0 : 0.0)) / B);
    }
  }
  if (!backward) return total / B;
  std::fill(grads_.begin(), grads_.end(), T(0));
  const T* p = params_.data();
  T* gp = grads_.data();
  const int64_t pool = shape_.train_pooler ? int64_t(d) * d + d : 0;
  const T* in = shape_.train_pooler ? pooled_.data() : x;
  std::vector<T> dpool(size_t(B) * d, T(0));
  train::k::linear_backward(shape_.train_pooler || dx ? dpool.data() : static_cast<T*>(nullptr), false, gp + pool,
                            gp + pool + int64_t(L) * d, dz.data(), in, p + pool, B, d, L);
  if (shape_.train_pooler) {
    for (size_t i = 0; i < dpool.size(); ++i) dpool[i] *= T(1) - pooled_[i] * pooled_[i];  // tanh'
    train::k::linear_backward(dx, false, gp, gp + int64_t(d) * d, dpool.data(), x, p, B, d, d);
  } else if (dx) {
    std::copy(dpool.begin(), dpool.end(), dx);
  }
  return total / B;
}

template class Head<float>;
template class Head<double>;

void init_normal(std::vector<float>& params, const std::vector<train::TensorSpec>& layout, double init_std, uint64_t seed) {
  for (size_t i = 0; i < layout.size(); ++i) {
    const train::TensorSpec& t = layout[i];
    std::mt19937_64 rng(seed * 1000003ULL + i);
    for (int64_t j = 0; j < t.numel; ++j) {
      float v = 0;
      if (t.init == train::Init::Normal) {  // Box-Muller from raw 64-bit draws: the same everywhere
        const double u1 = (double(rng() >> 11) + 0.5) * 0x1.0p-53;
        const double u2 = double(rng() >> 11) * 0x1.0p-53;
        v = float(init_std * std::sqrt(-2.0 * std::log(u1)) * std::cos(2 * M_PI * u2));
      } else if (t.init == train::Init::One) {
        v = 1.0f;
      }
      params[size_t(t.offset + j)] = v;
    }
  }
}

double linear_schedule(double lr, int step, int warmup, int total) {
  if (step < warmup) return lr * double(step) / double(std::max(1, warmup));
  return lr * std::max(0.0, double(total - step) / double(std::max(1, total - warmup)));
}

}  // namespace layerlab::finetune
