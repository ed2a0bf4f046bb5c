// Causal multi-head attention for training, plain and shaped (A = alpha I + beta softmax - gamma C,
// C_ij = 1/(i+1) for j <= i). Q, K, V are copied to head-major [B, H, L, hd]; scores and their
// gradients are strided-batched cuBLAS products over the B*H heads; the causal softmax keeps its
// probabilities [B, H, L, L] for the backward. The shaped terms alpha v_i and gamma * (running
// mean of v) are sequential scans along the sequence, one thread per (b, h, d): no atomics.
#include <cmath>

#include "train/cuda/ops.h"

namespace layerlab::train::cu {

namespace {

constexpr int kWarps = 8;

#define GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

__device__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Row-major [N, stride] (head h at columns h*hd) -> head-major [B, H, L, hd]; read order.
__global__ void to_heads_kernel(float* out, const float* in, int stride, int B, int L, int H, int hd) {
  const int C = H * hd;
  GRID_STRIDE(idx, int64_t(B) * L * C) {
    const int64_t n = idx / C;
    const int col = int(idx % C), h = col / hd, d = col % hd;
    const int64_t b = n / L, i = n % L;
    out[((b * H + h) * L + i) * hd + d] = in[n * stride + col];
  }
}

// Head-major -> row-major with stride; write order.
__global__ void from_heads_kernel(float* out, int stride, const float* in, int B, int L, int H, int hd) {
  const int C = H * hd;
  GRID_STRIDE(idx, int64_t(B) * L * C) {
    const int64_t n = idx / C;
    const int col = int(idx % C), h = col / hd, d = col % hd;
    const int64_t b = n / L, i = n % L;
    out[n * stride + col] = in[((b * H + h) * L + i) * hd + d];
  }
}

// p[r, :] = causal softmax of s[r, :] * scale, r = (b, h, i); zeros past the diagonal.
__global__ void softmax_forward_kernel(float* p, const float* s, int rows, int L, float scale) {
  const int r = blockIdx.x * kWarps + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (r >= rows) return;
  const int i = r % L;
  const float* sr = s + int64_t(r) * L;
  float* pr = p + int64_t(r) * L;
  float mx = -INFINITY;
  for (int j = lane; j <= i; j += 32) mx = fmaxf(mx, sr[j] * scale);
  mx = warp_max(mx);
  float sum = 0.f;
  for (int j = lane; j <= i; j += 32) {
    const float e = expf(sr[j] * scale - mx);
    pr[j] = e;
    sum += e;
  }
  sum = warp_sum(sum);
  for (int j = lane; j < L; j += 32) pr[j] = j <= i ? pr[j] / sum : 0.f;
}

// In place: d[r, j] = p (b d - sum_k p b d) * scale for j <= i, else 0 (b = beta[h] or 1).
__global__ void softmax_backward_kernel(float* d, const float* p, const float* beta, int rows, int L, int H,
                                        float scale) {
  const int r = blockIdx.x * kWarps + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (r >= rows) return;
  const int i = r % L, h = (r / L) % H;
  const float bc = beta ? beta[h] : 1.f;
  const float* pr = p + int64_t(r) * L;
  float* dr = d + int64_t(r) * L;
  float dot = 0.f;
  for (int j = lane; j <= i; j += 32) dot += pr[j] * (bc * dr[j]);
  dot = warp_sum(dot);
  for (int j = lane; j < L; j += 32) dr[j] = j <= i ? pr[j] * (bc * dr[j] - dot) * scale : 0.f;
}

// y_i = beta pv_i + alpha v_i - gamma mean_{j<=i} v_j, one thread per (b, h, d), scanning i.
__global__ void shaped_forward_kernel(float* y, const float* pv, const float* v, const float* coef, int B, int L,
                                      int H, int hd) {
  const int C = H * hd;
  GRID_STRIDE(t, int64_t(B) * C) {
    const int d = int(t % hd), h = int((t / hd) % H);
    const int64_t b = t / C;
    const float alpha = coef[h], beta = coef[H + h], gamma = coef[2 * H + h];
    const int64_t base = (b * H + h) * L * hd + d;
    float s = 0.f;
    for (int i = 0; i < L; ++i) {
      const float vi = v[base + int64_t(i) * hd];
      s += vi;
      y[(b * L + i) * C + h * hd + d] = beta * pv[base + int64_t(i) * hd] + alpha * vi - gamma * (s / float(i + 1));
    }
  }
}

// dv_j = alpha dy_j + beta (P^T dy)_j - gamma sum_{i>=j} dy_i / (i+1), scanning i downwards.
__global__ void shaped_backward_v_kernel(float* dv, int dvs, const float* dy, const float* ptdy, const float* coef,
                                         int B, int L, int H, int hd) {
  const int C = H * hd;
  GRID_STRIDE(t, int64_t(B) * C) {
    const int d = int(t % hd), h = int((t / hd) % H);
    const int64_t b = t / C;
    const float alpha = coef[h], beta = coef[H + h], gamma = coef[2 * H + h];
    const int64_t base = (b * H + h) * L * hd + d;
    float s = 0.f;
    for (int i = L - 1; i >= 0; --i) {
      const float g = dy[base + int64_t(i) * hd];
      s += g / float(i + 1);
      dv[(b * L + i) * dvs + h * hd + d] = alpha * g + beta * ptdy[base + int64_t(i) * hd] - gamma * s;
    }
  }
}

constexpr int kCoefThreads = 256;

// Per head h (one block): d alpha = sum dy.v, d beta = sum dy.pv, d gamma = -sum dy.mean_{j<=i} v_j,
// over every (b, i, d), in double, then a fixed tree over the block.
__global__ void shaped_coef_grad_kernel(float* dcoef, const float* dy, const float* v, const float* pv, int B, int L,
                                        int H, int hd) {
  const int h = blockIdx.x;
  double a = 0, bt = 0, g = 0;
  for (int pr = threadIdx.x; pr < B * hd; pr += kCoefThreads) {
    const int b = pr / hd, d = pr % hd;
    const int64_t base = (int64_t(b) * H + h) * L * hd + d;
    double cs = 0;
    for (int i = 0; i < L; ++i) {
      const int64_t k = base + int64_t(i) * hd;
      const double gy = dy[k], vi = v[k];
      cs += vi;
      a += gy * vi;
      bt += gy * double(pv[k]);
      g += gy * cs / (i + 1);
    }
  }
  __shared__ double sh[3][kCoefThreads];
  sh[0][threadIdx.x] = a, sh[1][threadIdx.x] = bt, sh[2][threadIdx.x] = g;
  __syncthreads();
  for (int s = kCoefThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s)
      for (int k = 0; k < 3; ++k) sh[k][threadIdx.x] += sh[k][threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    dcoef[h] = float(sh[0][0]);
    dcoef[H + h] = float(sh[1][0]);
    dcoef[2 * H + h] = float(-sh[2][0]);
  }
}

void to_heads(Ctx& c, float* out, const float* in, int stride, int B, int L, int H, int hd) {
  to_heads_kernel<<<grid_for(int64_t(B) * L * H * hd, 256), 256, 0, c.stream>>>(out, in, stride, B, L, H, hd);
  CUDA_CK_LAUNCH("to_heads_kernel");
}

void from_heads(Ctx& c, float* out, int stride, const float* in, int B, int L, int H, int hd) {
  from_heads_kernel<<<grid_for(int64_t(B) * L * H * hd, 256), 256, 0, c.stream>>>(out, stride, in, B, L, H, hd);
  CUDA_CK_LAUNCH("from_heads_kernel");
}

}  // namespace

void attention_forward(Ctx& c, float* y, float* p, float* pv, const AttnIn& in, const AttnScratch& w, int B, int L,
                       int H, int hd) {
  const int BH = B * H, rows = BH * L, C = H * hd;
  const int64_t sq = int64_t(L) * hd, ss = int64_t(L) * L;
  to_heads(c, w.qh, in.q, in.qs, B, L, H, hd);
  to_heads(c, w.kh, in.k, in.ks, B, L, H, hd);
  to_heads(c, w.vh, in.v, in.vs, B, L, H, hd);
  // s = q k^T per head (the upper triangle is computed and ignored).
  gemm_batched(c, false, true, L, L, hd, w.qh, hd, sq, w.kh, hd, sq, 0.f, w.s, L, ss, BH);
  softmax_forward_kernel<<<(rows + kWarps - 1) / kWarps, 32 * kWarps, 0, c.stream>>>(p, w.s, rows, L,
                                                                                      1.f / sqrtf(float(hd)));
  CUDA_CK_LAUNCH("softmax_forward_kernel");
  float* out = in.coef ? pv : w.th;
  gemm_batched(c, false, false, L, hd, L, p, L, ss, w.vh, hd, sq, 0.f, out, hd, sq, BH);
  if (in.coef) {
    shaped_forward_kernel<<<grid_for(int64_t(B) * C, 256), 256, 0, c.stream>>>(y, pv, w.vh, in.coef, B, L, H, hd);
    CUDA_CK_LAUNCH("shaped_forward_kernel");
  } else {
    from_heads(c, y, C, w.th, B, L, H, hd);
  }
}

void attention_backward(Ctx& c, float* dq, float* dk, float* dv, int dqs, int dks, int dvs, float* dcoef,
                        const float* dy, const float* p, const float* pv, const AttnIn& in, const AttnScratch& w,
                        int B, int L, int H, int hd) {
  const int BH = B * H, rows = BH * L, C = H * hd;
  const int64_t sq = int64_t(L) * hd, ss = int64_t(L) * L;
  to_heads(c, w.qh, in.q, in.qs, B, L, H, hd);
  to_heads(c, w.kh, in.k, in.ks, B, L, H, hd);
  to_heads(c, w.vh, in.v, in.vs, B, L, H, hd);
  to_heads(c, w.th, dy, C, B, L, H, hd);  // th = dy, head-major
  if (in.coef) {
    shaped_coef_grad_kernel<<<H, kCoefThreads, 0, c.stream>>>(dcoef, w.th, w.vh, pv, B, L, H, hd);
    CUDA_CK_LAUNCH("shaped_coef_grad_kernel");
  }
  // dA = dy v^T (gradient of the softmax part, before beta), then P^T dy into vh (v is done).
  gemm_batched(c, false, true, L, L, hd, w.th, hd, sq, w.vh, hd, sq, 0.f, w.s, L, ss, BH);
  gemm_batched(c, true, false, L, hd, L, p, L, ss, w.th, hd, sq, 0.f, w.vh, hd, sq, BH);
  if (in.coef) {
    shaped_backward_v_kernel<<<grid_for(int64_t(B) * C, 256), 256, 0, c.stream>>>(dv, dvs, w.th, w.vh, in.coef, B, L,
                                                                                 H, hd);
    CUDA_CK_LAUNCH("shaped_backward_v_kernel");
  } else {
    from_heads(c, dv, dvs, w.vh, B, L, H, hd);
  }
  softmax_backward_kernel<<<(rows + kWarps - 1) / kWarps, 32 * kWarps, 0, c.stream>>>(
      w.s, p, in.coef ? in.coef + H : nullptr, rows, L, H, 1.f / sqrtf(float(hd)));
  CUDA_CK_LAUNCH("softmax_backward_kernel");
  // dq = dS k (into th: dy is done), dk = dS^T q (into vh: dv is out).
  gemm_batched(c, false, false, L, hd, L, w.s, L, ss, w.kh, hd, sq, 0.f, w.th, hd, sq, BH);
  from_heads(c, dq, dqs, w.th, B, L, H, hd);
  gemm_batched(c, true, false, L, hd, L, w.s, L, ss, w.qh, hd, sq, 0.f, w.vh, hd, sq, BH);
  from_heads(c, dk, dks, w.vh, B, L, H, hd);
}

}  // namespace layerlab::train::cu
