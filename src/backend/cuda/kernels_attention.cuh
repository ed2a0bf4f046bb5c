#pragma once
// Attention kernels: the fused decoding kernel, the causal softmax and shaped attention of the
// GEMM path, and the log-softmax read-out.
// Kernels of the CUDA inference backend (cuda_backend.cu), one family per header.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <library_types.h>

#include <algorithm>
#include <cstdint>

#include "backend/cuda/kernels_norm_rope.cuh"

namespace layerlab {

// Arguments of the attention kernels (named: the backend's class, split over several files,
// passes it between them).
struct AttnArgs {
  const float* q;
  int64_t q_stride;
  const float* k;
  const float* v;
  int64_t kv_stride, kv_batch_stride;
  void* out;
  int64_t out_stride;
  int tokens, past, keys, n_head, group, hd, pitch;
  float scale;
  bool causal;
};

namespace {

// Attention: one block of 4 warps per (query tile of 16 rows, head, sequence); each warp owns
// 4 query rows. Keys and values stream through shared memory 32 at a time; lane j scores key j
// of the tile, then an online softmax (float32) folds the tile into each row's accumulator
// (lane owns dims lane, lane+32, ...). Causal rows see keys <= past + row.
constexpr int kAttnWarps = 4, kRowsPerWarp = 4, kKeyTile = 32, kMaxHeadDim = 256;
constexpr int kRowsPerBlock = kAttnWarps * kRowsPerWarp;


template <class TO>
__global__ void __launch_bounds__(kAttnWarps * 32) attention_kernel(AttnArgs a) {
  extern __shared__ float sm[];
  float* Ks = sm;                                  // [kKeyTile][pitch]
  float* Vs = Ks + kKeyTile * a.pitch;             // [kKeyTile][hd]
  float* Qs = Vs + kKeyTile * a.hd;                // [kRowsPerBlock][hd]
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int b = blockIdx.z, h = blockIdx.y, g = h / a.group;
  const int q0 = blockIdx.x * kRowsPerBlock;
  const int hd = a.hd;
  const int nd = (hd + 31) / 32;

  for (int idx = threadIdx.x; idx < kRowsPerBlock * hd; idx += blockDim.x) {
    const int r = idx / hd, c = idx % hd;
    const int t = q0 + r;
    Qs[idx] = t < a.tokens ? a.q[(int64_t(b) * a.tokens + t) * a.q_stride + int64_t(h) * hd + c] * a.scale : 0.0f;
  }
  float m[kRowsPerWarp], l[kRowsPerWarp], acc[kRowsPerWarp][kMaxHeadDim / 32];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    m[r] = -INFINITY, l[r] = 0;
#pragma unroll
    for (int i = 0; i < kMaxHeadDim / 32; ++i) acc[r][i] = 0;
  }
  const int last_row = min(a.tokens, q0 + kRowsPerBlock) - 1;
  const int kend = a.causal ? min(a.keys, a.past + last_row + 1) : a.keys;
  const float* kb = a.k + int64_t(b) * a.kv_batch_stride + int64_t(g) * hd;
  const float* vb = a.v + int64_t(b) * a.kv_batch_stride + int64_t(g) * hd;

