#include "typed_gemm.h"

#include <algorithm>
#include <vector>

#include "layerlab/model.h"
#include "quant/decode.h"

namespace layerlab::cpu {

namespace {

float dot(const float* a, const float* b, int64_t k) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < k; ++i) s += a[i] * b[i];
  return s;
}

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
  const int64_t tile_rows = std::max<int64_t>(1, tune.tile_rows);
  float* tile = scratch(size_t(tile_rows * k)).data();
  for (int64_t j0 = n0; j0 < n1; j0 += tile_rows) {
    const int64_t rows = std::min(tile_rows, n1 - j0);
    for (int64_t r = 0; r < rows; ++r) quant::decode_row(w.type, base + (j0 + r) * stride, k, tile + r * k);
    sgemm(false, true, m, rows, k, 1.0f, g.a, lda, tile, k, beta, g.c + j0, ldc);
  }
}

}  // namespace layerlab::cpu
