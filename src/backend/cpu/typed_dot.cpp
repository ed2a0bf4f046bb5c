// Fused one-row products (decoding, T = 1): y[j] = W[j] . x with each block of W decoded in
// registers and multiplied at once, never stored as float32. The tiled path (decode 1M values
// into a buffer, then sgemm) writes and re-reads 4 bytes per weight through the caches; for one
// activation row that traffic was half of the decoding time (perf, docs/BENCHMARKS.md).
// q8_0, q4_K, q6_K, f16, bf16; AVX-512 only (chosen at run time like the row decoders): other
// types and CPUs keep the tiles (has_fused_dot false).
#include "typed_dot.h"

#include <cstddef>
#include <cstring>

#include "quant/block_layout.h"
#include "quant/decode.h"

#include "quant/avx512_target.h"

namespace layerlab::cpu {

#ifdef LAYERLAB_X86

#define TARGET LAYERLAB_AVX512

namespace {

TARGET inline float half(const uint8_t* p) { return quant::load_f16(p); }

// Two blocks per step into two accumulators: one chain would wait on the FMA latency.
TARGET float dot_q8_0(const uint8_t* src, const float* x, int64_t nb) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0;
  auto block = [&](const uint8_t* b, const float* xb, __m512 acc) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2));
    const __m512 q0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(q)));
    const __m512 q1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(q, 1)));
    const __m512 s = _mm512_fmadd_ps(q1, _mm512_loadu_ps(xb + 16), _mm512_mul_ps(q0, _mm512_loadu_ps(xb)));
    return _mm512_fmadd_ps(_mm512_set1_ps(half(b)), s, acc);
  };
  int64_t i = 0;
  for (; i + 2 <= nb; i += 2) {
    acc0 = block(src + i * sizeof(quant::BlockQ8_0), x + i * quant::kQK, acc0);
    acc1 = block(src + (i + 1) * sizeof(quant::BlockQ8_0), x + (i + 1) * quant::kQK, acc1);
  }
  if (i < nb) acc0 = block(src + i * sizeof(quant::BlockQ8_0), x + i * quant::kQK, acc0);
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

// f16 / bf16: 64 values per step into four accumulators; a tail of < 16 values in scalar code.
TARGET float dot_16bit(const uint8_t* src, const float* x, int64_t k, bool f16) {
  auto load = [&](int64_t i) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 2 * i));
    return f16 ? _mm512_cvtph_ps(h) : _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  };
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 64 <= k; i += 64) {
    s0 = _mm512_fmadd_ps(load(i), _mm512_loadu_ps(x + i), s0);
    s1 = _mm512_fmadd_ps(load(i + 16), _mm512_loadu_ps(x + i + 16), s1);
    s2 = _mm512_fmadd_ps(load(i + 32), _mm512_loadu_ps(x + i + 32), s2);
    s3 = _mm512_fmadd_ps(load(i + 48), _mm512_loadu_ps(x + i + 48), s3);
  }
  for (; i + 16 <= k; i += 16) s0 = _mm512_fmadd_ps(load(i), _mm512_loadu_ps(x + i), s0);
  float s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
  for (; i < k; ++i) {
    uint16_t h;
    std::memcpy(&h, src + 2 * i, 2);
    float w;
    if (f16) {
      w = _cvtsh_ss(h);
    } else {
      const uint32_t u = uint32_t(h) << 16;
      std::memcpy(&w, &u, 4);
    }
    s += w * x[i];
  }
  return s;
}

