// The CUDA backend. It mirrors src/backend/cpu/cpu_backend.cpp step for step: one layer
// written once over the uniform weight layout, run for all members of a plan step at once
// (a parallel group's matrix products are one batched cuBLAS call per stage).
//
// Precision: the residual stream, the arithmetic of norms, RoPE and softmax, the KV cache and
// every GEMM accumulator are float32. Weights (and the inputs of the matrix products) are
// float32 (dtype f32: TF32 off; tf32: TF32 tensor cores) or bf16 / f16. Norm weights, biases
// and embeddings stay float32. In bf16 / f16, prefill attention with head_dim 64 / 128 runs
// the flash kernel (flash_attention.cu) on Q/K/V stored in the dtype, as a bf16 framework
// does; other cases keep float32 Q/K/V and the GEMM attention.
//
// Every CUDA and cuBLAS call is checked; failures become layerlab::Error naming the call
// (and the size, for allocations).
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "backend/cuda/cuda_check.h"
#include "backend/layer_ops.h"
#include "backend/cuda/flash_attention.h"
#include "layerlab/cuda_backend.h"
#include "layerlab/error.h"
#include "model/rope.h"

namespace layerlab {

namespace {

// ---------------------------------------------------------------- error checking, device memory

// Shared with the CUDA trainer (backend/cuda/cuda_check.h): checked calls and owned device
// memory, every failure a layerlab::Error naming the call (and the size, for allocations).
using cuda::check;
using cuda::DevBuf;
#define CK(call) CUDA_CK(call)
#define CK_LAUNCH(what) CUDA_CK_LAUNCH(what)

// ---------------------------------------------------------------- element types

__device__ __forceinline__ float to_f(float x) { return x; }
__device__ __forceinline__ float to_f(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_f(__half x) { return __half2float(x); }
template <class T>
__device__ __forceinline__ T from_f(float x);
template <>
__device__ __forceinline__ float from_f<float>(float x) { return x; }
template <>
__device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float x) { return __float2bfloat16(x); }
template <>
__device__ __forceinline__ __half from_f<__half>(float x) { return __float2half(x); }

// Two adjacent elements as a float2 (one 8-byte or 4-byte access; the address must be aligned).
template <class T>
struct Pair;
template <>
struct Pair<float> {
  static __device__ __forceinline__ float2 ld(const float* p) { return *reinterpret_cast<const float2*>(p); }
  static __device__ __forceinline__ void st(float* p, float2 v) { *reinterpret_cast<float2*>(p) = v; }
};
template <>
struct Pair<__nv_bfloat16> {
  static __device__ __forceinline__ float2 ld(const __nv_bfloat16* p) {
    return __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(p));
  }
  static __device__ __forceinline__ void st(__nv_bfloat16* p, float2 v) {
    *reinterpret_cast<__nv_bfloat162*>(p) = __float22bfloat162_rn(v);
  }
};
template <>
struct Pair<__half> {
  static __device__ __forceinline__ float2 ld(const __half* p) { return __half22float2(*reinterpret_cast<const __half2*>(p)); }
  static __device__ __forceinline__ void st(__half* p, float2 v) { *reinterpret_cast<__half2*>(p) = __float22half2_rn(v); }
};

size_t elem_size(CudaDType t) { return (t == CudaDType::BF16 || t == CudaDType::F16) ? 2 : 4; }
cudaDataType_t cuda_type(CudaDType t) {
  return t == CudaDType::BF16 ? CUDA_R_16BF : t == CudaDType::F16 ? CUDA_R_16F : CUDA_R_32F;
}

template <class F>
void dispatch(CudaDType t, F&& f) {
  switch (t) {
    case CudaDType::BF16: f(__nv_bfloat16{}); break;
    case CudaDType::F16: f(__half{}); break;
    default: f(float{}); break;
  }
}

int blocks_for(int64_t n, int threads) { return static_cast<int>(std::min<int64_t>((n + threads - 1) / threads, 65535 * 8)); }

// ---------------------------------------------------------------- kernels

template <class T>
__global__ void convert_kernel(const float* __restrict__ x, T* __restrict__ y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = from_f<T>(x[i]);
}
template <class T>
__global__ void widen_kernel(const T* __restrict__ x, float* __restrict__ y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = to_f(x[i]);
}

__global__ void embed_kernel(const int32_t* __restrict__ ids, const float* __restrict__ tok, const float* __restrict__ pos,
                             const float* __restrict__ type, float* __restrict__ out, int tokens, int d, int pos0) {
  const int64_t r = blockIdx.x;
  const int t = static_cast<int>(r % tokens);
  const float* tr = tok + int64_t(ids[r]) * d;
  float* o = out + r * d;
  for (int i = threadIdx.x; i < d; i += blockDim.x) {
    float v = tr[i];
    if (pos) v += pos[int64_t(pos0 + t) * d + i];
    if (type) v += type[i];
    o[i] = v;
  }
}

// Block-wide sum of one float (blockDim.x a multiple of 32, at most 1024).
__device__ float block_sum(float v, float* shared32) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();
  if (lane == 0) shared32[warp] = v;
  __syncthreads();
  const int nw = blockDim.x / 32;
  float s = 0;
  for (int w = 0; w < nw; ++w) s += shared32[w];
  return s;
}

// LayerNorm (b may be null) or RMSNorm of rows of width n; y may alias x (float).
template <class TO>
__global__ void norm_kernel(const float* x, TO* y, int n, const float* __restrict__ w, const float* __restrict__ b,
                            float eps, bool rms) {
  __shared__ float red[32];
  const int64_t r = blockIdx.x;
  const float* xr = x + r * n;
  TO* yr = y + r * n;
  float mean = 0;
  if (!rms) {
    float s = 0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) s += xr[i];
    mean = block_sum(s, red) / n;
  }
  float ss = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    const float d = xr[i] - mean;
    ss += d * d;
  }
  const float var = block_sum(ss, red) / n;
  const float inv = 1.0f / sqrtf(var + eps);
  __syncthreads();  // every thread has read x before any writes (y may alias x)
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    const float v = rms ? (xr[i] * inv) * w[i] : (xr[i] - mean) * inv * w[i] + (b ? b[i] : 0.0f);
    yr[i] = from_f<TO>(v);
  }
}

// The same for rows with n % 4 == 0 and n <= 4 * kNormVec * blockDim.x: one float4 pass over
// the row into registers, statistics from there, paired stores of the output type.
constexpr int kNormVec = 8;
template <class TO>
__global__ void norm4_kernel(const float* x, TO* y, int n, const float* __restrict__ w, const float* __restrict__ b,
                             float eps, bool rms) {
  __shared__ float red[32];
  const int64_t r = blockIdx.x;
  const float4* xr = reinterpret_cast<const float4*>(x + r * n);
  TO* yr = y + r * n;
  const int n4 = n / 4;
  float4 v[kNormVec];
  float s = 0;
#pragma unroll
  for (int k = 0; k < kNormVec; ++k) {
    const int i = threadIdx.x + k * blockDim.x;
    if (i < n4) {
      v[k] = xr[i];
      s += (v[k].x + v[k].y) + (v[k].z + v[k].w);
    }
  }
  float mean = 0;
  if (!rms) mean = block_sum(s, red) / n;
  float ss = 0;
#pragma unroll
  for (int k = 0; k < kNormVec; ++k) {
    const int i = threadIdx.x + k * blockDim.x;
    if (i < n4) {
      const float a = v[k].x - mean, bb = v[k].y - mean, c = v[k].z - mean, d = v[k].w - mean;
      ss += (a * a + bb * bb) + (c * c + d * d);
    }
  }
  const float var = block_sum(ss, red) / n;
  const float inv = 1.0f / sqrtf(var + eps);
  __syncthreads();  // every thread has read x before any writes (y may alias x)
#pragma unroll
  for (int k = 0; k < kNormVec; ++k) {
    const int i = threadIdx.x + k * blockDim.x;
    if (i < n4) {
      const float4 w4 = reinterpret_cast<const float4*>(w)[i];
      float4 o;
      if (rms) {
        o = make_float4((v[k].x * inv) * w4.x, (v[k].y * inv) * w4.y, (v[k].z * inv) * w4.z, (v[k].w * inv) * w4.w);
      } else {
        const float4 b4 = b ? reinterpret_cast<const float4*>(b)[i] : make_float4(0, 0, 0, 0);
        o = make_float4((v[k].x - mean) * inv * w4.x + b4.x, (v[k].y - mean) * inv * w4.y + b4.y,
                        (v[k].z - mean) * inv * w4.z + b4.z, (v[k].w - mean) * inv * w4.w + b4.w);
      }
      Pair<TO>::st(yr + 4 * i, make_float2(o.x, o.y));
      Pair<TO>::st(yr + 4 * i + 2, make_float2(o.z, o.w));
    }
  }
}

