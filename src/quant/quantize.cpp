// quantize_rows: float32 -> stored types, following ggml-quants.c's reference quantizers
// (quantize_row_q8_0_ref, q4_0_ref, q4_K_ref, q5_K_ref, q6_K_ref) step for step, so that the
// blocks are what llama.cpp writes for the same input without an importance matrix.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "layerlab/error.h"
#include "layerlab/quantize.h"
#include "layerlab/safetensors.h"
#include "quant/block_layout.h"

namespace layerlab {

namespace quant {
namespace {

constexpr float kGroupMaxEps = 1e-15f;  // ggml's GROUP_MAX_EPS

// ggml's nearest_int: round half to even through the float mantissa (|x| < 2^22).
int nearest_int(float x) {
  const float v = x + 12582912.f;
  int32_t i;
  std::memcpy(&i, &v, 4);
  return (i & 0x007fffff) - 0x00400000;
}

void q8_0(const float* x, int64_t nb, uint8_t* dst) {
  for (int64_t i = 0; i < nb; ++i, x += kQK, dst += sizeof(BlockQ8_0)) {
    BlockQ8_0 b;
    float amax = 0;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127, id = d ? 1.0f / d : 0.0f;
    b.d = f32_to_f16(d);
    for (int j = 0; j < kQK; ++j) b.qs[j] = static_cast<int8_t>(std::roundf(x[j] * id));
    std::memcpy(dst, &b, sizeof b);
  }
}

void q4_0(const float* x, int64_t nb, uint8_t* dst) {
  for (int64_t i = 0; i < nb; ++i, x += kQK, dst += sizeof(BlockQ4_0)) {
    BlockQ4_0 b;
    float amax = 0, max = 0;  // the value of largest magnitude, with its sign
    for (int j = 0; j < kQK; ++j)
      if (amax < std::fabs(x[j])) amax = std::fabs(x[j]), max = x[j];
    const float d = max / -8, id = d ? 1.0f / d : 0.0f;
    b.d = f32_to_f16(d);
    for (int j = 0; j < kQK / 2; ++j) {
      const uint8_t a = std::min(15, int(int8_t(x[j] * id + 8.5f)));
      const uint8_t c = std::min(15, int(int8_t(x[j + kQK / 2] * id + 8.5f)));
      b.qs[j] = uint8_t(a | (c << 4));
    }
    std::memcpy(dst, &b, sizeof b);
  }
}

// ggml's make_qkx2_quants: x ~ scale * L - min with L in [0, nmax], a weighted least-squares
// search over nstep + 1 candidate scales. Returns the scale; *the_min = the (positive) min.
float make_qkx2_quants(int n, int nmax, const float* x, const float* w, uint8_t* L, float* the_min, uint8_t* Laux,
                       float rmin, float rdelta, int nstep) {
  float min = x[0], max = x[0], sum_w = w[0], sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    min = std::min(min, x[i]), max = std::max(max, x[i]);
    sum_w += w[i], sum_x += w[i] * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    std::fill(L, L + n, 0);
    *the_min = -min;
    return 0.f;
  }
  float iscale = nmax / (max - min), scale = 1 / iscale, best_error = 0;
  for (int i = 0; i < n; ++i) {
    L[i] = uint8_t(std::clamp(nearest_int(iscale * (x[i] - min)), 0, nmax));
    const float diff = scale * L[i] + min - x[i];
    best_error += w[i] * diff * diff;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * is + nmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(nearest_int(iscale * (x[i] - min)), 0, nmax);
      Laux[i] = uint8_t(l);
      sum_l += w[i] * l, sum_l2 += w[i] * l * l, sum_xl += w[i] * l * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D <= 0) continue;
    float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D, this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
    if (this_min > 0) this_min = 0, this_scale = sum_xl / sum_l2;
    float err = 0;
    for (int i = 0; i < n; ++i) {
      const float diff = this_scale * Laux[i] + this_min - x[i];
      err += w[i] * diff * diff;
    }
    if (err < best_error) {
      std::copy(Laux, Laux + n, L);
      best_error = err, scale = this_scale, min = this_min;
    }
  }
  *the_min = -min;
  return scale;
}

// Q4_K (nmax 15) and Q5_K (nmax 31): 8 sub-block (scale, min) pairs, quantized to 6 bits
// against the super-block's d and dmin, then the values re-quantized with the 6-bit scales.
void k_4_5(const float* x, int nmax, uint16_t& d_out, uint16_t& dmin_out, uint8_t* scales, uint8_t* L) {
  float w[32], mins[8], sc[8], max_scale = 0, max_min = 0;
  uint8_t Laux[32];
  for (int j = 0; j < 8; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) w[l] = av_x + std::fabs(x[32 * j + l]);
    sc[j] = nmax == 15 ? make_qkx2_quants(32, 15, x + 32 * j, w, L + 32 * j, &mins[j], Laux, -1.f, 0.1f, 20)
                       : make_qkx2_quants(32, 31, x + 32 * j, w, L + 32 * j, &mins[j], Laux, -0.5f, 0.1f, 15);
    max_scale = std::max(max_scale, sc[j]), max_min = std::max(max_min, mins[j]);
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f, inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  std::memset(scales, 0, 12);
  for (int j = 0; j < 8; ++j) {
    const uint8_t ls = uint8_t(std::min(63, nearest_int(inv_scale * sc[j])));
    const uint8_t lm = uint8_t(std::min(63, nearest_int(inv_min * mins[j])));
    if (j < 4) {
      scales[j] = ls, scales[j + 4] = lm;
    } else {
      scales[j + 4] = uint8_t((ls & 0xF) | ((lm & 0xF) << 4));
      scales[j - 4] |= uint8_t((ls >> 4) << 6);
      scales[j] |= uint8_t((lm >> 4) << 6);
    }
  }
  d_out = f32_to_f16(max_scale / 63.f), dmin_out = f32_to_f16(max_min / 63.f);
  const float d = f16_to_f32(d_out), dmin = f16_to_f32(dmin_out);
  for (int j = 0; j < 8; ++j) {
    uint8_t s, m;
    unpack_scale_min(j, scales, s, m);
    const float dj = d * s;
    if (!dj) continue;
    const float dm = dmin * m;
    for (int l = 0; l < 32; ++l) L[32 * j + l] = uint8_t(std::clamp(nearest_int((x[32 * j + l] + dm) / dj), 0, nmax));
  }
}

void q4_k(const float* x, int64_t nb, uint8_t* dst) {
  for (int64_t i = 0; i < nb; ++i, x += kQKK, dst += sizeof(BlockQ4_K)) {
    BlockQ4_K b;
    uint8_t L[kQKK];
    k_4_5(x, 15, b.d, b.dmin, b.scales, L);
    for (int j = 0; j < 4; ++j)
      for (int l = 0; l < 32; ++l) b.qs[32 * j + l] = uint8_t(L[64 * j + l] | (L[64 * j + 32 + l] << 4));
    std::memcpy(dst, &b, sizeof b);
  }
}

void q5_k(const float* x, int64_t nb, uint8_t* dst) {
  for (int64_t i = 0; i < nb; ++i, x += kQKK, dst += sizeof(BlockQ5_K)) {
    BlockQ5_K b;
    uint8_t L[kQKK];
    k_4_5(x, 31, b.d, b.dmin, b.scales, L);
    std::memset(b.qh, 0, sizeof b.qh);
    for (int p = 0; p < 4; ++p)
      for (int l = 0; l < 32; ++l) {
        int l1 = L[64 * p + l], l2 = L[64 * p + 32 + l];
        if (l1 > 15) l1 -= 16, b.qh[l] |= uint8_t(1 << (2 * p));
        if (l2 > 15) l2 -= 16, b.qh[l] |= uint8_t(2 << (2 * p));
        b.qs[32 * p + l] = uint8_t(l1 | (l2 << 4));
      }
    std::memcpy(dst, &b, sizeof b);
  }
}

// ggml's make_qx_quants with rmse_type 1 (weights x^2) and no importance weights: a symmetric
// scale for L in [-nmax, nmax - 1], stored as L + nmax; 18 alternative scales are tried.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > amax) amax = std::fabs(x[i]), max = x[i];
  if (amax < kGroupMaxEps) {
    std::fill(L, L + n, 0);
    return 0.f;
  }
  auto sums = [&](float iscale, float& sumlx, float& suml2) {
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1);
      const float w = x[i] * x[i];
      sumlx += w * x[i] * l, suml2 += w * l * l;
    }
  };
  auto assign = [&](float iscale) {
    for (int i = 0; i < n; ++i) L[i] = int8_t(nmax + std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1));
  };
  float iscale = -nmax / max, sumlx, suml2;
  sums(iscale, sumlx, suml2);
  assign(iscale);
  float scale = suml2 ? sumlx / suml2 : 0.0f, best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(nmax + 0.1f * is) / max;
    sums(iscale, sumlx, suml2);
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      assign(iscale);
      scale = sumlx / suml2, best = scale * sumlx;
    }
  }
  return scale;
}

