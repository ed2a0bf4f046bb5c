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

double clip_grad_norm(std::vector<float>& grads, double max_norm) {
  double sq = 0;
  for (float g : grads) sq += double(g) * g;
  const double norm = std::sqrt(sq);
  if (max_norm > 0 && norm > max_norm) {
    // torch: clip_coef = max_norm / (norm + 1e-6), applied when < 1.
    const float coef = float(max_norm / (norm + 1e-6));
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < grads.size(); ++i) grads[i] *= coef;
  }
  return norm;
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
  ++t_;
  const float b1 = float(c_.beta1), b2 = float(c_.beta2);
  const double bc1 = 1.0 - std::pow(c_.beta1, double(t_));
  const double bc2 = 1.0 - std::pow(c_.beta2, double(t_));
  const float step_size = float(lr / bc1);
  const float bc2_sqrt = float(std::sqrt(bc2));
  const float eps = float(c_.eps);
  const float decay = float(1.0 - lr * c_.weight_decay);
  const int64_t n = static_cast<int64_t>(params.size());
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    if (decay_[i]) params[i] *= decay;
    m_[i] = b1 * m_[i] + (1.f - b1) * grads[i];
    v_[i] = b2 * v_[i] + (1.f - b2) * grads[i] * grads[i];
    params[i] -= step_size * m_[i] / (std::sqrt(v_[i]) / bc2_sqrt + eps);
  }
}

}  // namespace layerlab::train
