#include "gemm.h"

#include <oneapi/dnnl/dnnl.h>
#include <omp.h>

#include <string>

#include "layerlab/error.h"

namespace layerlab::cpu {

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const dnnl_status_t st = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb,
                                      beta, c, ldc);
  if (st != dnnl_success)
    throw Error("CPU matrix product (oneDNN sgemm " + std::to_string(m) + "x" + std::to_string(n) + "x" +
                std::to_string(k) + ") failed with status " + std::to_string(static_cast<int>(st)));
}

void gemm_nt(int64_t m, int64_t n, int64_t k, const GemmArgs& g) {
  const int64_t lda = g.lda ? g.lda : k, ldc = g.ldc ? g.ldc : n;
  float beta = g.accumulate ? 1.0f : 0.0f;
  if (g.bias) {
    // Seed C with the bias (added to what is there when accumulating), then accumulate.
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) g.c[i * ldc + j] = (g.accumulate ? g.c[i * ldc + j] : 0.0f) + g.bias[j];
    beta = 1.0f;
  }
  sgemm(false, true, m, n, k, 1.0f, g.a, lda, g.w, k, beta, g.c, ldc);
}

void gemm_nt_batched(int64_t m, int64_t n, int64_t k, const std::vector<GemmArgs>& batch) {
  const int threads = omp_get_max_threads();
  if (batch.size() >= static_cast<size_t>(threads) && threads > 1) {
    // One product per thread; oneDNN runs single-threaded inside an OpenMP parallel region.
#pragma omp parallel for schedule(dynamic)
    for (size_t i = 0; i < batch.size(); ++i) gemm_nt(m, n, k, batch[i]);
  } else {
    for (const auto& g : batch) gemm_nt(m, n, k, g);
  }
}

}  // namespace layerlab::cpu
