// LayerNorm forward and backward: one warp per row (fixed shuffle-reduction order); the
// weight / bias gradients go through the two-stage column sums of reduce.cu.
#include "train/cuda/ops.h"

namespace layerlab::train::cu {

namespace {

constexpr int kWarps = 8;

__device__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__global__ void layernorm_forward_kernel(float* y, float* mean, float* rstd, const float* x, const float* w,
                                         const float* b, int N, int C, float eps) {
  const int n = blockIdx.x * kWarps + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (n >= N) return;
  const float* xr = x + int64_t(n) * C;
  float s = 0.f;
  for (int c = lane; c < C; c += 32) s += xr[c];
  const float m = warp_sum(s) / C;
  float v = 0.f;
  for (int c = lane; c < C; c += 32) v += (xr[c] - m) * (xr[c] - m);
  const float r = 1.f / sqrtf(warp_sum(v) / C + eps);
  float* yr = y + int64_t(n) * C;
  for (int c = lane; c < C; c += 32) yr[c] = ((xr[c] - m) * r) * w[c] + b[c];
  if (lane == 0) mean[n] = m, rstd[n] = r;
}

__global__ void layernorm_backward_kernel(float* dx, bool accumulate, const float* dy, const float* x,
                                          const float* mean, const float* rstd, const float* w, int N, int C) {
  const int n = blockIdx.x * kWarps + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (n >= N) return;
  const float* xr = x + int64_t(n) * C;
  const float* dyr = dy + int64_t(n) * C;
  const float m = mean[n], r = rstd[n];
  float md = 0.f, mdx = 0.f;
  for (int c = lane; c < C; c += 32) {
    const float d = dyr[c] * w[c];
    md += d;
    mdx += d * ((xr[c] - m) * r);
  }
  md = warp_sum(md) / C;
  mdx = warp_sum(mdx) / C;
  float* dxr = dx + int64_t(n) * C;
  for (int c = lane; c < C; c += 32) {
    const float g = (dyr[c] * w[c] - md - ((xr[c] - m) * r) * mdx) * r;
    dxr[c] = accumulate ? dxr[c] + g : g;
  }
}

}  // namespace

void layernorm_forward(Ctx& c, float* y, float* mean, float* rstd, const float* x, const float* w, const float* b,
                       int N, int C, float eps) {
  layernorm_forward_kernel<<<(N + kWarps - 1) / kWarps, 32 * kWarps, 0, c.stream>>>(y, mean, rstd, x, w, b, N, C, eps);
  CUDA_CK_LAUNCH("layernorm_forward_kernel");
}

void layernorm_backward(Ctx& c, float* dx, bool accumulate, float* dw, float* db, const float* dy, const float* x,
                        const float* mean, const float* rstd, const float* w, int N, int C) {
  layernorm_backward_kernel<<<(N + kWarps - 1) / kWarps, 32 * kWarps, 0, c.stream>>>(dx, accumulate, dy, x, mean,
                                                                                      rstd, w, N, C);
  CUDA_CK_LAUNCH("layernorm_backward_kernel");
  layernorm_param_grads(c, dw, db, dy, x, mean, rstd, N, C);
}

}  // namespace layerlab::train::cu