void q6_k(const float* x, int64_t nb, uint8_t* dst) {
  for (int64_t i = 0; i < nb; ++i, x += kQKK, dst += sizeof(BlockQ6_K)) {
    BlockQ6_K b;
    std::memset(&b, 0, sizeof b);
    int8_t L[kQKK];
    float sc[16], max_scale = 0, max_abs_scale = 0;
    for (int j = 0; j < 16; ++j) {
      sc[j] = make_qx_quants(16, 32, x + 16 * j, L + 16 * j);
      if (std::fabs(sc[j]) > max_abs_scale) max_abs_scale = std::fabs(sc[j]), max_scale = sc[j];
    }
    if (max_abs_scale >= kGroupMaxEps) {
      const float iscale = -128.f / max_scale;
      b.d = f32_to_f16(1 / iscale);
      for (int j = 0; j < 16; ++j) b.scales[j] = int8_t(std::min(127, nearest_int(iscale * sc[j])));
      for (int j = 0; j < 16; ++j) {
        const float d = f16_to_f32(b.d) * b.scales[j];
        if (!d) continue;
        for (int l = 0; l < 16; ++l) L[16 * j + l] = int8_t(std::clamp(nearest_int(x[16 * j + l] / d), -32, 31) + 32);
      }
      for (int part = 0; part < 2; ++part) {
        const int8_t* q = L + 128 * part;
        uint8_t* ql = b.ql + 64 * part;
        uint8_t* qh = b.qh + 32 * part;
        for (int l = 0; l < 32; ++l) {
          ql[l] = uint8_t((q[l] & 0xF) | ((q[l + 64] & 0xF) << 4));
          ql[l + 32] = uint8_t((q[l + 32] & 0xF) | ((q[l + 96] & 0xF) << 4));
          qh[l] = uint8_t((q[l] >> 4) | ((q[l + 32] >> 4) << 2) | ((q[l + 64] >> 4) << 4) | ((q[l + 96] >> 4) << 6));
        }
      }
    }
    std::memcpy(dst, &b, sizeof b);
  }
}

}  // namespace
}  // namespace quant

