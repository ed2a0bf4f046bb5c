// Softmax cross-entropy over the vocabulary, one block per row. The logits are overwritten
// with the loss gradient at once (forward and backward of the loss in one pass over the
// largest activation); validation only reads the row losses.
#include <cmath>

#include "train/cuda/ops.h"

namespace layerlab::train::cu {

namespace {

constexpr int kThreads = 512;

// Fixed-tree block reduction with `op` (all threads get the result).
template <class Op>
__device__ float block_reduce(float v, float* sh, Op op) {
  __syncthreads();  // sh may still be read from a previous reduction
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) sh[threadIdx.x] = op(sh[threadIdx.x], sh[threadIdx.x + s]);
    __syncthreads();
  }
  return sh[0];
}

__global__ void cross_entropy_kernel(float* loss, float* logits, const int32_t* tgt, int N, int V) {
  __shared__ float sh[kThreads];
  float* x = logits + int64_t(blockIdx.x) * V;
  const int t = tgt[blockIdx.x];
  const float xt = x[t];  // read before any thread overwrites the row
  float mx = -INFINITY;
  for (int v = threadIdx.x; v < V; v += kThreads) mx = fmaxf(mx, x[v]);
  mx = block_reduce(mx, sh, [](float a, float b) { return fmaxf(a, b); });
  float s = 0.f;
  for (int v = threadIdx.x; v < V; v += kThreads) s += expf(x[v] - mx);
  s = block_reduce(s, sh, [](float a, float b) { return a + b; });
  const float inv = 1.f / s;
  if (threadIdx.x == 0) loss[blockIdx.x] = logf(s) - (xt - mx);
  for (int v = threadIdx.x; v < V; v += kThreads) x[v] = (expf(x[v] - mx) * inv - (v == t ? 1.f : 0.f)) / float(N);
}

}  // namespace

void cross_entropy(Ctx& c, float* loss, float* logits, const int32_t* tgt, int N, int V) {
  cross_entropy_kernel<<<N, kThreads, 0, c.stream>>>(loss, logits, tgt, N, V);
  CUDA_CK_LAUNCH("cross_entropy_kernel");
}

}  // namespace layerlab::train::cu