  for (int j0 = 0; j0 < kend; j0 += kKeyTile) {
    __syncthreads();
    for (int idx = threadIdx.x; idx < kKeyTile * hd; idx += blockDim.x) {
      const int j = idx / hd, c = idx % hd;
      const bool ok = j0 + j < kend;
      Ks[j * a.pitch + c] = ok ? kb[int64_t(j0 + j) * a.kv_stride + c] : 0.0f;
      Vs[j * hd + c] = ok ? vb[int64_t(j0 + j) * a.kv_stride + c] : 0.0f;
    }
    __syncthreads();
    float s[kRowsPerWarp];
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) s[r] = 0;
    const float* kr = Ks + lane * a.pitch;
    const float* qw = Qs + warp * kRowsPerWarp * hd;
    for (int c = 0; c < hd; ++c) {
      const float kv = kr[c];
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) s[r] += qw[r * hd + c] * kv;
    }
    const int j = j0 + lane;
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const int t = q0 + warp * kRowsPerWarp + r;
      const bool valid = t < a.tokens && j < kend && (!a.causal || j <= a.past + t);
      float sv = valid ? s[r] : -INFINITY;
      float mt = sv;
      for (int o = 16; o > 0; o >>= 1) mt = fmaxf(mt, __shfl_xor_sync(0xffffffffu, mt, o));
      if (mt == -INFINITY) continue;  // warp-uniform
      const float m_new = fmaxf(m[r], mt);
      const float corr = expf(m[r] - m_new);
      const float p = valid ? expf(sv - m_new) : 0.0f;
      float ps = p;
      for (int o = 16; o > 0; o >>= 1) ps += __shfl_xor_sync(0xffffffffu, ps, o);
      l[r] = l[r] * corr + ps;
      m[r] = m_new;
#pragma unroll
      for (int i = 0; i < kMaxHeadDim / 32; ++i) acc[r][i] *= corr;
      for (int kk = 0; kk < kKeyTile; ++kk) {
        const float pk = __shfl_sync(0xffffffffu, p, kk);
        const float* vr = Vs + kk * hd;
#pragma unroll
        for (int i = 0; i < kMaxHeadDim / 32; ++i) {
          const int c = lane + 32 * i;
          if (i < nd && c < hd) acc[r][i] += pk * vr[c];
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int t = q0 + warp * kRowsPerWarp + r;
    if (t >= a.tokens) continue;
    TO* o = static_cast<TO*>(a.out) + (int64_t(b) * a.tokens + t) * a.out_stride + int64_t(h) * hd;
    const float inv = l[r] > 0 ? 1.0f / l[r] : 0.0f;
#pragma unroll
    for (int i = 0; i < kMaxHeadDim / 32; ++i) {
      const int c = lane + 32 * i;
      if (i < nd && c < hd) o[c] = from_f<TO>(acc[r][i] * inv);
    }
  }
}

// Log-softmax of logits rows gathered at targets, and whether the target is the row's first
// maximum (torch.argmax): one block per (row, target) pair, one pass over the row (running max
// and rescaled sum per thread, merged across the block; the greedy flag fails when some entry
// beats the target, or ties it at a lower index).
__global__ void logprob_kernel(const float* __restrict__ logits, const int32_t* __restrict__ rows,
                               const int32_t* __restrict__ targets, float* out, uint8_t* greedy, int vocab) {
  __shared__ float sm_m[32], sm_s[32];
  __shared__ int sm_beaten;
  const int t = targets[blockIdx.x];
  const float* x = logits + int64_t(rows[blockIdx.x]) * vocab;
  const float xt = x[t];
  if (threadIdx.x == 0) sm_beaten = 0;
  __syncthreads();
  float m = -INFINITY, s = 0.0f;
  int beaten = 0;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
    const float v = x[i];
    beaten |= v > xt || (v == xt && i < t);
    if (v > m) {
      s = s * __expf(m - v) + 1.0f;
      m = v;
    } else {
      s += __expf(v - m);
    }
  }
  if (beaten) atomicOr(&sm_beaten, 1);  // a flag, not a sum: the order does not matter
  auto merge = [](float& m1, float& s1, float m2, float s2) {
    const float mm = fmaxf(m1, m2);
    if (mm == -INFINITY) return;
    s1 = s1 * __expf(m1 - mm) + s2 * __expf(m2 - mm);
    m1 = mm;
  };
  for (int o = 16; o > 0; o >>= 1) {
    const float m2 = __shfl_xor_sync(0xffffffffu, m, o), s2 = __shfl_xor_sync(0xffffffffu, s, o);
    merge(m, s, m2, s2);
  }
  if (threadIdx.x % 32 == 0) sm_m[threadIdx.x / 32] = m, sm_s[threadIdx.x / 32] = s;
  __syncthreads();
  if (threadIdx.x == 0) {
    float M = sm_m[0], S = sm_s[0];
    for (int w = 1; w < int(blockDim.x / 32); ++w) merge(M, S, sm_m[w], sm_s[w]);
    out[blockIdx.x] = xt - M - logf(S);
    greedy[blockIdx.x] = sm_beaten ? 0 : 1;
  }
}

// In-place causal (or full) softmax of score rows [rows, keys]; row r is query t = r % tokens
// at absolute position past + t. Entries past a row's last visible key become 0.
__global__ void softmax_kernel(float* s, int tokens, int keys, int past, bool causal) {
  __shared__ float red[32];
  const int64_t r = blockIdx.x;
  const int t = static_cast<int>(r % tokens);
  const int valid = causal ? min(keys, past + t + 1) : keys;
  float* x = s + r * keys;
  float mx = -INFINITY;
  for (int i = threadIdx.x; i < valid; i += blockDim.x) mx = fmaxf(mx, x[i]);
  for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
  if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = mx;
  __syncthreads();
  mx = -INFINITY;
  for (int w = 0; w < int(blockDim.x / 32); ++w) mx = fmaxf(mx, red[w]);
  float sum = 0;
  for (int i = threadIdx.x; i < valid; i += blockDim.x) {
    const float e = expf(x[i] - mx);
    x[i] = e;
    sum += e;
  }
  sum = block_sum(sum, red);
  const float inv = 1.0f / sum;
  for (int i = threadIdx.x; i < keys; i += blockDim.x) x[i] = i < valid ? x[i] * inv : 0.0f;
}


// Shaped attention (He & Hofmann 2023) on softmax rows in place, as cpu::shape_row: per head
// h, A = alpha I + beta P - gamma C, C the uniform causal attention (C_ij = 1 / (i + 1), j <= i).
// Rows are (sequence, head, query t) with t fastest; heads repeat every `tokens` rows.
__global__ void shape_kernel(float* s, int tokens, int keys, int past, int n_head, const float* __restrict__ alpha,
                             const float* __restrict__ beta, const float* __restrict__ gamma) {
  const int64_t r = blockIdx.x;
  const int t = static_cast<int>(r % tokens), h = static_cast<int>((r / tokens) % n_head);
  const int valid = min(keys, past + t + 1);
  float* x = s + r * keys;
  const float a = alpha[h], b = beta[h], g = gamma[h] / valid;
  for (int i = threadIdx.x; i < valid; i += blockDim.x) x[i] = b * x[i] - g + (i == valid - 1 ? a : 0.0f);
}


}  // namespace
}  // namespace layerlab
