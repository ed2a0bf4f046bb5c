// Fixed-order reductions for gradients: column sums (bias and LayerNorm parameter gradients)
// in two stages (row chunks, then the chunks in order), and whole-vector sums (gains, the
// gradient norm, the loss) over a fixed grid then one block. No atomics: the same inputs give
// the same bits on every run.
#include "train/cuda/ops.h"

namespace layerlab::train::cu {

namespace {

constexpr int kChunkRows = 128;  // rows per first-stage block
constexpr int kColTile = 32;     // columns per first-stage block (one warp wide: coalesced)
constexpr int kRowThreads = 8;   // threads down the rows of a chunk
constexpr int kSumBlocks = 256;  // fixed first-stage grid of the vector sums
constexpr int kSumThreads = 256;

int chunks_for(int N) { return (N + kChunkRows - 1) / kChunkRows; }

// partial[chunk, j] (and partial2 when LN) = sum over the chunk's rows; LN: dy * xhat and dy.
template <bool LN>
__global__ void column_partial_kernel(float* partial, float* partial2, const float* a, const float* x,
                                      const float* mean, const float* rstd, int N, int C) {
  __shared__ float s1[kRowThreads][kColTile], s2[kRowThreads][kColTile];
  const int col = blockIdx.x * kColTile + threadIdx.x;
  const int r0 = blockIdx.y * kChunkRows, r1 = min(N, r0 + kChunkRows);
  float acc = 0.f, acc2 = 0.f;
  if (col < C)
    for (int r = r0 + threadIdx.y; r < r1; r += kRowThreads) {
      const float d = a[int64_t(r) * C + col];
      if (LN) {
        acc += d * ((x[int64_t(r) * C + col] - mean[r]) * rstd[r]);
        acc2 += d;
      } else {
        acc += d;
      }
    }
  s1[threadIdx.y][threadIdx.x] = acc;
  s2[threadIdx.y][threadIdx.x] = acc2;
  __syncthreads();
  if (threadIdx.y == 0 && col < C) {
    float t = 0.f, t2 = 0.f;
    for (int k = 0; k < kRowThreads; ++k) t += s1[k][threadIdx.x], t2 += s2[k][threadIdx.x];
    partial[int64_t(blockIdx.y) * C + col] = t;
    if (LN) partial2[int64_t(blockIdx.y) * C + col] = t2;
  }
}

// out[j] = sum over chunks of partial[chunk, j], in chunk order.
__global__ void column_final_kernel(float* out, const float* partial, int chunks, int C) {
  const int col = blockIdx.x * blockDim.x + threadIdx.x;
  if (col >= C) return;
  float t = 0.f;
  for (int k = 0; k < chunks; ++k) t += partial[int64_t(k) * C + col];
  out[col] = t;
}

__device__ double block_sum(double v) {
  __shared__ double sh[kSumThreads];
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int s = kSumThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
    __syncthreads();
  }
  return sh[0];
}

enum class Op { Dot, Squares, Sum };

template <Op op>
__global__ void vector_partial_kernel(double* partial, const float* a, const float* b, int64_t n) {
  double acc = 0;
  for (int64_t i = blockIdx.x * int64_t(kSumThreads) + threadIdx.x; i < n; i += int64_t(kSumBlocks) * kSumThreads) {
    const double x = a[i];
    acc += op == Op::Dot ? x * double(b[i]) : op == Op::Squares ? x * x : x;
  }
  const double t = block_sum(acc);
  if (threadIdx.x == 0) partial[blockIdx.x] = t;
}

__global__ void vector_final_kernel(float* out_f, double* out_d, const double* partial) {
  const double t = block_sum(partial[threadIdx.x]);  // kSumBlocks == kSumThreads
  if (threadIdx.x == 0) {
    if (out_f) *out_f = float(t);
    if (out_d) *out_d = t;
  }
}

template <Op op>
void vector_reduce(Ctx& c, float* out_f, double* out_d, const float* a, const float* b, int64_t n) {
  static_assert(kSumBlocks == kSumThreads, "the final stage sums one partial per thread");
  double* partial = reinterpret_cast<double*>(c.partials(2 * kSumBlocks));
  vector_partial_kernel<op><<<kSumBlocks, kSumThreads, 0, c.stream>>>(partial, a, b, n);
  CUDA_CK_LAUNCH("vector_partial_kernel");
  vector_final_kernel<<<1, kSumThreads, 0, c.stream>>>(out_f, out_d, partial);
  CUDA_CK_LAUNCH("vector_final_kernel");
}

}  // namespace

void column_sum(Ctx& c, float* out, const float* a, int N, int C) {
  const int chunks = chunks_for(N);
  float* partial = c.partials(size_t(chunks) * C);
  dim3 grid((C + kColTile - 1) / kColTile, chunks), block(kColTile, kRowThreads);
  column_partial_kernel<false><<<grid, block, 0, c.stream>>>(partial, nullptr, a, nullptr, nullptr, nullptr, N, C);
  CUDA_CK_LAUNCH("column_partial_kernel");
  column_final_kernel<<<(C + 255) / 256, 256, 0, c.stream>>>(out, partial, chunks, C);
  CUDA_CK_LAUNCH("column_final_kernel");
}

void layernorm_param_grads(Ctx& c, float* dw, float* db, const float* dy, const float* x, const float* mean,
                           const float* rstd, int N, int C) {
  const int chunks = chunks_for(N);
  float* partial = c.partials(2 * size_t(chunks) * C);
  float* partial2 = partial + size_t(chunks) * C;
  dim3 grid((C + kColTile - 1) / kColTile, chunks), block(kColTile, kRowThreads);
  column_partial_kernel<true><<<grid, block, 0, c.stream>>>(partial, partial2, dy, x, mean, rstd, N, C);
  CUDA_CK_LAUNCH("column_partial_kernel<ln>");
  column_final_kernel<<<(C + 255) / 256, 256, 0, c.stream>>>(dw, partial, chunks, C);
  CUDA_CK_LAUNCH("column_final_kernel");
  column_final_kernel<<<(C + 255) / 256, 256, 0, c.stream>>>(db, partial2, chunks, C);
  CUDA_CK_LAUNCH("column_final_kernel");
}

void dot(Ctx& c, float* out, const float* a, const float* b, int64_t n) {
  vector_reduce<Op::Dot>(c, out, nullptr, a, b, n);
}

void sum_squares(Ctx& c, double* out, const float* a, int64_t n) {
  vector_reduce<Op::Squares>(c, nullptr, out, a, nullptr, n);
}

void sum(Ctx& c, double* out, const float* a, int64_t n) { vector_reduce<Op::Sum>(c, nullptr, out, a, nullptr, n); }

}  // namespace layerlab::train::cu
