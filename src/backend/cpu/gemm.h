#pragma once
// Matrix products through OpenBLAS (OpenMP build): C[m, n] = A[m, k] * W[n, k]^T (+ bias),
// the PyTorch Linear layout. The batched form runs independent products of a parallel group
// at once: one per thread when there are enough of them, each threaded otherwise.
#include <cstdint>
#include <vector>

namespace layerlab::cpu {

struct GemmArgs {
  const float* a;   // [m, k], leading dimension lda (default k)
  const float* w;   // [n, k]
  const float* bias;  // [n] or null
  float* c;         // [m, n], leading dimension ldc (default n)
  int64_t lda = 0, ldc = 0;
  bool accumulate = false;  // C += A W^T instead of C = A W^T
};

void gemm_nt(int64_t m, int64_t n, int64_t k, const GemmArgs& g);
void gemm_nt_batched(int64_t m, int64_t n, int64_t k, const std::vector<GemmArgs>& batch);

}  // namespace layerlab::cpu