// HF rotate-half RoPE on the query and key heads of rows of the qkv buffer (float32 math).
// One block per row (grid-stride over rows): no 64-bit index division per element.
template <class T>
__global__ void rope_kernel(T* qkv, int64_t rows, int tokens, int pos0, int qkvd, int n_head, int n_kv, int hd,
                            const float* __restrict__ cos_t, const float* __restrict__ sin_t) {
  const int half = hd / 2;
  const int units = (n_head + n_kv) * half;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int pos = pos0 + static_cast<int>(r % tokens);
    const float* cr = cos_t + int64_t(pos) * half;
    const float* sr = sin_t + int64_t(pos) * half;
    T* row = qkv + r * qkvd;
    for (int u = threadIdx.x; u < units; u += blockDim.x) {
      const int h = u / half, i = u - h * half;
      T* v = row + h * hd;  // key heads follow the query heads directly
      const float c = cr[i], s = sr[i];
      const float a = to_f(v[i]), bb = to_f(v[i + half]);
      v[i] = from_f<T>(a * c - bb * s);
      v[i + half] = from_f<T>(bb * c + a * s);
    }
  }
}

// The same with two adjacent rotation indices per thread (half % 2 == 0).
template <class T>
__global__ void rope2_kernel(T* qkv, int64_t rows, int tokens, int pos0, int qkvd, int n_head, int n_kv, int hd,
                             const float* __restrict__ cos_t, const float* __restrict__ sin_t) {
  const int half = hd / 2, hp = half / 2;
  const int units = (n_head + n_kv) * hp;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int pos = pos0 + static_cast<int>(r % tokens);
    const float* cr = cos_t + int64_t(pos) * half;
    const float* sr = sin_t + int64_t(pos) * half;
    T* row = qkv + r * qkvd;
    for (int u = threadIdx.x; u < units; u += blockDim.x) {
      const int h = u / hp, i = 2 * (u - h * hp);
      T* v = row + h * hd;
      const float2 c = *reinterpret_cast<const float2*>(cr + i), s = *reinterpret_cast<const float2*>(sr + i);
      const float2 a = Pair<T>::ld(v + i), bb = Pair<T>::ld(v + i + half);
      Pair<T>::st(v + i, make_float2(a.x * c.x - bb.x * s.x, a.y * c.y - bb.y * s.y));
      Pair<T>::st(v + i + half, make_float2(bb.x * c.x + a.x * s.x, bb.y * c.y + a.y * s.y));
    }
  }
}

template <class T>
__global__ void bias_kernel(T* y, const float* __restrict__ b, int64_t rows, int n) {
  const int64_t total = rows * n;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = from_f<T>(to_f(y[i]) + b[i % n]);
}

__device__ __forceinline__ float gelu_tanh_f(float v) {
  const float k = 0.7978845608028654f;
  return 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
}
__device__ __forceinline__ float gelu_erf_f(float v) { return 0.5f * v * (1.0f + erff(v * 0.7071067811865476f)); }

// Activation of x into y (in place allowed).
template <class TI, class T>
__global__ void act_kernel(const TI* x, T* y, int64_t n, bool erf_kind) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float v = to_f(x[i]);
    y[i] = from_f<T>(erf_kind ? gelu_erf_f(v) : gelu_tanh_f(v));
  }
}

// [rows, 2*ff] = [gate | up] -> [rows, ff] silu(gate) * up; one block per row (grid-stride).
template <class TI, class T>
__global__ void swiglu_kernel(const TI* __restrict__ g, T* __restrict__ y, int64_t rows, int ff) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const TI* gr = g + r * 2 * ff;
    T* yr = y + r * ff;
    for (int c = threadIdx.x; c < ff; c += blockDim.x) {
      const float a = to_f(gr[c]), u = to_f(gr[ff + c]);
      yr[c] = from_f<T>(a / (1.0f + __expf(-a)) * u);
    }
  }
}

// The same with pairs of columns (ff % 2 == 0).
template <class T>
__global__ void swiglu2_kernel(const T* __restrict__ g, T* __restrict__ y, int64_t rows, int ff) {
  const int f2 = ff / 2;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* gr = g + r * 2 * ff;
    T* yr = y + r * ff;
    for (int c = threadIdx.x; c < f2; c += blockDim.x) {
      const float2 a = Pair<T>::ld(gr + 2 * c), u = Pair<T>::ld(gr + ff + 2 * c);
      Pair<T>::st(yr + 2 * c, make_float2(a.x / (1.0f + __expf(-a.x)) * u.x, a.y / (1.0f + __expf(-a.y)) * u.y));
    }
  }
}

__global__ void mean_kernel(float* __restrict__ x, const float* __restrict__ outs, int64_t n, int M) {
  const float inv = 1.0f / M;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    float s = 0;
    for (int m = 0; m < M; ++m) s += outs[int64_t(m) * n + i];
    x[i] = s * inv;
  }
}

// y[r, c] (+)= g * x[r, c] for c < n, rows with their own strides (identities and gains of
// layerlab-trained blocks: scalar gains, the identity value, a missing output projection).
template <class TI>
__global__ void axpy_kernel(const TI* __restrict__ x, int64_t ldx, float* __restrict__ y, int64_t ldy, int64_t rows,
                            int n, float g, bool accumulate) {
  const int64_t total = rows * n;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / n;
    const int c = static_cast<int>(i % n);
    const float v = g * to_f(x[r * ldx + c]);
    float* o = y + r * ldy + c;
    *o = accumulate ? *o + v : v;
  }
}

// Bias on rows of n columns stored with row stride ld (> n: a column block of a wider buffer).
__global__ void bias_ld_kernel(float* y, const float* __restrict__ b, int64_t rows, int n, int64_t ld) {
  const int64_t total = rows * n;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x)
    y[(i / n) * ld + i % n] += b[i % n];
}

__global__ void scale_kernel(float* x, int64_t n, float g) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) x[i] *= g;
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

// Appends this call's keys and values (rows of qkv) to a cache slot [batch, capacity, kvd].
template <class TI>
__global__ void kv_append_kernel(const TI* __restrict__ qkv, float* __restrict__ kc, float* __restrict__ vc, int batch,
                                 int tokens, int pos0, int capacity, int qkvd, int qd, int kvd) {
  const int64_t total = int64_t(batch) * tokens * kvd;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int c = static_cast<int>(i % kvd);
    const int64_t r = i / kvd;
    const int t = static_cast<int>(r % tokens), b = static_cast<int>(r / tokens);
    const TI* src = qkv + r * qkvd;
    const int64_t dst = (int64_t(b) * capacity + pos0 + t) * kvd + c;
    kc[dst] = to_f(src[qd + c]);
    vc[dst] = to_f(src[qd + kvd + c]);
  }
}

