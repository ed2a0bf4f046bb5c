// AVX-512 row decoders (16 values per instruction), the same arithmetic as
// dequantize_scalar.cpp. Compiled for AVX-512 through target attributes and used only when
// the CPU reports AVX-512 F + BW (have_avx512), so the library still runs on older CPUs.
#include <cstddef>
#include <cstring>

#include "quant/block_layout.h"
#include "quant/decode.h"

#include "quant/avx512_target.h"

namespace layerlab::quant {

#ifdef LAYERLAB_X86

bool have_avx512() {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("f16c") && __builtin_cpu_supports("fma");
  return ok;
}

#define TARGET LAYERLAB_AVX512

namespace {

TARGET inline float half(const uint8_t* p) { return quant::load_f16(p); }
TARGET inline __m512i bytes16(const uint8_t* p) {
  return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
TARGET inline void store(float* y, __m512i q, __m512 d) { _mm512_storeu_ps(y, _mm512_mul_ps(d, _mm512_cvtepi32_ps(q))); }
TARGET inline void store(float* y, __m512i q, __m512 d, __m512 m) {
  _mm512_storeu_ps(y, _mm512_fmsub_ps(d, _mm512_cvtepi32_ps(q), m));
}

TARGET void halfs(const uint8_t* src, int64_t cols, float* y, bool f16) {
  int64_t i = 0;
  for (; i + 16 <= cols; i += 16) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 2 * i));
    _mm512_storeu_ps(y + i, f16 ? _mm512_cvtph_ps(h) : _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)));
  }
  if (i < cols) decode_row_plain(f16 ? WeightType::F16 : WeightType::BF16, src + 2 * i, cols - i, y + i);
}

TARGET void q8_0(const uint8_t* src, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i, src += sizeof(BlockQ8_0), y += kQK) {
    const __m512 d = _mm512_set1_ps(half(src));
    for (int h = 0; h < 2; ++h) {
      const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 + 16 * h));
      store(y + 16 * h, _mm512_cvtepi8_epi32(q), d);
    }
  }
}

TARGET void q4_0(const uint8_t* src, int64_t nb, float* y) {
  const __m512i low = _mm512_set1_epi32(15), eight = _mm512_set1_epi32(8);
  for (int64_t i = 0; i < nb; ++i, src += sizeof(BlockQ4_0), y += kQK) {
    const __m512 d = _mm512_set1_ps(half(src));
    const __m512i q = bytes16(src + 2);
    store(y, _mm512_sub_epi32(_mm512_and_si512(q, low), eight), d);
    store(y + 16, _mm512_sub_epi32(_mm512_srli_epi32(q, 4), eight), d);
  }
}

// Q4_K (qh null) and Q5_K: per 64 values, 32 bytes of nibbles and two sub-block scales.
TARGET void k_4_5(const uint8_t* dd, const uint8_t* scales, const uint8_t* qs, const uint8_t* qh, float* y) {
  const float d = half(dd), dmin = half(dd + 2);
  const __m512i low = _mm512_set1_epi32(15), sixteen = _mm512_set1_epi32(16);
  __m512i h[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
  if (qh) h[0] = bytes16(qh), h[1] = bytes16(qh + 16);
  for (int p = 0; p < 4; ++p, qs += 32, y += 64) {
    uint8_t sc0, m0, sc1, m1;
    unpack_scale_min(2 * p, scales, sc0, m0);
    unpack_scale_min(2 * p + 1, scales, sc1, m1);
    const __m512 d0 = _mm512_set1_ps(d * sc0), d1 = _mm512_set1_ps(d * sc1);
    const __m512 o0 = _mm512_set1_ps(dmin * m0), o1 = _mm512_set1_ps(dmin * m1);
    const __m512i bit0 = _mm512_set1_epi32(1 << (2 * p)), bit1 = _mm512_set1_epi32(2 << (2 * p));
    for (int s = 0; s < 2; ++s) {
      const __m512i q = bytes16(qs + 16 * s);
      __m512i lo = _mm512_and_si512(q, low), hi = _mm512_srli_epi32(q, 4);
      if (qh) {
        lo = _mm512_mask_add_epi32(lo, _mm512_test_epi32_mask(h[s], bit0), lo, sixteen);
        hi = _mm512_mask_add_epi32(hi, _mm512_test_epi32_mask(h[s], bit1), hi, sixteen);
      }
      store(y + 16 * s, lo, d0, o0);
      store(y + 32 + 16 * s, hi, d1, o1);
    }
  }
}

TARGET void q6_k(const uint8_t* src, int64_t nb, float* y) {
  const __m512i low = _mm512_set1_epi32(15), three = _mm512_set1_epi32(3), bias = _mm512_set1_epi32(32);
  for (int64_t i = 0; i < nb; ++i, src += sizeof(BlockQ6_K), y += kQKK) {
    const auto* b = reinterpret_cast<const BlockQ6_K*>(src);  // byte fields only, read unaligned
    const float d = half(src + offsetof(BlockQ6_K, d));
    for (int part = 0; part < 2; ++part) {
      const uint8_t* ql = b->ql + 64 * part;
      const uint8_t* qh = b->qh + 32 * part;
      const int8_t* sc = b->scales + 8 * part;
      float* out = y + 128 * part;
      for (int l0 = 0; l0 < 32; l0 += 16) {
        const int is = l0 / 16;
        const __m512i a = bytes16(ql + l0), c = bytes16(ql + 32 + l0), h = bytes16(qh + l0);
        auto six = [&](__m512i nib, int shift) {
          return _mm512_sub_epi32(
              _mm512_or_si512(nib, _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(h, shift), three), 4)), bias);
        };
        store(out + l0, six(_mm512_and_si512(a, low), 0), _mm512_set1_ps(d * sc[is]));
        store(out + l0 + 32, six(_mm512_and_si512(c, low), 2), _mm512_set1_ps(d * sc[is + 2]));
        store(out + l0 + 64, six(_mm512_srli_epi32(a, 4), 4), _mm512_set1_ps(d * sc[is + 4]));
        store(out + l0 + 96, six(_mm512_srli_epi32(c, 4), 6), _mm512_set1_ps(d * sc[is + 6]));
      }
    }
  }
}

}  // namespace

bool decode_row_avx512(WeightType type, const uint8_t* src, int64_t cols, float* out) {
  switch (type) {
    case WeightType::F16: halfs(src, cols, out, true); return true;
    case WeightType::BF16: halfs(src, cols, out, false); return true;
    case WeightType::Q8_0: q8_0(src, cols / kQK, out); return true;
    case WeightType::Q4_0: q4_0(src, cols / kQK, out); return true;
    case WeightType::Q4_K:
      for (int64_t i = 0; i < cols / kQKK; ++i, src += sizeof(BlockQ4_K), out += kQKK)
        k_4_5(src, src + 4, src + 16, nullptr, out);
      return true;
    case WeightType::Q5_K:
      for (int64_t i = 0; i < cols / kQKK; ++i, src += sizeof(BlockQ5_K), out += kQKK)
        k_4_5(src, src + 4, src + 48, src + 16, out);
      return true;
    case WeightType::Q6_K: q6_k(src, cols / kQKK, out); return true;
    default: return false;  // F32: a copy, nothing to vectorise
  }
}

#else  // not x86-64 with GCC / clang: the plain decoders only

bool have_avx512() { return false; }
bool decode_row_avx512(WeightType, const uint8_t*, int64_t, float*) { return false; }

#endif

}  // namespace layerlab::quant
