#include "typed_gemm.h"

#include <algorithm>
#include <vector>

#include "layerlab/model.h"
#include "quant/decode.h"
#include "typed_dot.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#endif

namespace layerlab::cpu {

namespace {

// One accumulator chain is bound by the FMA latency (4 cycles per 16 values); four independent
// ones keep the FMA units busy, which makes the row-dot path 2-3x faster.
float dot_plain(const float* a, const float* b, int64_t k) {
  float s[4] = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= k; i += 4)
    for (int j = 0; j < 4; ++j) s[j] += a[i + j] * b[i + j];
  for (; i < k; ++i) s[0] += a[i] * b[i];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx512f"))) float dot_avx512(const float* a, const float* b, int64_t k) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 64 <= k; i += 64) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
    s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
  }
  for (; i + 16 <= k; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
  float s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
  for (; i < k; ++i) s += a[i] * b[i];
  return s;
}
float dot(const float* a, const float* b, int64_t k) {
  return quant::have_avx512() ? dot_avx512(a, b, k) : dot_plain(a, b, k);
}
#else
float dot(const float* a, const float* b, int64_t k) { return dot_plain(a, b, k); }
#endif

std::vector<float>& scratch(size_t n) {
  thread_local std::vector<float> buf;  // one per thread: decoded weight rows
  if (buf.size() < n) buf.resize(n);
  return buf;
}

}  // namespace

TypedGemmTuning& typed_gemm_tuning() {
  static TypedGemmTuning t;
  return t;
}

void typed_gemm_columns(int64_t m, int64_t n0, int64_t n1, int64_t k, const GemmArgs& g, int64_t lda, int64_t ldc) {
  const Param& w = *g.weight;
  const int64_t stride = w.bytes_per_row();
  const uint8_t* base = static_cast<const uint8_t*>(w.raw);
  const TypedGemmTuning& tune = typed_gemm_tuning();
  if (m == 1 && tune.fused_one_row && has_fused_dot(w.type)) {
    constexpr int64_t kChunk = 64;  // results of a chunk of rows, then bias / accumulate
    float y[kChunk];
    for (int64_t j0 = n0; j0 < n1; j0 += kChunk) {
      const int64_t rows = std::min(kChunk, n1 - j0);
      fused_dot_rows(w.type, base + j0 * stride, stride, rows, g.a, k, y);
      for (int64_t r = 0; r < rows; ++r) {
        float& c = g.c[j0 + r];
        c = (g.accumulate ? c : 0.0f) + (g.bias ? g.bias[j0 + r] : 0.0f) + y[r];
      }
    }
    return;
  }
  if (m <= tune.dot_rows) {
    float* row = scratch(size_t(k)).data();
    for (int64_t j = n0; j < n1; ++j) {
      quant::decode_row(w.type, base + j * stride, k, row);
      const float b = g.bias ? g.bias[j] : 0.0f;
      for (int64_t i = 0; i < m; ++i) {
        float& c = g.c[i * ldc + j];
        c = (g.accumulate ? c : 0.0f) + b + dot(row, g.a + i * lda, k);
      }
    }
    return;
  }
  float beta = g.accumulate ? 1.0f : 0.0f;
  if (g.bias) {  // as gemm.cpp: seed C with the bias, then accumulate
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = n0; j < n1; ++j) g.c[i * ldc + j] = (g.accumulate ? g.c[i * ldc + j] : 0.0f) + g.bias[j];
    beta = 1.0f;
  }
  const int64_t tile_rows =
      tune.tile_rows > 0 ? tune.tile_rows : std::max<int64_t>(16, (int64_t(1) << 20) / std::max<int64_t>(1, k) / 16 * 16);
  float* tile = scratch(size_t(tile_rows * k)).data();
  for (int64_t j0 = n0; j0 < n1; j0 += tile_rows) {
    const int64_t rows = std::min(tile_rows, n1 - j0);
    for (int64_t r = 0; r < rows; ++r) quant::decode_row(w.type, base + (j0 + r) * stride, k, tile + r * k);
    sgemm(false, true, m, rows, k, 1.0f, g.a, lda, tile, k, beta, g.c + j0, ldc);
  }
}

}  // namespace layerlab::cpu