// Attention: one block of 4 warps per (query tile of 16 rows, head, sequence); each warp owns
// 4 query rows. Keys and values stream through shared memory 32 at a time; lane j scores key j
// of the tile, then an online softmax (float32) folds the tile into each row's accumulator
// (lane owns dims lane, lane+32, ...). Causal rows see keys <= past + row.
constexpr int kAttnWarps = 4, kRowsPerWarp = 4, kKeyTile = 32, kMaxHeadDim = 256;
constexpr int kRowsPerBlock = kAttnWarps * kRowsPerWarp;

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

// ---------------------------------------------------------------- hidden states and cache

class CudaHidden : public Hidden {
 public:
  DevBuf buf;
  float* data() const { return buf.as<float>(); }
  size_t count() const { return size_t(rows()) * width; }
  std::vector<float> to_host() const override {
    std::vector<float> out(count());
    if (!out.empty()) CK(cudaMemcpy(out.data(), data(), out.size() * sizeof(float), cudaMemcpyDeviceToHost));
    return out;
  }
  std::unique_ptr<Hidden> clone() const override {
    auto h = std::make_unique<CudaHidden>();
    h->batch = batch, h->tokens = tokens, h->width = width, h->pos0 = pos0;
    h->buf = DevBuf(count() * sizeof(float), "hidden states (clone)");
    if (count()) CK(cudaMemcpyAsync(h->data(), data(), count() * sizeof(float), cudaMemcpyDeviceToDevice, 0));
    return h;
  }
};

class CudaKvCache : public KvCache {
 public:
  std::vector<int> slot_offset;
  std::vector<DevBuf> k, v;  // per slot: [batch, capacity, kv_dim] float32
};

CudaHidden& as_cuda(Hidden& h) {
  auto* p = dynamic_cast<CudaHidden*>(&h);
  if (!p) fail("cuda backend", "hidden states from another backend");
  return *p;
}
const CudaHidden& as_cuda(const Hidden& h) { return as_cuda(const_cast<Hidden&>(h)); }

// ---------------------------------------------------------------- the backend


class CudaBackend : public Backend, public LayerOps {
 public:
  CudaBackend(const Model& model, CudaDType dtype, int device) : cfg_(model.config()), dt_(dtype) {
    int n = 0;
    CK(cudaGetDeviceCount(&n));
    if (device < 0 || device >= n) fail("--device cuda", "GPU " + std::to_string(device) + " not present (" + std::to_string(n) + " visible)");
    CK(cudaSetDevice(device));
    CK(cublasCreate(&blas_));
    CK(cublasSetStream(blas_, 0));
    // f32: exact float32 products (no TF32). tf32: TF32 tensor cores for float32 products.
    compute_ = dt_ == CudaDType::TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    CK(cublasSetMathMode(blas_, dt_ == CudaDType::TF32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    if (cfg_.head_dim > kMaxHeadDim) fail("cuda backend", "head_dim " + std::to_string(cfg_.head_dim) + " > 256 is not supported");
    // LAYERLAB_CUDA_ATTENTION=gemm: the float32 GEMM attention even where the flash kernel
    // applies (tests compare the two; benchmarks measure the difference).
    if (const char* e = std::getenv("LAYERLAB_CUDA_ATTENTION")) force_gemm_attention_ = std::string(e) == "gemm";
    upload(model.weights());
    ptr_table_ = DevBuf(kPtrTable * sizeof(void*), "GEMM pointer table");
  }
  ~CudaBackend() override {
    cudaDeviceSynchronize();
    if (blas_) cublasDestroy(blas_);
  }

  std::string name() const override { return std::string("cuda-") + cuda_dtype_name(dt_); }
  const ModelConfig& config() const override { return cfg_; }

  std::unique_ptr<Hidden> embed(const std::vector<int32_t>& ids, int batch, int tokens, int pos0) override {
    const int d = cfg_.d_model;
    auto h = std::make_unique<CudaHidden>();
    h->batch = batch, h->tokens = tokens, h->width = d, h->pos0 = pos0;
    const int64_t R = int64_t(batch) * tokens;
    if (int64_t(ids.size()) != R) fail("cuda backend", "embed: ids do not match batch x tokens");
    h->buf = DevBuf(size_t(R) * d * sizeof(float), "hidden states");
    if (R == 0) return h;
    ids_.ensure(R * sizeof(int32_t), "token ids");
    CK(cudaMemcpy(ids_.get(), ids.data(), R * sizeof(int32_t), cudaMemcpyHostToDevice));
    embed_kernel<<<R, 128>>>(ids_.as<int32_t>(), f32(w_.tok_emb), f32(w_.pos_emb), f32(w_.type_emb), h->data(), tokens, d, pos0);
    CK_LAUNCH("embed_kernel");
    if (w_.emb_ln_w) norm_rows(h->data(), h->data(), R, f32(w_.emb_ln_w), f32(w_.emb_ln_b), false);
    return h;
  }

  void run_step(const PlanStep& step, int step_index, Hidden& xh, KvCache* kvc) override {
    x_ = &as_cuda(xh);
    kv_ = static_cast<CudaKvCache*>(kvc);
    run_plan_step(*this, cfg_, w_, step, step_index, kv_ ? kv_->slot_offset[step_index] : -1);
  }

  bool supports_inspection() const override { return true; }
  void set_inspector(Inspector* inspector) override { inspector_ = inspector; }

  std::unique_ptr<Hidden> final_norm(const Hidden& xh) override {
    const CudaHidden& x = as_cuda(xh);
    auto y = std::unique_ptr<CudaHidden>(static_cast<CudaHidden*>(x.clone().release()));
    const int d = cfg_.d_model;
    const int64_t R = x.rows();
    if (R == 0) return y;
    if (cfg_.has_mlm_head) {
      const void* in = gemm_input(x.data(), R * d, a_in_);
      gemm(R, d, d, {in}, {wt(w_.mlm_dense_w)}, {y->data()}, 0.0f);
      add_bias(y->data(), f32(w_.mlm_dense_b), R, d);
      act_kernel<float, float><<<blocks_for(R * d, 256), 256>>>(y->data(), y->data(), R * d, cfg_.act == Activation::GeluErf);
      CK_LAUNCH("act_kernel");
      norm_rows(y->data(), y->data(), R, f32(w_.final_w), f32(w_.final_b), false);
    } else {
      norm_rows(x.data(), y->data(), R, f32(w_.final_w), f32(w_.final_b), cfg_.norm == NormKind::RMSNorm);
    }
    return y;
  }

  void logits(const Hidden& normed, int64_t row_begin, int64_t count, float* out) override {
    if (count <= 0) return;
    const CudaHidden& x = as_cuda(normed);
    if (row_begin < 0 || row_begin + count > x.rows()) fail("cuda backend", "logits: rows out of range");
    device_logits(x, row_begin, count);
    CK(cudaMemcpy(out, logits_.get(), size_t(count) * cfg_.vocab * sizeof(float), cudaMemcpyDeviceToHost));
  }

  // Logits stay on the device: chunks of consecutive rows (<= 256 MiB of logits), one block
  // per requested (row, target) in the chunk; only the scores come back.
  std::vector<TargetScore> target_scores(const Hidden& normed, const std::vector<int64_t>& rows,
                                         const std::vector<int32_t>& targets) override {
    const CudaHidden& x = as_cuda(normed);
    if (rows.size() != targets.size()) fail("cuda backend", "target_scores: one target per row expected");
    std::vector<TargetScore> out(rows.size());
    std::vector<size_t> order;
    for (size_t i = 0; i < rows.size(); ++i) {
      if (targets[i] < 0) continue;
      if (rows[i] < 0 || rows[i] >= x.rows()) fail("cuda backend", "target_scores: row outside the hidden states");
      if (targets[i] >= cfg_.vocab) fail("cuda backend", "target_scores: target outside the vocabulary");
      order.push_back(i);
    }
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return rows[a] < rows[b]; });
    const int64_t chunk = std::max<int64_t>(1, (int64_t(1) << 28) / (int64_t(cfg_.vocab) * 4));
    std::vector<int32_t> rel, tgt;
    std::vector<float> lp;
    std::vector<uint8_t> gr;
    for (size_t i = 0; i < order.size();) {
      const int64_t first = rows[order[i]];
      size_t j = i;
      while (j < order.size() && rows[order[j]] - first < chunk) ++j;
      const int64_t count = rows[order[j - 1]] - first + 1;
      const int n = static_cast<int>(j - i);
      rel.resize(n), tgt.resize(n), lp.resize(n), gr.resize(n);
      for (int k = 0; k < n; ++k) rel[k] = int32_t(rows[order[i + k]] - first), tgt[k] = targets[order[i + k]];
      device_logits(x, first, count);
      pairs_.ensure(size_t(n) * 8, "read-out rows and targets");
      scores_out_.ensure(size_t(n) * 5, "read-out scores");
      int32_t* d_rows = pairs_.as<int32_t>();
      CK(cudaMemcpy(d_rows, rel.data(), n * 4, cudaMemcpyHostToDevice));
      CK(cudaMemcpy(d_rows + n, tgt.data(), n * 4, cudaMemcpyHostToDevice));
      float* d_lp = scores_out_.as<float>();
      uint8_t* d_gr = reinterpret_cast<uint8_t*>(d_lp + n);
      logprob_kernel<<<n, 256>>>(logits_.as<float>(), d_rows, d_rows + n, d_lp, d_gr, cfg_.vocab);
      CK_LAUNCH("logprob_kernel");
      CK(cudaMemcpy(lp.data(), d_lp, n * 4, cudaMemcpyDeviceToHost));
      CK(cudaMemcpy(gr.data(), d_gr, n, cudaMemcpyDeviceToHost));
      for (int k = 0; k < n; ++k) out[order[i + k]] = {lp[k], gr[k] != 0};
      i = j;
    }
    return out;
  }

