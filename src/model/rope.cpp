#include "rope.h"

#include <cmath>

namespace layerlab {

std::vector<double> rope_inv_freq(const ModelConfig& cfg) {
  const int half = cfg.head_dim / 2;
  const RopeConfig& r = cfg.rope;
  std::vector<double> inv(half);
  for (int i = 0; i < half; ++i) inv[i] = 1.0 / std::pow(r.theta, (2.0 * i) / cfg.head_dim);
  if (r.type == "linear") {
    for (double& f : inv) f /= r.factor;
  } else if (r.type == "llama3") {
    // Llama 3.1: long wavelengths are divided by `factor`, short ones kept, smooth in between.
    const double low_wavelen = r.original_max_positions / r.low_freq_factor;
    const double high_wavelen = r.original_max_positions / r.high_freq_factor;
    for (double& f : inv) {
      const double wavelen = 2.0 * M_PI / f;
      if (wavelen > low_wavelen) {
        f /= r.factor;
      } else if (wavelen >= high_wavelen) {
        const double smooth = (r.original_max_positions / wavelen - r.low_freq_factor) /
                              (r.high_freq_factor - r.low_freq_factor);
        f = (1.0 - smooth) * f / r.factor + smooth * f;
      }
    }
  }
  return inv;
}

void rope_table(const ModelConfig& cfg, int n, std::vector<float>& cos_out, std::vector<float>& sin_out) {
  const std::vector<double> inv = rope_inv_freq(cfg);
  const size_t half = inv.size();
  cos_out.resize(size_t(n) * half);
  sin_out.resize(size_t(n) * half);
  for (int p = 0; p < n; ++p)
    for (size_t i = 0; i < half; ++i) {
      const double a = p * inv[i];
      cos_out[p * half + i] = static_cast<float>(std::cos(a));
      sin_out[p * half + i] = static_cast<float>(std::sin(a));
    }
}

}  // namespace layerlab
