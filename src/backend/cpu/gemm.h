#pragma once
// Float32 matrix products for the CPU backend, through oneDNN's sgemm (Debian's libdnnl).
// oneDNN picks its kernels from the CPU's instruction-set flags, so AVX-512 machines get
// AVX-512 kernels even when the BLAS library does not know the CPU model (OpenBLAS 0.3.21
// runs Zen 5 with its AVX2 "Haswell" kernels, at about half the speed: docs/BENCHMARKS.md).
// It runs on the OpenMP team of the caller, single-threaded inside a parallel region.
#include <cstdint>
#include <vector>

namespace layerlab {
struct Param;
}

namespace layerlab::cpu {

// Row-major C[m, n] = alpha * op(A) op(B) + beta * C, op(X) = X or X^T.
void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

struct GemmArgs {
  const float* a;   // [m, k], leading dimension lda (default k)
  const float* w;   // [n, k]
  const float* bias;  // [n] or null
  float* c;         // [m, n], leading dimension ldc (default n)
  int64_t lda = 0, ldc = 0;
  bool accumulate = false;  // C += A W^T instead of C = A W^T
  // W as a stored weight: when set and not float32, W is read from its blocks (typed_gemm.h)
  // and `w` is ignored; when float32, weight->data is used.
  const Param* weight = nullptr;
};

// The GemmArgs for W = p in whatever type p is stored.
GemmArgs weight_product(const float* a, const Param& p, const float* bias, float* c, int64_t lda = 0,
                        int64_t ldc = 0, bool accumulate = false);

// C[m, n] = A[m, k] * W[n, k]^T (+ bias): the PyTorch Linear layout.
void gemm_nt(int64_t m, int64_t n, int64_t k, const GemmArgs& g);
// Independent products of a parallel group at once: one per thread when there are enough of
// them, each threaded otherwise.
void gemm_nt_batched(int64_t m, int64_t n, int64_t k, const std::vector<GemmArgs>& batch);

}  // namespace layerlab::cpu