void quantize_rows(WeightType type, const float* src, int64_t rows, int64_t cols, void* dst) {
  const int64_t stride = row_bytes(type, cols, "quantize_rows");
  auto* out = static_cast<uint8_t*>(dst);
#pragma omp parallel for if (rows * cols >= (int64_t(1) << 18))
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = src + r * cols;
    uint8_t* y = out + r * stride;
    switch (type) {
      case WeightType::F32: std::memcpy(y, x, size_t(cols) * 4); break;
      case WeightType::F16:
      case WeightType::BF16:
        for (int64_t i = 0; i < cols; ++i) {
          const uint16_t h = type == WeightType::F16 ? f32_to_f16(x[i]) : f32_to_bf16(x[i]);
          std::memcpy(y + 2 * i, &h, 2);
        }
        break;
      case WeightType::Q8_0: quant::q8_0(x, cols / quant::kQK, y); break;
      case WeightType::Q4_0: quant::q4_0(x, cols / quant::kQK, y); break;
      case WeightType::Q4_K: quant::q4_k(x, cols / quant::kQKK, y); break;
      case WeightType::Q5_K: quant::q5_k(x, cols / quant::kQKK, y); break;
      case WeightType::Q6_K: quant::q6_k(x, cols / quant::kQKK, y); break;
    }
  }
}

}  // namespace layerlab