  std::unique_ptr<KvCache> make_cache(const Plan& plan, int batch, int capacity) override {
    auto c = std::make_unique<CudaKvCache>();
    c->capacity = capacity;
    int slots = 0;
    for (const auto& s : plan.steps) {
      c->slot_offset.push_back(slots);
      slots += static_cast<int>(s.layers.size()) * s.iterations;
    }
    const size_t per = size_t(batch) * capacity * cfg_.kv_dim() * sizeof(float);
    for (int s = 0; s < slots; ++s) {
      c->k.emplace_back(per, "KV cache keys");
      c->v.emplace_back(per, "KV cache values");
    }
    return c;
  }

 private:
  static constexpr int kPtrTable = 3 * 65536;

  // Uploaded parameters, keyed by (host pointer, stored in the compute dtype or float32):
  // matrices used in products are stored in the compute dtype; vectors and embedding tables
  // in float32 (a tied head is the embedding table: one copy of each kind).
  struct Uploaded {
    const float* host;
    bool as_dtype;
    DevBuf buf;
  };
  std::vector<Uploaded> params_;
  const void* lookup(const Param& p, bool as_dtype) const {
    if (!p) return nullptr;
    for (const auto& u : params_)
      if (u.host == p.data && u.as_dtype == as_dtype) return u.buf.get();
    fail("cuda backend", "internal: parameter not uploaded");
  }
  const float* f32(const Param& p) const { return static_cast<const float*>(lookup(p, false)); }
  const void* wt(const Param& p) const { return lookup(p, true); }

  void put(const Param& p, bool as_dtype) {
    if (!p) return;
    for (const auto& u : params_)
      if (u.host == p.data && u.as_dtype == as_dtype) return;
    const size_t n = size_t(p.rows) * p.cols;
    const size_t es = as_dtype ? elem_size(dt_) : 4;
    DevBuf buf(n * es, as_dtype ? "model weights" : "model weights (float32 vectors and embeddings)");
    if (es == 4) {
      CK(cudaMemcpy(buf.get(), p.data, n * 4, cudaMemcpyHostToDevice));
    } else {
      // Stage float32 through a device buffer and convert there.
      const size_t chunk = size_t(16) << 20;
      staging_.ensure(std::min(n, chunk) * 4, "weight upload staging");
      for (size_t i = 0; i < n; i += chunk) {
        const size_t c = std::min(chunk, n - i);
        CK(cudaMemcpy(staging_.get(), p.data + i, c * 4, cudaMemcpyHostToDevice));
        dispatch(dt_, [&](auto tag) {
          using T = decltype(tag);
          convert_kernel<T><<<blocks_for(c, 256), 256>>>(staging_.as<float>(), buf.as<T>() + i, int64_t(c));
        });
        CK_LAUNCH("convert_kernel (weights)");
      }
    }
    params_.push_back({p.data, as_dtype, std::move(buf)});
  }

  void upload(const ModelWeights& w) {
    w_ = w;
    for (const auto& L : w.layers) {
      put(L.qkv_w, true), put(L.o_w, true), put(L.up_w, true), put(L.down_w, true), put(L.v_extra_w, true);
      for (const Param* p : {&L.ln1_w, &L.ln1_b, &L.ln2_w, &L.ln2_b, &L.qkv_b, &L.o_b, &L.up_b, &L.down_b, &L.attn_alpha,
                             &L.attn_beta, &L.attn_gamma})
        put(*p, false);  // scalar gains stay on the host: kernels take them as arguments
    }
    put(w.mlm_dense_w, true), put(w.head_w, true);
    for (const Param* p : {&w.tok_emb, &w.pos_emb, &w.type_emb, &w.emb_ln_w, &w.emb_ln_b, &w.final_w, &w.final_b,
                           &w.mlm_dense_b, &w.head_b})
      put(*p, false);
    CK(cudaDeviceSynchronize());
    staging_ = DevBuf();
  }

  // ------------------------------------------------------------ building blocks

  bool norm_vec_ok() const { return cfg_.d_model % 4 == 0 && cfg_.d_model <= 4 * kNormVec * 256; }
  void norm_rows(const float* x, float* y, int64_t rows, const float* w, const float* b, bool rms) {
    if (norm_vec_ok())
      norm4_kernel<float><<<rows, 256>>>(x, y, cfg_.d_model, w, b, cfg_.norm_eps, rms);
    else
      norm_kernel<float><<<rows, 256>>>(x, y, cfg_.d_model, w, b, cfg_.norm_eps, rms);
    CK_LAUNCH("norm_kernel");
  }
  // Norm into the GEMM input type.
  void norm_to(const float* x, void* y, int64_t rows, const float* w, const float* b) {
    const bool rms = cfg_.norm == NormKind::RMSNorm;
    dispatch(dt_, [&](auto tag) {
      using T = decltype(tag);
      if (norm_vec_ok())
        norm4_kernel<T><<<rows, 256>>>(x, static_cast<T*>(y), cfg_.d_model, w, b, cfg_.norm_eps, rms);
      else
        norm_kernel<T><<<rows, 256>>>(x, static_cast<T*>(y), cfg_.d_model, w, b, cfg_.norm_eps, rms);
    });
    CK_LAUNCH("norm_kernel");
  }
  void add_bias(float* y, const float* b, int64_t rows, int n) {
    if (!b || rows == 0) return;
    bias_kernel<float><<<blocks_for(rows * n, 256), 256>>>(y, b, rows, n);
    CK_LAUNCH("bias_kernel");
  }
  // float32 activations as a GEMM input: themselves for float32 dtypes, else converted into buf.
  const void* gemm_input(const float* x, int64_t n, DevBuf& buf) {
    if (elem_size(dt_) == 4) return x;
    buf.ensure(n * elem_size(dt_), "GEMM input (converted activations)");
    dispatch(dt_, [&](auto tag) {
      using T = decltype(tag);
      convert_kernel<T><<<blocks_for(n, 256), 256>>>(x, buf.as<T>(), n);
    });
    CK_LAUNCH("convert_kernel");
    return buf.get();
  }

