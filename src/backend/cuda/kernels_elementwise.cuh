#pragma once
// Element types (float / bf16 / f16 loads and stores), dtype dispatch, and the row-wise
// elementwise kernels: conversions, embedding, bias, activations, SwiGLU, means, gains, KV append.
// Kernels of the CUDA inference backend (cuda_backend.cu), one family per header.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <library_types.h>

#include <algorithm>
#include <cstdint>

#include "layerlab/cuda_backend.h"

namespace layerlab {
namespace {

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


}  // namespace
}  // namespace layerlab