TARGET inline __m512i bytes16(const uint8_t* p) {
  return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// Q4_K: the weights as dequantize_avx512.cpp's k_4_5 forms them (d*sc*q - dmin*m), times x.
TARGET float dot_q4_k(const uint8_t* src, const float* x, int64_t nb) {
  const __m512i low = _mm512_set1_epi32(15);
  __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0;
  for (int64_t i = 0; i < nb; ++i, src += sizeof(quant::BlockQ4_K)) {
    const float d = half(src), dmin = half(src + 2);
    const uint8_t *scales = src + 4, *qs = src + 16;
    for (int p = 0; p < 4; ++p, qs += 32, x += 64) {
      uint8_t sc0, m0, sc1, m1;
      quant::unpack_scale_min(2 * p, scales, sc0, m0);
      quant::unpack_scale_min(2 * p + 1, scales, sc1, m1);
      const __m512 d0 = _mm512_set1_ps(d * sc0), d1 = _mm512_set1_ps(d * sc1);
      const __m512 o0 = _mm512_set1_ps(dmin * m0), o1 = _mm512_set1_ps(dmin * m1);
      for (int s = 0; s < 2; ++s) {
        const __m512i q = bytes16(qs + 16 * s);
        const __m512 lo = _mm512_fmsub_ps(d0, _mm512_cvtepi32_ps(_mm512_and_si512(q, low)), o0);
        const __m512 hi = _mm512_fmsub_ps(d1, _mm512_cvtepi32_ps(_mm512_srli_epi32(q, 4)), o1);
        acc0 = _mm512_fmadd_ps(lo, _mm512_loadu_ps(x + 16 * s), acc0);
        acc1 = _mm512_fmadd_ps(hi, _mm512_loadu_ps(x + 32 + 16 * s), acc1);
      }
    }
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

// Q6_K: as dequantize_avx512.cpp's q6_k (d*sc*(q - 32)), times x; one accumulator per group.
TARGET float dot_q6_k(const uint8_t* src, const float* x, int64_t nb) {
  const __m512i low = _mm512_set1_epi32(15), three = _mm512_set1_epi32(3), bias = _mm512_set1_epi32(32);
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  for (int64_t i = 0; i < nb; ++i, src += sizeof(quant::BlockQ6_K)) {
    const auto* b = reinterpret_cast<const quant::BlockQ6_K*>(src);  // byte fields only
    const float d = half(src + offsetof(quant::BlockQ6_K, d));
    for (int part = 0; part < 2; ++part, x += 128) {
      const uint8_t* ql = b->ql + 64 * part;
      const uint8_t* qh = b->qh + 32 * part;
      const int8_t* sc = b->scales + 8 * part;
      for (int l0 = 0; l0 < 32; l0 += 16) {
        const int is = l0 / 16;
        const __m512i a = bytes16(ql + l0), c = bytes16(ql + 32 + l0), h = bytes16(qh + l0);
        auto six = [&](__m512i nib, int shift) {
          return _mm512_cvtepi32_ps(_mm512_sub_epi32(
              _mm512_or_si512(nib, _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(h, shift), three), 4)), bias));
        };
        auto term = [&](int g, __m512 q, int off) {
          const __m512 w = _mm512_mul_ps(_mm512_set1_ps(d * sc[is + 2 * g]), q);
          acc[g] = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + l0 + off), acc[g]);
        };
        term(0, six(_mm512_and_si512(a, low), 0), 0);
        term(1, six(_mm512_and_si512(c, low), 2), 32);
        term(2, six(_mm512_srli_epi32(a, 4), 4), 64);
        term(3, six(_mm512_srli_epi32(c, 4), 6), 96);
      }
    }
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
}

}  // namespace

bool has_fused_dot(WeightType t) {
  return quant::have_avx512() && (t == WeightType::Q8_0 || t == WeightType::F16 || t == WeightType::BF16 ||
                                  t == WeightType::Q4_K || t == WeightType::Q6_K);
}

void fused_dot_rows(WeightType t, const uint8_t* rows, int64_t stride, int64_t n, const float* x, int64_t k, float* y) {
  for (int64_t j = 0; j < n; ++j) {
    const uint8_t* r = rows + j * stride;
    switch (t) {
      case WeightType::Q8_0: y[j] = dot_q8_0(r, x, k / quant::kQK); break;
      case WeightType::Q4_K: y[j] = dot_q4_k(r, x, k / quant::kQKK); break;
      case WeightType::Q6_K: y[j] = dot_q6_k(r, x, k / quant::kQKK); break;
      default: y[j] = dot_16bit(r, x, k, t == WeightType::F16);
    }
  }
}

#else

bool has_fused_dot(WeightType) { return false; }
void fused_dot_rows(WeightType, const uint8_t*, int64_t, int64_t, const float*, int64_t, float*) {}

#endif

}  // namespace layerlab::cpu
