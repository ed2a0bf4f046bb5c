#pragma once
// Block reductions, LayerNorm / RMSNorm (one block per row, float4 loads) and RoPE
// (HF rotate-half, one block per row).
// Kernels of the CUDA inference backend (cuda_backend.cu), one family per header.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <library_types.h>

#include <algorithm>
#include <cstdint>

#include "backend/cuda/kernels_elementwise.cuh"

namespace layerlab {
namespace {

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


}  // namespace
}  // namespace layerlab