  // Y_m[R, N] = X_m[R, K] . W_m[N, K]^T (+ beta * Y_m), for every member m; X in the compute
  // dtype, W in the weight dtype, Y float32. One cuBLAS call for all members.
  void gemm(int64_t R, int N, int K, const std::vector<const void*>& X, const std::vector<const void*>& W,
            const std::vector<float*>& Y, float beta) {
    gemm_to(R, N, K, X, W, std::vector<void*>(Y.begin(), Y.end()), CUDA_R_32F, beta);
  }
  // Y_m = X_m W_m^T (+ bias_m when not null) written in the compute dtype T2, member m at
  // out + m * R * N: the products whose consumers read half-precision (flash attention, the MLP
  // activation), as a bf16 / f16 framework stores them.
  template <class T2>
  void project_in_dtype(int64_t R, int N, int K, const std::vector<const void*>& X,
                        const std::vector<const void*>& W, const std::vector<const float*>& bias, T2* out) {
    const int M = static_cast<int>(X.size());
    std::vector<void*> Y(M);
    for (int m = 0; m < M; ++m) Y[m] = out + m * R * N;
    gemm_to(R, N, K, X, W, Y, cuda_type(dt_), 0.0f);
    for (int m = 0; m < M; ++m)
      if (bias[m]) {
        bias_kernel<T2><<<blocks_for(R * N, 256), 256>>>(out + m * R * N, bias[m], R, N);
        CK_LAUNCH("bias_kernel");
      }
  }
  // The same with the output in `ctype` (float32, or the compute dtype).
  void gemm_to(int64_t R, int N, int K, const std::vector<const void*>& X, const std::vector<const void*>& W,
               const std::vector<void*>& Y, cudaDataType_t ctype, float beta, int ldc = 0) {
    if (ldc == 0) ldc = N;  // Y rows of N columns within rows of ldc (a column block of a wider buffer)
    const float alpha = 1.0f;
    const cudaDataType_t t = cuda_type(dt_);
    const int M = static_cast<int>(X.size());
    if (R == 0) return;
    if (R > INT32_MAX) fail("cuda backend", "too many rows for one matrix product");
    if (M == 1 || unbatched_) {
      for (int m = 0; m < M; ++m)
        CK(cublasGemmEx(blas_, CUBLAS_OP_T, CUBLAS_OP_N, N, int(R), K, &alpha, W[m], t, K, X[m], t, K, &beta, Y[m],
                        ctype, ldc, compute_, CUBLAS_GEMM_DEFAULT));
      return;
    }
    std::vector<const void*> host(3 * M);
    for (int m = 0; m < M; ++m) host[m] = W[m], host[M + m] = X[m], host[2 * M + m] = Y[m];
    void** dev = upload_ptrs(host);
    const cublasStatus_t st = cublasGemmBatchedEx(blas_, CUBLAS_OP_T, CUBLAS_OP_N, N, int(R), K, &alpha, const_cast<const void* const*>(dev), t, K,
                           const_cast<const void* const*>(dev + M), t, K, &beta, dev + 2 * M, ctype, ldc, M, compute_, CUBLAS_GEMM_DEFAULT);
    if (st == CUBLAS_STATUS_NOT_SUPPORTED) {  // this type combination has no batched kernel: one call each
      unbatched_ = true;
      gemm_to(R, N, K, X, W, Y, ctype, beta, ldc);
      return;
    }
    check(st, "cublasGemmBatchedEx");
  }

  // Copies a pointer array into the device pointer table (a ring; wrapping waits for the
  // stream so no queued batched call still reads the part being overwritten).
  void** upload_ptrs(const std::vector<const void*>& host) {
    const int n = static_cast<int>(host.size());
    if (n > kPtrTable) fail("cuda backend", "too many matrices for one batched product");
    if (ptr_used_ + n > kPtrTable) {
      CK(cudaStreamSynchronize(0));
      ptr_used_ = 0;
    }
    void** dev = ptr_table_.as<void*>() + ptr_used_;
    ptr_used_ += n;
    // Pageable source: staged before the call returns, copied in stream order (no device sync).
    CK(cudaMemcpyAsync(dev, host.data(), n * sizeof(void*), cudaMemcpyHostToDevice, 0));
    return dev;
  }

  // Attention as matrix products (prefill): for every (sequence, head) S = scale * Q K^T with
  // cuBLAS (float32 data; exact float32 for dtype f32, TF32 tensor cores otherwise), a causal
  // softmax kernel in place, then O = P V into out (float32 [rows, q_dim]). Sequences are
  // processed in chunks so the score buffer stays under 1 GiB.
  // Shaped attention (alpha / beta / gamma per head, device) reshapes the softmax in place;
  // probs (host, optional) receives sequence 0's softmax [n_head, tokens, keys] for the inspector.
  void attention_gemm(const AttnArgs& a, int B, float* out, const float* alpha = nullptr, const float* beta = nullptr,
                      const float* gamma = nullptr, float* probs = nullptr) {
    const int H = cfg_.n_head, hd = a.hd, T = a.tokens, keys = a.keys;
    const size_t per_seq = size_t(H) * T * keys;
    const int bc = static_cast<int>(std::max<size_t>(1, std::min<size_t>(B, (size_t(1) << 28) / per_seq)));
    scores_.ensure(bc * per_seq * sizeof(float), "attention scores");
    const cublasComputeType_t ct = dt_ == CudaDType::F32 ? CUBLAS_COMPUTE_32F : CUBLAS_COMPUTE_32F_FAST_TF32;
    const float one = 1.0f, zero = 0.0f;
    for (int b0 = 0; b0 < B; b0 += bc) {
      const int nb = std::min(bc, B - b0);
      const int n = nb * H;
      std::vector<const void*> p1(3 * n), p2(3 * n);
      for (int bi = 0; bi < nb; ++bi)
        for (int h = 0; h < H; ++h) {
          const int i = bi * H + h, b = b0 + bi, g = h / a.group;
          const float* q = a.q + int64_t(b) * T * a.q_stride + int64_t(h) * hd;
          const float* k = a.k + int64_t(b) * a.kv_batch_stride + int64_t(g) * hd;
          const float* v = a.v + int64_t(b) * a.kv_batch_stride + int64_t(g) * hd;
          float* sc = scores_.as<float>() + size_t(i) * T * keys;
          p1[i] = k, p1[n + i] = q, p1[2 * n + i] = sc;
          p2[i] = v, p2[n + i] = sc, p2[2 * n + i] = out + int64_t(b) * T * cfg_.q_dim() + int64_t(h) * hd;
        }
      void** d1 = upload_ptrs(p1);
      CK(cublasGemmBatchedEx(blas_, CUBLAS_OP_T, CUBLAS_OP_N, keys, T, hd, &a.scale, const_cast<const void* const*>(d1),
                             CUDA_R_32F, int(a.kv_stride), const_cast<const void* const*>(d1 + n), CUDA_R_32F,
                             int(a.q_stride), &zero, d1 + 2 * n, CUDA_R_32F, keys, n, ct, CUBLAS_GEMM_DEFAULT));
      softmax_kernel<<<int64_t(n) * T, 128>>>(scores_.as<float>(), T, keys, a.past, a.causal);
      CK_LAUNCH("softmax_kernel");
      // The inspector sees the softmax (as the CPU reports it), before any shaping.
      if (probs && b0 == 0)
        CK(cudaMemcpy(probs, scores_.get(), size_t(H) * T * keys * sizeof(float), cudaMemcpyDeviceToHost));
      if (alpha) {
        shape_kernel<<<int64_t(n) * T, 128>>>(scores_.as<float>(), T, keys, a.past, H, alpha, beta, gamma);
        CK_LAUNCH("shape_kernel");
      }
      void** d2 = upload_ptrs(p2);
      CK(cublasGemmBatchedEx(blas_, CUBLAS_OP_N, CUBLAS_OP_N, hd, T, keys, &one, const_cast<const void* const*>(d2),
                             CUDA_R_32F, int(a.kv_stride), const_cast<const void* const*>(d2 + n), CUDA_R_32F, keys,
                             &zero, d2 + 2 * n, CUDA_R_32F, cfg_.q_dim(), n, ct, CUBLAS_GEMM_DEFAULT));
    }
  }

