// Fused one-row products (decoding, T = 1): y[j] = W[j] . x with each block of W decoded in
// registers and multiplied at once, never stored as float32. The tiled path (decode 1M values
// into a buffer, then sgemm) writes and re-reads 4 bytes per weight through the caches; for one
// activation row that traffic was half of the decoding time (perf, docs/BENCHMARKS.md).
// AVX-512 only (chosen at run time like the row decoders); other types and CPUs return false.
#include "typed_dot.h"

#include <cstring>

#include "quant/block_layout.h"
#include "quant/decode.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define LAYERLAB_X86 1
#endif

namespace layerlab::cpu {

#ifdef LAYERLAB_X86

#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define TARGET __attribute__((target("avx512f,avx512bw,avx512vl,f16c,fma")))

namespace {

TARGET inline float half(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

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

}  // namespace

bool has_fused_dot(WeightType t) {
  return quant::have_avx512() && (t == WeightType::Q8_0 || t == WeightType::F16 || t == WeightType::BF16);
}

void fused_dot_rows(WeightType t, const uint8_t* rows, int64_t stride, int64_t n, const float* x, int64_t k, float* y) {
  for (int64_t j = 0; j < n; ++j) {
    const uint8_t* r = rows + j * stride;
    y[j] = t == WeightType::Q8_0 ? dot_q8_0(r, x, k / quant::kQK) : dot_16bit(r, x, k, t == WeightType::F16);
  }
}

#else

bool has_fused_dot(WeightType) { return false; }
void fused_dot_rows(WeightType, const uint8_t*, int64_t, int64_t, const float*, int64_t, float*) {}

#endif

}  // namespace layerlab::cpu
