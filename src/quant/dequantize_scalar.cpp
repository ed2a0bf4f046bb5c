// Plain C++ decoders of every stored type, written from ggml's dequantize_row_* definitions:
// the portable fallback, and the reference that the vector decoders are tested against.
#include <cstring>

#include "layerlab/safetensors.h"
#include "quant/block_layout.h"
#include "quant/decode.h"

namespace layerlab::quant {

namespace {

void q8_0(const uint8_t* src, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i, src += sizeof(BlockQ8_0), y += kQK) {
    BlockQ8_0 b;
    std::memcpy(&b, src, sizeof b);
    const float d = f16_to_f32(b.d);
    for (int j = 0; j < kQK; ++j) y[j] = d * b.qs[j];
  }
}

void q4_0(const uint8_t* src, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i, src += sizeof(BlockQ4_0), y += kQK) {
    BlockQ4_0 b;
    std::memcpy(&b, src, sizeof b);
    const float d = f16_to_f32(b.d);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = d * ((b.qs[j] & 0xF) - 8);
      y[j + kQK / 2] = d * ((b.qs[j] >> 4) - 8);
    }
  }
}

// Q4_K and Q5_K share the sub-block scales; Q5_K adds the fifth bits (qh null for Q4_K).
void k_4_5(const uint16_t dd[2], const uint8_t* scales, const uint8_t* qs, const uint8_t* qh, float* y) {
  const float d = f16_to_f32(dd[0]), dmin = f16_to_f32(dd[1]);
  for (int p = 0; p < 4; ++p, qs += 32, y += 64) {
    uint8_t sc0, m0, sc1, m1;
    unpack_scale_min(2 * p, scales, sc0, m0);
    unpack_scale_min(2 * p + 1, scales, sc1, m1);
    const float d0 = d * sc0, d1 = d * sc1, o0 = dmin * m0, o1 = dmin * m1;
    for (int l = 0; l < 32; ++l) {
      const int hi0 = qh && (qh[l] >> (2 * p) & 1) ? 16 : 0;
      const int hi1 = qh && (qh[l] >> (2 * p + 1) & 1) ? 16 : 0;
      y[l] = d0 * ((qs[l] & 0xF) + hi0) - o0;
      y[l + 32] = d1 * ((qs[l] >> 4) + hi1) - o1;
    }
  }
}

void q4_k(const uint8_t* src, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i, src += sizeof(BlockQ4_K), y += kQKK) {
    BlockQ4_K b;
    std::memcpy(&b, src, sizeof b);
    const uint16_t dd[2] = {b.d, b.dmin};
    k_4_5(dd, b.scales, b.qs, nullptr, y);
  }
}

void q5_k(const uint8_t* src, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i, src += sizeof(BlockQ5_K), y += kQKK) {
    BlockQ5_K b;
    std::memcpy(&b, src, sizeof b);
    const uint16_t dd[2] = {b.d, b.dmin};
    k_4_5(dd, b.scales, b.qs, b.qh, y);
  }
}

void q6_k(const uint8_t* src, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i, src += sizeof(BlockQ6_K), y += kQKK) {
    BlockQ6_K b;
    std::memcpy(&b, src, sizeof b);
    const float d = f16_to_f32(b.d);
    const uint8_t* ql = b.ql;
    const uint8_t* qh = b.qh;
    const int8_t* sc = b.scales;
    float* out = y;
    for (int half = 0; half < 2; ++half, ql += 64, qh += 32, sc += 8, out += 128)
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | ((qh[l] >> 0 & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | ((qh[l] >> 2 & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | ((qh[l] >> 4 & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6 & 3) << 4)) - 32;
        out[l] = d * sc[is] * q1;
        out[l + 32] = d * sc[is + 2] * q2;
        out[l + 64] = d * sc[is + 4] * q3;
        out[l + 96] = d * sc[is + 6] * q4;
      }
  }
}

}  // namespace

void decode_row_plain(WeightType type, const uint8_t* src, int64_t cols, float* out) {
  switch (type) {
    case WeightType::F32: std::memcpy(out, src, size_t(cols) * 4); return;
    case WeightType::F16:
    case WeightType::BF16:
      for (int64_t i = 0; i < cols; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        out[i] = type == WeightType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
      }
      return;
    case WeightType::Q8_0: return q8_0(src, cols / kQK, out);
    case WeightType::Q4_0: return q4_0(src, cols / kQK, out);
    case WeightType::Q4_K: return q4_k(src, cols / kQKK, out);
    case WeightType::Q5_K: return q5_k(src, cols / kQKK, out);
    case WeightType::Q6_K: return q6_k(src, cols / kQKK, out);
  }
}

}  // namespace layerlab::quant
