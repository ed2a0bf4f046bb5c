// AdamW, the learning-rate schedule and gradient clipping (the same arithmetic as
// torch.optim.AdamW and torch.nn.utils.clip_grad_norm_, so runs can be compared step by step).
#include <cmath>

#include "layerlab/train.h"

namespace layerlab::train {

double learning_rate(const OptimConfig& c, int step, int total) {
  if (c.warmup > 0 && step < c.warmup) return c.lr * double(step + 1) / c.warmup;
  const int decay_steps = std::max(1, total - c.warmup);
  const double progress = std::min(1.0, double(step - c.warmup) / decay_steps);
  const double cosine = 0.5 * (1.0 + std::cos(M_PI * progress));
  return c.lr * (c.min_lr_ratio + (1.0 - c.min_lr_ratio) * cosine);
}

bool decays(const OptimConfig& c, const TensorSpec& t) {
  if (t.embedding) return c.decay_embeddings;
  return t.matrix;
}

float clip_coefficient(double norm, double max_norm) {
  return max_norm > 0 && norm > max_norm ? float(max_norm / (norm + 1e-6)) : 1.0f;
}

double clip_grad_norm(std::vector<float>& grads, double max_norm) {
  double sq = 0;
  for (float g : grads) sq += double(g) * g;
  const double norm = std::sqrt(sq);
  const float coef = clip_coefficient(norm, max_norm);
  if (coef != 1.0f) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < grads.size(); ++i) grads[i] *= coef;
  }
  return norm;
}

AdamScalars adam_scalars(const OptimConfig& c, int64_t t, double lr) {
  AdamScalars a;
  a.b1 = float(c.beta1);
  a.b2 = float(c.beta2);
  a.eps = float(c.eps);
  a.step_size = float(lr / (1.0 - std::pow(c.beta1, double(t))));
  a.bc2_sqrt = float(std::sqrt(1.0 - std::pow(c.beta2, double(t))));
  a.decay = float(1.0 - lr * c.weight_decay);
  return a;
}

AdamW::AdamW(const std::vector<TensorSpec>& layout, const OptimConfig& c) : c_(c) {
  const int64_t n = parameter_count(layout);
  decay_.assign(n, 0);
  m_.assign(n, 0.f);
  v_.assign(n, 0.f);
  for (const auto& t : layout)
    if (decays(c, t)) std::fill(decay_.begin() + t.offset, decay_.begin() + t.offset + t.numel, uint8_t(1));
}

void AdamW::step(std::vector<float>& params, const std::vector<float>& grads, double lr) {
  const AdamScalars a = adam_scalars(c_, ++t_, lr);
  const int64_t n = static_cast<int64_t>(params.size());
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    if (decay_[i]) params[i] *= a.decay;
    m_[i] = a.b1 * m_[i] + (1.f - a.b1) * grads[i];
    v_[i] = a.b2 * v_[i] + (1.f - a.b2) * grads[i] * grads[i];
    params[i] -= a.step_size * m_[i] / (std::sqrt(v_[i]) / a.bc2_sqrt + a.eps);
  }
}

}  // namespace layerlab::train