  void ensure_rope(int positions) {
    if (positions <= rope_positions_) return;
    rope_positions_ = std::max(positions, 2 * rope_positions_);
    std::vector<float> c, s;
    rope_table(cfg_, rope_positions_, c, s);
    CK(cudaDeviceSynchronize());
    rope_cos_ = DevBuf(c.size() * 4, "RoPE table");
    rope_sin_ = DevBuf(s.size() * 4, "RoPE table");
    CK(cudaMemcpy(rope_cos_.get(), c.data(), c.size() * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(rope_sin_.get(), s.data(), s.size() * 4, cudaMemcpyHostToDevice));
  }

  void device_logits(const CudaHidden& x, int64_t row_begin, int64_t count) {
    const int d = cfg_.d_model, V = cfg_.vocab;
    logits_.ensure(size_t(count) * V * sizeof(float), "logits");
    const void* in = gemm_input(x.data() + row_begin * d, count * d, a_in_);
    gemm(count, V, d, {in}, {wt(w_.head_w)}, {logits_.as<float>()}, 0.0f);
    add_bias(logits_.as<float>(), f32(w_.head_b), count, V);
  }

  // ------------------------------------------------------------ the layer operations
  // (backend/layer_ops.h). Buffers: X, Out and the residual arithmetic are float32; the inputs
  // of matrix products (AttnIn, MlpIn, Ctx, Up, Mlp) are in the compute dtype; Qkv is in the
  // compute dtype where the flash kernel runs, float32 otherwise.

  void begin(int members) override {
    M_ = members;
    const CudaHidden& x = *x_;
    const int hd = cfg_.head_dim, qd = cfg_.q_dim(), qkvd = cfg_.qkv_dim();
    // Flash attention only for the standard block without an inspector (it keeps no scores).
    flash_ = elem_size(dt_) == 2 && !force_gemm_attention_ && cuda_detail::flash_supported(hd) &&
             (!kv_ || x.pos0 == 0) && qkvd % 8 == 0 && qd % 8 == 0 && cfg_.standard_block() && !inspector_;
    if (M_ > 1) outs_.ensure(x.count() * M_ * sizeof(float), "parallel group outputs");
  }

  int width(Buf b) const {
    switch (b) {
      case Buf::Qkv: return cfg_.qkv_dim();
      case Buf::Ctx: return cfg_.q_dim();
      case Buf::Up: return cfg_.up_rows();
      case Buf::Mlp: return cfg_.d_ff;
      default: return cfg_.d_model;
    }
  }
  bool is_f32(Buf b) const {
    if (b == Buf::X || b == Buf::Out) return true;
    if (b == Buf::Qkv) return !flash_;
    return elem_size(dt_) == 4;
  }
  // Member m's rows of a buffer (allocated on first use at this size).
  void* dptr(Ref r) {
    const int64_t R = x_->rows();
    const size_t es = is_f32(r.buf) ? 4 : elem_size(dt_);
    const size_t per = size_t(R) * width(r.buf) * es;
    auto member_of = [&](DevBuf& b, const char* what) {
      b.ensure(per * M_, what);
      return static_cast<void*>(b.as<char>() + per * r.member);
    };
    switch (r.buf) {
      case Buf::X: return x_->data();
      case Buf::Out: return M_ == 1 ? x_->data() : outs_.as<float>() + x_->count() * r.member;
      case Buf::AttnIn: return member_of(h_, "normed activations");
      case Buf::MlpIn: return member_of(h2_, "normed activations (MLP)");
      case Buf::Qkv: return flash_ ? member_of(qkvh_, "qkv activations (compute dtype)") : member_of(qkv_, "qkv activations");
      case Buf::Ctx: return es == 4 ? member_of(ctx32_, "attention output") : member_of(ctx_, "attention output (compute dtype)");
      case Buf::Up: return member_of(up_, "MLP up activations");
      case Buf::Mlp: return member_of(act_, "MLP activations");
    }
    return nullptr;
  }

  void norm(Ref in, Ref out, const Param& w, const Param& b) override {
    const int64_t R = x_->rows();
    const float* src = static_cast<const float*>(dptr(in));  // norms read the float32 residual
    if (is_f32(out.buf))
      norm_rows(src, static_cast<float*>(dptr(out)), R, f32(w), f32(b), cfg_.norm == NormKind::RMSNorm);
    else
      norm_to(src, dptr(out), R, f32(w), f32(b));
  }

  // The input of a product in the compute dtype: float32 buffers are converted (each distinct
  // one once per call) into `staging`, slot k.
  const void* product_input(Ref in, int k_cols, std::vector<std::pair<const void*, const void*>>& converted) {
    const void* p = dptr(in);
    if (!is_f32(in.buf) || elem_size(dt_) == 4) return p;
    for (const auto& [from, to] : converted)
      if (from == p) return to;
    const int64_t n = x_->rows() * k_cols;
    const size_t at = converted.size();
    a_in_.ensure(size_t(at + 1) * n * elem_size(dt_), "GEMM input (converted activations)");  // grows only between calls
    void* dst = a_in_.as<char>() + at * n * elem_size(dt_);
    dispatch(dt_, [&](auto tag) {
      using T = decltype(tag);
      convert_kernel<T><<<blocks_for(n, 256), 256>>>(static_cast<const float*>(p), static_cast<T*>(dst), n);
    });
    CK_LAUNCH("convert_kernel");
    converted.push_back({p, dst});
    return dst;
  }

  void linear(int n, int k, int col, const std::vector<LinearCall>& calls) override {
    const int64_t R = x_->rows();
    if (R == 0 || calls.empty()) return;
    auto present = [](const Param* p) { return p && *p; };
    const int C = static_cast<int>(calls.size());
    // Every float32 input converted at most once; a_in_ sized for all of them up front, since
    // growing it would move conversions already made.
    a_in_.ensure(size_t(C) * R * std::max(k, cfg_.d_model) * elem_size(dt_), "GEMM input (converted activations)");
    std::vector<std::pair<const void*, const void*>> converted;
    const Buf out_buf = calls[0].out.buf;
    const int ld = width(out_buf);
    std::vector<const void*> X, W;
    std::vector<void*> Y;
    std::vector<const float*> bias;
    std::vector<int> gained;
    for (int i = 0; i < C; ++i) {
      const LinearCall& c = calls[i];
      if (!present(c.w)) continue;
      X.push_back(product_input(c.in, k, converted));
      W.push_back(wt(*c.w));
      bias.push_back(present(c.bias) ? f32(*c.bias) : nullptr);
      if (present(c.gain)) gained.push_back(i);
      Y.push_back(nullptr);
    }
    if (!X.empty()) {
      if (!gained.empty()) {
        // Products with a scalar gain: into float32 scratch, then out (+)= g * (x W^T + b).
        branch_.ensure(size_t(X.size()) * R * n * 4, "gained branch products");
        for (size_t j = 0; j < Y.size(); ++j) Y[j] = branch_.as<float>() + j * R * n;
        gemm_to(R, n, k, X, W, Y, CUDA_R_32F, 0.0f, n);
        for (size_t j = 0; j < Y.size(); ++j) add_bias(static_cast<float*>(Y[j]), bias[j], R, n);
        size_t j = 0;
        for (int i = 0; i < C; ++i) {
          const LinearCall& c = calls[i];
          if (!present(c.w)) continue;
          const float g = present(c.gain) ? c.gain->data[0] : 1.0f;
          axpy_kernel<float><<<blocks_for(R * n, 256), 256>>>(static_cast<const float*>(Y[j]), n,
                                                              static_cast<float*>(dptr(c.out)) + col, ld, R, n, g, c.accumulate);
          CK_LAUNCH("axpy_kernel");
          ++j;
        }
      } else if (is_f32(out_buf)) {
        for (size_t j = 0, i = 0; i < size_t(C); ++i)
          if (present(calls[i].w)) Y[j++] = static_cast<float*>(dptr(calls[i].out)) + col;
        gemm_to(R, n, k, X, W, Y, CUDA_R_32F, calls[0].accumulate ? 1.0f : 0.0f, ld);
        for (size_t j = 0; j < Y.size(); ++j)
          if (bias[j]) {
            if (ld == n) {
              add_bias(static_cast<float*>(Y[j]), bias[j], R, n);
            } else {
              bias_ld_kernel<<<blocks_for(R * n, 256), 256>>>(static_cast<float*>(Y[j]), bias[j], R, n, ld);
              CK_LAUNCH("bias_ld_kernel");
            }
          }
      } else {
        // Output in the compute dtype (flash Q/K/V, the MLP's up product), whole rows.
        if (col != 0 || n != ld || calls[0].accumulate) fail("cuda backend", "internal: partial product into a compute-dtype buffer");
        dispatch(dt_, [&](auto tag) {
          using T2 = decltype(tag);
          project_in_dtype(R, n, k, X, W, bias, static_cast<T2*>(dptr({out_buf, 0})) + 0);
        });
      }
    }
    // Identities: out (+)= g * in.
    for (int i = 0; i < C; ++i) {
      const LinearCall& c = calls[i];
      if (present(c.w)) continue;
      if (!is_f32(c.out.buf)) fail("cuda backend", "internal: identity into a compute-dtype buffer");
      const float g = present(c.gain) ? c.gain->data[0] : 1.0f;
      float* o = static_cast<float*>(dptr(c.out)) + col;
      const void* in = dptr(c.in);
      const int64_t ldx = width(c.in.buf);
      if (is_f32(c.in.buf)) {
        axpy_kernel<float><<<blocks_for(R * n, 256), 256>>>(static_cast<const float*>(in), ldx, o, ld, R, n, g, c.accumulate);
      } else {
        dispatch(dt_, [&](auto tag) {
          using T2 = decltype(tag);
          axpy_kernel<T2><<<blocks_for(R * n, 256), 256>>>(static_cast<const T2*>(in), ldx, o, ld, R, n, g, c.accumulate);
        });
      }
      CK_LAUNCH("axpy_kernel");
    }
  }

  void copy(Ref from, Ref to) override {
    const void* a = dptr(from);
    void* b = dptr(to);
    if (a != b) CK(cudaMemcpyAsync(b, a, x_->count() * sizeof(float), cudaMemcpyDeviceToDevice, 0));
  }
  void zero(Ref to) override { CK(cudaMemsetAsync(dptr(to), 0, x_->count() * sizeof(float), 0)); }
  void scale(Ref x, const Param& gain) override {
    const int64_t n = int64_t(x_->count());
    scale_kernel<<<blocks_for(n, 256), 256>>>(static_cast<float*>(dptr(x)), n, gain.data[0]);
    CK_LAUNCH("scale_kernel");
  }

  void rope() override {
    const int T = x_->tokens, pos0 = x_->pos0;
    const int64_t rows = int64_t(M_) * x_->rows();  // members' rows are contiguous; positions repeat every T rows
    if (rows == 0) return;
    ensure_rope(pos0 + T);
    const int grid = int(std::min<int64_t>(rows, 1 << 20));
    if (flash_) {
      dispatch(dt_, [&](auto tag) {
        using T2 = decltype(tag);
        rope2_kernel<T2><<<grid, 128>>>(static_cast<T2*>(dptr({Buf::Qkv, 0})), rows, T, pos0, cfg_.qkv_dim(), cfg_.n_head,
                                        cfg_.n_kv_head, cfg_.head_dim, rope_cos_.as<float>(), rope_sin_.as<float>());
      });
    } else {
      rope_kernel<float><<<grid, 128>>>(static_cast<float*>(dptr({Buf::Qkv, 0})), rows, T, pos0, cfg_.qkv_dim(), cfg_.n_head,
                                        cfg_.n_kv_head, cfg_.head_dim, rope_cos_.as<float>(), rope_sin_.as<float>());
    }
    CK_LAUNCH("rope_kernel");
  }

  void attend(const Application& app, const std::vector<const LayerWeights*>& layers) override {
    const int B = x_->batch, T = x_->tokens, pos0 = x_->pos0, hd = cfg_.head_dim;
    const int qd = cfg_.q_dim(), kvd = cfg_.kv_dim(), qkvd = cfg_.qkv_dim();
    const int64_t R = x_->rows();
    if (R == 0) return;
    const size_t es = elem_size(dt_);
    if (kv_ && pos0 + T > kv_->capacity) fail("kv cache", "sequence longer than the cache capacity");
    if (flash_) {
      for (int m = 0; m < M_; ++m) {
        const char* base = static_cast<const char*>(dptr({Buf::Qkv, m}));
        if (kv_) {
          dispatch(dt_, [&](auto tag) {
            using T2 = decltype(tag);
            kv_append_kernel<T2><<<blocks_for(R * kvd, 256), 256>>>(reinterpret_cast<const T2*>(base), kv_->k[app.slots[m]].as<float>(),
                                                                    kv_->v[app.slots[m]].as<float>(), B, T, pos0, kv_->capacity, qkvd, qd, kvd);
          });
          CK_LAUNCH("kv_append_kernel");
        }
        cuda_detail::FlashArgs f;
        f.q = base, f.k = base + qd * es, f.v = base + (qd + kvd) * es;
        f.out = dptr({Buf::Ctx, m});
        f.q_stride = qkvd, f.q_batch_stride = int64_t(T) * qkvd;
        f.kv_stride = qkvd, f.kv_batch_stride = int64_t(T) * qkvd;
        f.out_stride = qd, f.out_batch_stride = int64_t(T) * qd;
        f.batch = B, f.tokens = T, f.past = 0, f.keys = T, f.n_head = cfg_.n_head;
        f.group = cfg_.n_head / cfg_.n_kv_head, f.hd = hd;
        f.scale = 1.0f / std::sqrt(static_cast<float>(hd));
        f.causal = cfg_.causal, f.bf16 = dt_ == CudaDType::BF16;
        cuda_detail::flash_attention(f);
      }
      return;
    }
    // float32 Q/K/V: the GEMM attention (prefill, shaped attention, inspection) or the fused
    // decoding kernel, into float32 ctx32_, then converted for the o-projection.
    ctx32_.ensure(size_t(M_) * R * qd * 4, "attention output");
    if (inspector_) probs_host_.resize(size_t(M_) * cfg_.n_head * T * (pos0 + T));
    for (int m = 0; m < M_; ++m) {
      const float* base = static_cast<const float*>(dptr({Buf::Qkv, m}));
      AttnArgs a{};
      a.q = base, a.q_stride = qkvd;
      float* out32 = ctx32_.as<float>() + m * R * qd;
      a.out = out32, a.out_stride = qd;
      a.tokens = T, a.n_head = cfg_.n_head, a.group = cfg_.n_head / cfg_.n_kv_head, a.hd = hd;
      a.pitch = hd % 2 == 0 ? hd + 1 : hd;
      a.scale = 1.0f / std::sqrt(static_cast<float>(hd));
      a.causal = cfg_.causal;
      if (kv_) {
        float* kc = kv_->k[app.slots[m]].as<float>();
        float* vc = kv_->v[app.slots[m]].as<float>();
        kv_append_kernel<float><<<blocks_for(R * kvd, 256), 256>>>(base, kc, vc, B, T, pos0, kv_->capacity, qkvd, qd, kvd);
        CK_LAUNCH("kv_append_kernel");
        a.k = kc, a.v = vc, a.kv_stride = kvd, a.kv_batch_stride = int64_t(kv_->capacity) * kvd;
        a.past = pos0;
      } else {
        a.k = base + qd, a.v = base + qd + kvd, a.kv_stride = qkvd, a.kv_batch_stride = int64_t(T) * qkvd;
        a.past = 0;
      }
      a.keys = a.past + T;
      const LayerWeights& L = *layers[m];
      const bool shaped = cfg_.shaped_attention;
      if (T > kRowsPerBlock || shaped || inspector_) {
        const float* alpha = shaped ? f32(L.attn_alpha) : nullptr;
        const float* beta = shaped ? f32(L.attn_beta) : nullptr;
        const float* gamma = shaped ? f32(L.attn_gamma) : nullptr;
        float* probs = inspector_ ? probs_host_.data() + size_t(m) * cfg_.n_head * T * a.keys : nullptr;
        attention_gemm(a, B, out32, alpha, beta, gamma, probs);
        continue;
      }
      // Few queries (decoding): one fused kernel.
      const size_t smem = (size_t(kKeyTile) * a.pitch + size_t(kKeyTile) * hd + size_t(kRowsPerBlock) * hd) * 4;
      dim3 grid((T + kRowsPerBlock - 1) / kRowsPerBlock, cfg_.n_head, B);
      if (smem > 48 * 1024)
        CK(cudaFuncSetAttribute(attention_kernel<float>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
      attention_kernel<float><<<grid, kAttnWarps * 32, smem>>>(a);
      CK_LAUNCH("attention_kernel");
    }
    if (es != 4) {  // the attention output as the o-projection's input type
      const int64_t n = int64_t(M_) * R * qd;
      void* dst = dptr({Buf::Ctx, 0});
      dispatch(dt_, [&](auto tag) {
        using T2 = decltype(tag);
        convert_kernel<T2><<<blocks_for(n, 256), 256>>>(ctx32_.as<float>(), static_cast<T2*>(dst), n);
      });
      CK_LAUNCH("convert_kernel");
    }
  }

  void activate() override {
    const int64_t rows = int64_t(M_) * x_->rows();
    if (rows == 0) return;
    const int ff = cfg_.d_ff;
    dispatch(dt_, [&](auto tag) {
      using T2 = decltype(tag);
      const T2* up = static_cast<const T2*>(dptr({Buf::Up, 0}));
      T2* act = static_cast<T2*>(dptr({Buf::Mlp, 0}));
      if (cfg_.gated()) {
        if (ff % 2 == 0)
          swiglu2_kernel<T2><<<int(std::min<int64_t>(rows, 1 << 20)), 256>>>(up, act, rows, ff);
        else
          swiglu_kernel<T2, T2><<<int(std::min<int64_t>(rows, 1 << 20)), 256>>>(up, act, rows, ff);
      } else {
        act_kernel<T2, T2><<<blocks_for(rows * ff, 256), 256>>>(up, act, rows * ff, cfg_.act == Activation::GeluErf);
      }
    });
    CK_LAUNCH("activation kernel");
  }

  void mean_of_members() override {
    const size_t n = x_->count();
    mean_kernel<<<blocks_for(n, 256), 256>>>(x_->data(), outs_.as<float>(), int64_t(n), M_);
    CK_LAUNCH("mean_kernel");
  }

  // Copies batch element 0's view of each member to the host for the inspector (only when set).
  void trace(const Application& app) override {
    if (!inspector_) return;
    const int T = x_->tokens, keys = x_->pos0 + T, qkvd = cfg_.qkv_dim(), ff = cfg_.d_ff, d = cfg_.d_model;
    auto to_host = [&](Ref r, int cols, std::vector<float>& out) {
      out.resize(size_t(T) * cols);
      const int64_t n = int64_t(T) * cols;
      if (is_f32(r.buf)) {
        CK(cudaMemcpy(out.data(), dptr(r), n * 4, cudaMemcpyDeviceToHost));
        return;
      }
      staging_.ensure(n * 4, "inspector staging");
      dispatch(dt_, [&](auto tag) {
        using T2 = decltype(tag);
        widen_kernel<T2><<<blocks_for(n, 256), 256>>>(static_cast<const T2*>(dptr(r)), staging_.as<float>(), n);
      });
      CK_LAUNCH("widen_kernel");
      CK(cudaMemcpy(out.data(), staging_.get(), n * 4, cudaMemcpyDeviceToHost));
    };
    for (int m = 0; m < M_; ++m) {
      to_host({Buf::Qkv, m}, qkvd, trace_qkv_);
      to_host({Buf::Mlp, m}, ff, trace_mlp_);
      to_host({Buf::Out, m}, d, trace_out_);
      LayerTrace t;
      t.step = app.step, t.member = m, t.iteration = app.iteration, t.layer = app.layers[m];
      t.tokens = T, t.keys = keys;
      t.attn_probs = probs_host_.data() + size_t(m) * cfg_.n_head * T * keys;
      t.qkv = trace_qkv_.data();
      t.mlp_act = trace_mlp_.data();
      t.output = trace_out_.data();
      inspector_->on_layer(t);
    }
  }

  const ModelConfig& cfg_;
  CudaDType dt_;
  ModelWeights w_;
  cublasHandle_t blas_ = nullptr;
  cublasComputeType_t compute_ = CUBLAS_COMPUTE_32F;
  DevBuf scores_, ctx32_, h2_, branch_;
  // The application being run (run_step sets them; the layer operations read them).
  CudaHidden* x_ = nullptr;
  CudaKvCache* kv_ = nullptr;
  int M_ = 1;
  bool flash_ = false;
  Inspector* inspector_ = nullptr;
  std::vector<float> probs_host_, trace_qkv_, trace_mlp_, trace_out_;
  DevBuf staging_, ids_, h_, a_in_, qkv_, qkvh_, ctx_, up_, act_, outs_, logits_, pairs_, scores_out_, rope_cos_, rope_sin_, ptr_table_;
  int ptr_used_ = 0;
  bool force_gemm_attention_ = false;

 public:
  bool unbatched_ = false;  // cuda_set_batched_groups(false): one GEMM call per member (benchmarks)
  int rope_positions_ = 0;
};

}  // namespace

bool cuda_built() { return true; }

bool cuda_available() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  return n > 0;
}

std::unique_ptr<Backend> make_cuda_backend(const Model& model, CudaDType dtype, int device) {
  return std::make_unique<CudaBackend>(model, dtype, device);
}

void cuda_set_batched_groups(Backend& backend, bool batched) {
  auto* b = dynamic_cast<CudaBackend*>(&backend);
  if (!b) fail("cuda_set_batched_groups", "not a CUDA backend");
  b->unbatched_ = !batched;
}

void cuda_synchronize() { CK(cudaDeviceSynchronize()); }

}  // namespace layerlab
