#include "gemm.h"

#include <oneapi/dnnl/dnnl.h>
#include <omp.h>

#include <algorithm>
#include <string>

#include "layerlab/error.h"
#include "layerlab/model.h"
#include "typed_gemm.h"

namespace layerlab::cpu {

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const dnnl_status_t st = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb,
                                      beta, c, ldc);
  if (st != dnnl_success)
    throw Error("CPU matrix product (oneDNN sgemm " + std::to_string(m) + "x" + std::to_string(n) + "x" +
                std::to_string(k) + ") failed with status " + std::to_string(static_cast<int>(st)));
}

namespace {

bool typed(const GemmArgs& g) { return g.weight && !g.weight->is_f32(); }

// One thread's share: C[:, n0:n1] of C = A W^T (+ bias).
void gemm_nt_columns(int64_t m, int64_t n0, int64_t n1, int64_t k, const GemmArgs& g, int64_t lda, int64_t ldc) {
  if (typed(g)) return typed_gemm_columns(m, n0, n1, k, g, lda, ldc);
  float beta = g.accumulate ? 1.0f : 0.0f;
  if (g.bias) {
    // Seed C with the bias (added to what is there when accumulating), then accumulate.
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = n0; j < n1; ++j) g.c[i * ldc + j] = (g.accumulate ? g.c[i * ldc + j] : 0.0f) + g.bias[j];
    beta = 1.0f;
  }
  const float* w = g.weight ? g.weight->data : g.w;
  sgemm(false, true, m, n1 - n0, k, 1.0f, g.a, lda, w + n0 * k, k, beta, g.c + n0, ldc);
}

}  // namespace

GemmArgs weight_product(const float* a, const Param& p, const float* bias, float* c, int64_t lda, int64_t ldc,
                        bool accumulate) {
  GemmArgs g{a, p.data, bias, c, lda, ldc, accumulate};
  g.weight = &p;
  return g;
}

void gemm_nt(int64_t m, int64_t n, int64_t k, const GemmArgs& g) {
  if (g.weight && (g.weight->rows != n || g.weight->cols != k))
    throw Error("CPU matrix product: weight of " + std::to_string(g.weight->rows) + "x" +
                std::to_string(g.weight->cols) + " used as " + std::to_string(n) + "x" + std::to_string(k));
  const int64_t lda = g.lda ? g.lda : k, ldc = g.ldc ? g.ldc : n;
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  // Each thread takes a block of output columns (weight rows) and runs a single-threaded product
  // on it: faster than oneDNN's own partitioning at these shapes (1.2-1.9x at 128 rows on 2
  // cores, most for the MLP down-projection), and each thread streams only its share of W.
  // Narrow blocks (many threads, small n) make poor panels: oneDNN's own threading takes those.
  // Typed weights have no oneDNN threading to fall back on: they split down to 16 columns.
  const int64_t kColumnAlign = 16, kMinColumns = typed(g) ? 16 : 64;
  auto columns_per_thread = [&](int team) {
    return ((n + team - 1) / team + kColumnAlign - 1) / kColumnAlign * kColumnAlign;
  };
  if (threads <= 1 || columns_per_thread(threads) < kMinColumns) return gemm_nt_columns(m, 0, n, k, g, lda, ldc);
  std::string error;  // an exception must not leave a parallel region: rethrown after it
#pragma omp parallel num_threads(threads)
  {
    const int64_t per = columns_per_thread(omp_get_num_threads());  // the team OpenMP actually gave
    const int64_t n0 = std::min<int64_t>(n, per * omp_get_thread_num()), n1 = std::min<int64_t>(n, n0 + per);
    try {
      if (n1 > n0) gemm_nt_columns(m, n0, n1, k, g, lda, ldc);
    } catch (const std::exception& e) {
#pragma omp critical(layerlab_gemm_error)
      error = e.what();
    }
  }
  if (!error.empty()) throw Error(error);
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
