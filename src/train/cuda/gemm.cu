// The CUDA training context (stream, cuBLAS handle, reduction scratch) and the matrix
// products: row-major wrappers over column-major cuBLAS, and linear layers on top of them.
#include <string>

#include "train/cuda/ops.h"

namespace layerlab::train::cu {

Ctx::Ctx(int dev, bool tf32) : device(dev) {
  int n = 0;
  CUDA_CK(cudaGetDeviceCount(&n));
  if (dev < 0 || dev >= n)
    fail_option("device", "GPU " + std::to_string(dev) + " not present (" + std::to_string(n) + " visible)");
  CUDA_CK(cudaSetDevice(dev));
  CUDA_CK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  CUDA_CK(cublasCreate(&blas));
  CUDA_CK(cublasSetStream(blas, stream));
  // Default math is exact float32; TF32 tensor cores only when asked for.
  CUDA_CK(cublasSetMathMode(blas, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
}

Ctx::~Ctx() {
  if (blas) cublasDestroy(blas);
  if (stream) cudaStreamDestroy(stream);
}

float* Ctx::partials(size_t floats) {
  scratch.ensure(floats * sizeof(float), "reduction scratch");
  return scratch.as<float>();
}

void Ctx::sync() const { CUDA_CK(cudaStreamSynchronize(stream)); }

// Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: swap the operands.
void gemm(Ctx& c, bool ta, bool tb, int M, int N, int K, const float* A, int lda, const float* B, int ldb, float beta,
          float* C, int ldc) {
  const float alpha = 1.f;
  CUDA_CK(cublasSgemm(c.blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &alpha, B, ldb,
                      A, lda, &beta, C, ldc));
}

void gemm_batched(Ctx& c, bool ta, bool tb, int M, int N, int K, const float* A, int lda, int64_t sA, const float* B,
                  int ldb, int64_t sB, float beta, float* C, int ldc, int64_t sC, int batch) {
  const float alpha = 1.f;
  CUDA_CK(cublasSgemmStridedBatched(c.blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K,
                                    &alpha, B, ldb, sB, A, lda, sA, &beta, C, ldc, sC, batch));
}

namespace {

// 32-bit indices (activation sizes are checked in ensure_acts): a 64-bit modulo per element
// costs more than the memory traffic.
__global__ void add_bias_kernel(float* y, const float* b, unsigned n, unsigned out) {
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) y[i] += b[i % out];
}

}  // namespace

void linear_forward(Ctx& c, float* y, const float* x, const float* W, const float* b, int N, int in, int out) {
  gemm(c, false, true, N, out, in, x, in, W, in, 0.f, y, out);
  if (b) {
    const int64_t n = int64_t(N) * out;
    add_bias_kernel<<<grid_for(n, 256), 256, 0, c.stream>>>(y, b, unsigned(n), unsigned(out));
    CUDA_CK_LAUNCH("add_bias_kernel");
  }
}

void linear_backward(Ctx& c, float* dx, bool accumulate, float* dW, float* db, const float* dy, const float* x,
                     const float* W, int N, int in, int out) {
  if (dx) gemm(c, false, false, N, in, out, dy, out, W, in, accumulate ? 1.f : 0.f, dx, in);
  gemm(c, true, false, out, in, N, dy, out, x, in, 0.f, dW, in);
  if (db) column_sum(c, db, dy, N, out);
}

}  // namespace layerlab::train::cu
