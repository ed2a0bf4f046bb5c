#pragma once
// Branch-free exp / tanh / erf that g++ vectorises (AVX2/AVX-512) inside plain loops; libm's
// scalar calls dominated the non-GEMM time (CPU kernels, the explainer's log-sum-exp). Accuracy (checked in tests/backend):
// exp: ~2 ulp (Cephes polynomial); tanh and erf: absolute error < 1e-6.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

namespace layerlab::fastmath {

inline float fast_exp(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);  // keeps 2^n a normal float
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  // x - n*ln2 in two parts (Cody-Waite) to keep r exact.
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t e = static_cast<int32_t>(n) + 127;
  return p * std::bit_cast<float>(e << 23);
}

// tanh(y) = 1 - 2 / (exp(2y) + 1): exact limits at +-inf, absolute error ~1e-7.
inline float fast_tanh(float y) { return 1.0f - 2.0f / (fast_exp(2.0f * y) + 1.0f); }

// erf via Abramowitz & Stegun 7.1.26 refined: 1 - t*exp(-x^2 + poly(t)) (Numerical Recipes erfc,
// fractional error < 1.2e-7).
inline float fast_erf(float x) {
  const float z = std::fabs(x);
  const float t = 1.0f / (1.0f + 0.5f * z);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  const float erfc = t * fast_exp(-z * z + p);
  const float r = 1.0f - erfc;
  return x >= 0 ? r : -r;
}

}  // namespace layerlab::fastmath
