#include "kernels.h"

#include "util/fast_math.h"

#include <omp.h>

#include <algorithm>
#include <cmath>

namespace layerlab::cpu {

using fastmath::fast_erf;
using fastmath::fast_exp;
using fastmath::fast_tanh;

void layer_norm(const float* x, float* y, int64_t rows, int n, const float* w, const float* b, float eps) {
#pragma omp parallel for if (rows > 16)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    double sum = 0;
    for (int i = 0; i < n; ++i) sum += xr[i];
    const float mean = static_cast<float>(sum / n);
    double var = 0;
    for (int i = 0; i < n; ++i) {
      const float d = xr[i] - mean;
      var += d * d;
    }
    const float inv = static_cast<float>(1.0 / std::sqrt(var / n + eps));
    for (int i = 0; i < n; ++i) yr[i] = (xr[i] - mean) * inv * w[i] + (b ? b[i] : 0.0f);
  }
}

void rms_norm(const float* x, float* y, int64_t rows, int n, const float* w, float eps) {
#pragma omp parallel for if (rows > 16)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    double ss = 0;
    for (int i = 0; i < n; ++i) ss += double(xr[i]) * xr[i];
    const float inv = static_cast<float>(1.0 / std::sqrt(ss / n + eps));
    for (int i = 0; i < n; ++i) yr[i] = (xr[i] * inv) * w[i];
  }
}

void gelu_tanh(float* x, int64_t count) {
  const float k = 0.7978845608028654f;  // sqrt(2/pi)
#pragma omp parallel for if (count > 65536)
  for (int64_t i = 0; i < count; ++i) {
    const float v = x[i];
    x[i] = 0.5f * v * (1.0f + fast_tanh(k * (v + 0.044715f * v * v * v)));
  }
}

void gelu_erf(float* x, int64_t count) {
#pragma omp parallel for if (count > 65536)
  for (int64_t i = 0; i < count; ++i) x[i] = 0.5f * x[i] * (1.0f + fast_erf(x[i] * 0.7071067811865476f));
}

void swiglu(const float* gated, float* out, int64_t rows, int ff) {
#pragma omp parallel for if (rows > 16)
  for (int64_t r = 0; r < rows; ++r) {
    const float* g = gated + r * 2 * ff;
    const float* u = g + ff;
    float* o = out + r * ff;
    for (int i = 0; i < ff; ++i) o[i] = g[i] / (1.0f + fast_exp(-g[i])) * u[i];
  }
}

void add_inplace(float* y, const float* x, int64_t count) {
#pragma omp parallel for if (count > 65536)
  for (int64_t i = 0; i < count; ++i) y[i] += x[i];
}

void add_bias(float* y, const float* b, int64_t rows, int n) {
#pragma omp parallel for if (rows > 16)
  for (int64_t r = 0; r < rows; ++r)
    for (int i = 0; i < n; ++i) y[r * n + i] += b[i];
}

void softmax_row(float* x, int n, int valid) {
  float mx = -INFINITY;
  for (int i = 0; i < valid; ++i) mx = std::max(mx, x[i]);
  for (int i = 0; i < valid; ++i) x[i] = fast_exp(x[i] - mx);
  float sum = 0;
  for (int i = 0; i < valid; ++i) sum += x[i];
  const float inv = 1.0f / sum;
  for (int i = 0; i < valid; ++i) x[i] *= inv;
  for (int i = valid; i < n; ++i) x[i] = 0.0f;
}

void rope_rotate(float* x, int heads, int hd, const float* cos, const float* sin) {
  const int half = hd / 2;
  for (int h = 0; h < heads; ++h) {
    float* v = x + h * hd;
    for (int i = 0; i < half; ++i) {
      const float a = v[i], b = v[i + half];
      v[i] = a * cos[i] - b * sin[i];
      v[i + half] = b * cos[i] + a * sin[i];
    }
  }
}

void shape_row(float* x, int valid, float alpha, float beta, float gamma) {
  const float c = gamma / static_cast<float>(valid);
  for (int j = 0; j < valid; ++j) x[j] = beta * x[j] - c;
  x[valid - 1] += alpha;
}

}  // namespace layerlab::cpu
