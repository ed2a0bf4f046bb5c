// Causal multi-head attention for training, plain and shaped (A = alpha I + beta softmax - gamma C,
// C_ij = 1/(i+1) for j <= i). Q, K, V are copied to head-major [B, H, L, hd]; scores, A v and
// the gradients are strided-batched cuBLAS products over the B*H heads; the causal softmax keeps
// its probabilities [B, H, L, L] for the backward. Shaped attention builds A itself from them
// (forward, and again in the backward) so it is one product like the plain one; its coefficient
// gradients are row partials of the softmax backward summed per head in a fixed order.
#include <cmath>
#include <cstdint>

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

// Row-major [N, stride] (head h at columns h*hd) <-> head-major [B, H, L, hd], VEC floats per
// thread (4: 16-byte copies when sizes and pointers allow). 32-bit indices (sizes are checked in
// ensure_acts): 64-bit division per element made these copies a tenth of the step.
template <int VEC, bool TO_HEADS>
__global__ void heads_copy_kernel(float* out, const float* in, int stride, int B, int L, int H, int hd) {
  const unsigned hv = hd / VEC, total = unsigned(B) * L * H * hv;
  for (unsigned t = blockIdx.x * blockDim.x + threadIdx.x; t < total; t += gridDim.x * blockDim.x) {
    const unsigned dv = t % hv, nh = t / hv, h = nh % H, n = nh / H, b = n / L, i = n % L;
    const size_t row = size_t(n) * stride + h * hd + dv * VEC;
    const size_t head = ((size_t(b) * H + h) * L + i) * hd + dv * VEC;
    const float* src = in + (TO_HEADS ? row : head);
    float* dst = out + (TO_HEADS ? head : row);
    if constexpr (VEC == 4)
      *reinterpret_cast<float4*>(dst) = *reinterpret_cast<const float4*>(src);
    else
      *dst = *src;
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
// Shaped (row_part set): the row's parts of the coefficient gradients, from d = dA before the
// overwrite: alpha: dA_ii, beta: sum_j p dA, gamma: -sum_j dA / (i+1).
__global__ void softmax_backward_kernel(float* d, float* row_part, const float* p, const float* beta, int rows, int L,
                                        int H, float scale) {
  const int r = blockIdx.x * kWarps + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (r >= rows) return;
  const int i = r % L, h = (r / L) % H;
  const float bc = beta ? beta[h] : 1.f;
  const float* pr = p + int64_t(r) * L;
  float* dr = d + int64_t(r) * L;
  float dot = 0.f, pd = 0.f, sd = 0.f;
  for (int j = lane; j <= i; j += 32) {
    dot += pr[j] * (bc * dr[j]);
    pd += pr[j] * dr[j];
    sd += dr[j];
  }
  dot = warp_sum(dot);
  if (row_part) {
    pd = warp_sum(pd);
    sd = warp_sum(sd);
    if (lane == 0) {
      row_part[int64_t(r) * 3] = dr[i];
      row_part[int64_t(r) * 3 + 1] = pd;
      row_part[int64_t(r) * 3 + 2] = -sd / float(i + 1);
    }
    __syncwarp();  // dr[i] is read before any lane overwrites it
  }
  for (int j = lane; j < L; j += 32) dr[j] = j <= i ? pr[j] * (bc * dr[j] - dot) * scale : 0.f;
}

// Shaped: a[r, j] = beta p + alpha [j == i] - gamma / (i+1) for j <= i, else 0 (as the CPU's
// a_ij); one warp per row r = (b, h, i).
__global__ void shaped_matrix_kernel(float* a, const float* p, const float* coef, int rows, int L, int H) {
  const int r = blockIdx.x * kWarps + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (r >= rows) return;
  const int i = r % L, h = (r / L) % H;
  const float alpha = coef[h], beta = coef[H + h], gc = coef[2 * H + h] / float(i + 1);
  const float* pr = p + int64_t(r) * L;
  float* ar = a + int64_t(r) * L;
  for (int j = lane; j < L; j += 32) ar[j] = j <= i ? beta * pr[j] - gc + (i == j ? alpha : 0.f) : 0.f;
}

constexpr int kCoefThreads = 256;

// Per head h (one block): the coefficient gradients from the per-row partials of
// softmax_backward_kernel, summed over (b, i) in double in a fixed order.
__global__ void shaped_coef_grad_kernel(float* dcoef, const float* row_part, int B, int L, int H) {
  const int h = blockIdx.x;
  double acc[3] = {0, 0, 0};
  for (int k = threadIdx.x; k < B * L; k += kCoefThreads) {
    const int64_t r = (int64_t(k / L) * H + h) * L + k % L;
    for (int c = 0; c < 3; ++c) acc[c] += row_part[r * 3 + c];
  }
  __shared__ double sh[3][kCoefThreads];
  for (int c = 0; c < 3; ++c) sh[c][threadIdx.x] = acc[c];
  __syncthreads();
  for (int s = kCoefThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s)
      for (int c = 0; c < 3; ++c) sh[c][threadIdx.x] += sh[c][threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0)
    for (int c = 0; c < 3; ++c) dcoef[c * H + h] = float(sh[c][0]);
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <bool TO_HEADS>
void heads_copy(Ctx& c, float* out, const float* in, int stride, int B, int L, int H, int hd) {
  const int64_t n = int64_t(B) * L * H * hd;
  if (hd % 4 == 0 && stride % 4 == 0 && aligned16(out) && aligned16(in))
    heads_copy_kernel<4, TO_HEADS><<<grid_for(n / 4, 256), 256, 0, c.stream>>>(out, in, stride, B, L, H, hd);
  else
    heads_copy_kernel<1, TO_HEADS><<<grid_for(n, 256), 256, 0, c.stream>>>(out, in, stride, B, L, H, hd);
  CUDA_CK_LAUNCH("heads_copy_kernel");
}

void to_heads(Ctx& c, float* out, const float* in, int stride, int B, int L, int H, int hd) {
  heads_copy<true>(c, out, in, stride, B, L, H, hd);
}

void from_heads(Ctx& c, float* out, int stride, const float* in, int B, int L, int H, int hd) {
  heads_copy<false>(c, out, in, stride, B, L, H, hd);
}

void shaped_matrix(Ctx& c, float* a, const float* p, const float* coef, int rows, int L, int H) {
  shaped_matrix_kernel<<<(rows + kWarps - 1) / kWarps, 32 * kWarps, 0, c.stream>>>(a, p, coef, rows, L, H);
  CUDA_CK_LAUNCH("shaped_matrix_kernel");
}

// q, k and v in head-major layout: w.qh, w.kh, w.vh.
void qkv_to_heads(Ctx& c, const AttnScratch& w, const AttnIn& in, int B, int L, int H, int hd) {
  to_heads(c, w.qh, in.q, in.qs, B, L, H, hd);
  to_heads(c, w.kh, in.k, in.ks, B, L, H, hd);
  to_heads(c, w.vh, in.v, in.vs, B, L, H, hd);
}

// The matrix that mixes the values: the softmax p itself, or the shaped matrix built into w.s.
const float* attention_matrix(Ctx& c, const AttnScratch& w, const float* p, const AttnIn& in, int rows, int L,
                              int H) {
  if (!in.coef) return p;
  shaped_matrix(c, w.s, p, in.coef, rows, L, H);
  return w.s;
}

}  // namespace

void attention_forward(Ctx& c, float* y, float* p, const AttnIn& in, const AttnScratch& w, int B, int L, int H,
                       int hd) {
  const int BH = B * H, rows = BH * L, C = H * hd;
  const int64_t sq = int64_t(L) * hd, ss = int64_t(L) * L;
  qkv_to_heads(c, w, in, B, L, H, hd);
  // s = q k^T per head (the upper triangle is computed and ignored).
  gemm_batched(c, false, true, L, L, hd, w.qh, hd, sq, w.kh, hd, sq, 0.f, w.s, L, ss, BH);
  softmax_forward_kernel<<<(rows + kWarps - 1) / kWarps, 32 * kWarps, 0, c.stream>>>(p, w.s, rows, L,
                                                                                      1.f / sqrtf(float(hd)));
  CUDA_CK_LAUNCH("softmax_forward_kernel");
  const float* a = attention_matrix(c, w, p, in, rows, L, H);  // into s when shaped (the scores are done)
  gemm_batched(c, false, false, L, hd, L, a, L, ss, w.vh, hd, sq, 0.f, w.th, hd, sq, BH);
  from_heads(c, y, C, w.th, B, L, H, hd);
}

void attention_backward(Ctx& c, float* dq, float* dk, float* dv, int dqs, int dks, int dvs, float* dcoef,
                        const float* dy, const float* p, const AttnIn& in, const AttnScratch& w, int B, int L, int H,
                        int hd) {
  const int BH = B * H, rows = BH * L, C = H * hd;
  const int64_t sq = int64_t(L) * hd, ss = int64_t(L) * L;
  qkv_to_heads(c, w, in, B, L, H, hd);
  to_heads(c, w.th, dy, C, B, L, H, hd);  // th = dy, head-major
  // dv = A^T dy (A = the softmax, or the shaped matrix rebuilt into s).
  const float* a = attention_matrix(c, w, p, in, rows, L, H);
  gemm_batched(c, true, false, L, hd, L, a, L, ss, w.th, hd, sq, 0.f, w.uh, hd, sq, BH);
  from_heads(c, dv, dvs, w.uh, B, L, H, hd);
  // dA = dy v^T; through the softmax (times beta when shaped) in place: dS, scale included.
  gemm_batched(c, false, true, L, L, hd, w.th, hd, sq, w.vh, hd, sq, 0.f, w.s, L, ss, BH);
  float* row_part = in.coef ? c.partials(size_t(rows) * 3) : nullptr;
  softmax_backward_kernel<<<(rows + kWarps - 1) / kWarps, 32 * kWarps, 0, c.stream>>>(
      w.s, row_part, p, in.coef ? in.coef + H : nullptr, rows, L, H, 1.f / sqrtf(float(hd)));
  CUDA_CK_LAUNCH("softmax_backward_kernel");
  if (in.coef) {
    shaped_coef_grad_kernel<<<H, kCoefThreads, 0, c.stream>>>(dcoef, row_part, B, L, H);
    CUDA_CK_LAUNCH("shaped_coef_grad_kernel");
  }
  // dq = dS k (into uh: dv is out), dk = dS^T q (into th: dy is done).
  gemm_batched(c, false, false, L, hd, L, w.s, L, ss, w.kh, hd, sq, 0.f, w.uh, hd, sq, BH);
  from_heads(c, dq, dqs, w.uh, B, L, H, hd);
  gemm_batched(c, true, false, L, hd, L, w.s, L, ss, w.qh, hd, sq, 0.f, w.th, hd, sq, BH);
  from_heads(c, dk, dks, w.th, B, L, H, hd);
}

}  // namespace layerlab::train::cu
