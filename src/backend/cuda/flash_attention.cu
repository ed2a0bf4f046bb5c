// Flash-style attention for prefill: one block of 4 warps per (64 query rows, head, sequence).
// Q (64 x D) stays in registers as mma fragments; K and V tiles of 64 keys stream through
// shared memory (cp.async, two stages). Each warp owns 16 query rows: S = Q K^T with
// mma.sync m16n8k16 (bf16 / f16 inputs, float32 accumulators), masked (causal, key range),
// online softmax in float32 (exp2 with the scale folded in), P rounded to the input type and
// O += P V with mma again (V read through ldmatrix.trans). Key tiles past the last visible
// key of the block are never loaded (causal: about half the work of the full square).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "backend/cuda/flash_attention.h"
#include "layerlab/error.h"

namespace layerlab::cuda_detail {

namespace {

constexpr int kBM = 64;  // query rows per block (16 per warp)
constexpr int kBN = 64;  // keys per tile
constexpr int kWarps = 4;

void ck(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    throw Error(std::string("CUDA: ") + what + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
  }
}

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte async copy global -> shared; zero-fills when !pred (no bytes are read then).
__device__ __forceinline__ void cp16(void* dst, const void* src, bool pred) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src), "r"(pred ? 16 : 0));
}
__device__ __forceinline__ void cp_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldsm_x4_t(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}

template <class T>
struct Mma;
template <>
struct Mma<__nv_bfloat16> {
  static __device__ __forceinline__ void run(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    uint32_t u;
    memcpy(&u, &v, 4);
    return u;
  }
};
template <>
struct Mma<__half> {
  static __device__ __forceinline__ void run(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    __half2 v = __floats2half2_rn(lo, hi);
    uint32_t u;
    memcpy(&u, &v, 4);
    return u;
  }
};

template <int D>
__host__ __device__ constexpr int pitch() { return D + 8; }  // elements; +16 bytes per row: ldmatrix rows hit distinct banks
template <int D>
constexpr size_t smem_bytes() { return size_t(kBM + 4 * kBN) * pitch<D>() * 2; }

template <class T, int D>
__global__ void __launch_bounds__(kWarps * 32) flash_kernel(FlashArgs a) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  constexpr int P = pitch<D>();
  T* Qs = reinterpret_cast<T*>(smem_raw);  // [kBM][P]
  T* Ks = Qs + kBM * P;                    // [2][kBN][P]
  T* Vs = Ks + 2 * kBN * P;                // [2][kBN][P]

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int g = lane / 4, tq = lane % 4;
  const int q0 = (gridDim.x - 1 - blockIdx.x) * kBM;  // heaviest (causal) tiles first
  const int h = blockIdx.y, b = blockIdx.z, kvh = h / a.group;
  const T* qg = static_cast<const T*>(a.q) + b * a.q_batch_stride + int64_t(h) * D;
  const T* kg = static_cast<const T*>(a.k) + b * a.kv_batch_stride + int64_t(kvh) * D;
  const T* vg = static_cast<const T*>(a.v) + b * a.kv_batch_stride + int64_t(kvh) * D;

  const int rows_here = min(kBM, a.tokens - q0);
  const int kend = a.causal ? min(a.keys, a.past + q0 + rows_here) : a.keys;
  const int ntiles = (kend + kBN - 1) / kBN;

  constexpr int kChunks = D / 8;  // 16-byte chunks per row
  // Q tile
  for (int i = tid; i < kBM * kChunks; i += kWarps * 32) {
    const int r = i / kChunks, c = i % kChunks;
    const bool ok = r < rows_here;
    cp16(Qs + r * P + c * 8, qg + (ok ? int64_t(q0 + r) * a.q_stride + c * 8 : 0), ok);
  }
  auto load_kv = [&](int tile, int stage) {
    const int j0 = tile * kBN;
    T* kd = Ks + stage * kBN * P;
    T* vd = Vs + stage * kBN * P;
    for (int i = tid; i < kBN * kChunks; i += kWarps * 32) {
      const int r = i / kChunks, c = i % kChunks;
      const bool ok = j0 + r < kend;
      const int64_t off = ok ? int64_t(j0 + r) * a.kv_stride + c * 8 : 0;
      cp16(kd + r * P + c * 8, kg + off, ok);
      cp16(vd + r * P + c * 8, vg + off, ok);
    }
  };
  if (ntiles > 0) load_kv(0, 0);
  cp_commit();

  float o[D / 8][4];
#pragma unroll
  for (int n = 0; n < D / 8; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
  uint32_t qf[D / 16][4];
  const float sl2 = a.scale * 1.4426950408889634f;  // scores in log2 units
  const int wrow0 = q0 + warp * 16;                   // this warp's first query row
  const int qpos0 = a.past + wrow0 + g, qpos1 = qpos0 + 8;

  for (int tile = 0; tile < ntiles; ++tile) {
    const int stage = tile & 1;
    if (tile + 1 < ntiles) {
      load_kv(tile + 1, stage ^ 1);
      cp_commit();
      cp_wait<1>();
    } else {
      cp_wait<0>();
    }
    __syncthreads();
    if (tile == 0) {
#pragma unroll
      for (int kc = 0; kc < D / 16; ++kc)
        ldsm_x4(qf[kc], Qs + (warp * 16 + (lane % 8) + 8 * ((lane / 8) % 2)) * P + kc * 16 + 8 * (lane / 16));
    }
    const int j0 = tile * kBN;
    // A warp whose rows all precede this tile (causal) has nothing to add.
    const bool skip = wrow0 >= a.tokens || (a.causal && j0 > a.past + wrow0 + 15);
    if (!skip) {
      const T* kt = Ks + stage * kBN * P;
      const T* vt = Vs + stage * kBN * P;
      float s[kBN / 8][4];
#pragma unroll
      for (int n = 0; n < kBN / 8; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll
      for (int kc = 0; kc < D / 16; ++kc) {
#pragma unroll
        for (int np = 0; np < kBN / 16; ++np) {
          uint32_t bf[4];
          ldsm_x4(bf, kt + (np * 16 + (lane % 8) + 8 * (lane / 16)) * P + kc * 16 + 8 * ((lane / 8) % 2));
          Mma<T>::run(s[2 * np], qf[kc], bf[0], bf[1]);
          Mma<T>::run(s[2 * np + 1], qf[kc], bf[2], bf[3]);
        }
      }
      // Scale and mask.
      const bool edge = j0 + kBN > kend || (a.causal && j0 + kBN - 1 > a.past + wrow0);
#pragma unroll
      for (int n = 0; n < kBN / 8; ++n)
#pragma unroll
        for (int c = 0; c < 4; ++c) {
          float v = s[n][c] * sl2;
          if (edge) {
            const int key = j0 + n * 8 + 2 * tq + (c & 1);
            const int qp = c < 2 ? qpos0 : qpos1;
            if (key >= kend || (a.causal && key > qp)) v = -INFINITY;
          }
          s[n][c] = v;
        }
      // Online softmax, rows g (c = 0, 1) and g + 8 (c = 2, 3); a quad of lanes shares a row.
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float mx = -INFINITY;
#pragma unroll
        for (int n = 0; n < kBN / 8; ++n) mx = fmaxf(mx, fmaxf(s[n][2 * r], s[n][2 * r + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        const float m_new = fmaxf(m[r], mx);
        const float m_use = m_new == -INFINITY ? 0.0f : m_new;
        const float corr = exp2f(m[r] - m_use);
        float sum = 0.0f;
#pragma unroll
        for (int n = 0; n < kBN / 8; ++n) {
          const float p0 = exp2f(s[n][2 * r] - m_use), p1 = exp2f(s[n][2 * r + 1] - m_use);
          s[n][2 * r] = p0, s[n][2 * r + 1] = p1;
          sum += p0 + p1;
        }
        l[r] = l[r] * corr + sum;  // this lane's partial row sum (quad-reduced at the end)
        m[r] = m_new;
#pragma unroll
        for (int n = 0; n < D / 8; ++n) o[n][2 * r] *= corr, o[n][2 * r + 1] *= corr;
      }
      // O += P V
#pragma unroll
      for (int kk = 0; kk < kBN / 16; ++kk) {
        uint32_t pa[4];
        pa[0] = Mma<T>::pack(s[2 * kk][0], s[2 * kk][1]);
        pa[1] = Mma<T>::pack(s[2 * kk][2], s[2 * kk][3]);
        pa[2] = Mma<T>::pack(s[2 * kk + 1][0], s[2 * kk + 1][1]);
        pa[3] = Mma<T>::pack(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
        for (int dp = 0; dp < D / 16; ++dp) {
          uint32_t bf[4];
          ldsm_x4_t(bf, vt + (kk * 16 + (lane % 8) + 8 * ((lane / 8) % 2)) * P + dp * 16 + 8 * (lane / 16));
          Mma<T>::run(o[2 * dp], pa, bf[0], bf[1]);
          Mma<T>::run(o[2 * dp + 1], pa, bf[2], bf[3]);
        }
      }
    }
    __syncthreads();  // this stage is overwritten by the next iteration's prefetch
  }

  // Normalise and store (rows past the sequence are not written).
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float sum = l[r];
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
    const int t = wrow0 + g + 8 * r;
    if (t >= a.tokens) continue;
    T* orow = static_cast<T*>(a.out) + b * a.out_batch_stride + int64_t(t) * a.out_stride + int64_t(h) * D;
#pragma unroll
    for (int n = 0; n < D / 8; ++n) {
      const uint32_t u = Mma<T>::pack(o[n][2 * r] * inv, o[n][2 * r + 1] * inv);
      *reinterpret_cast<uint32_t*>(orow + n * 8 + 2 * tq) = u;
    }
  }
}

template <class T, int D>
void launch(const FlashArgs& a) {
  const size_t smem = smem_bytes<D>();
  static bool attr_set = false;  // per instantiation; the attribute is per device function
  if (!attr_set) {
    ck(cudaFuncSetAttribute(flash_kernel<T, D>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)),
       "cudaFuncSetAttribute (flash attention)");
    attr_set = true;
  }
  dim3 grid((a.tokens + kBM - 1) / kBM, a.n_head, a.batch);
  flash_kernel<T, D><<<grid, kWarps * 32, smem>>>(a);
  ck(cudaGetLastError(), "flash_kernel launch");
}

template <class T>
__global__ void to_half_kernel(const float* x, T* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = T(x[i]);
}
template <class T>
__global__ void from_half_kernel(const T* x, float* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = float(x[i]);
}

}  // namespace

bool flash_supported(int hd) { return hd == 64 || hd == 128; }

void flash_attention(const FlashArgs& a) {
  if (a.tokens <= 0 || a.batch <= 0) return;
  if (!flash_supported(a.hd)) throw Error("flash attention: head_dim " + std::to_string(a.hd) + " not supported");
  if (a.bf16) {
    if (a.hd == 64) launch<__nv_bfloat16, 64>(a);
    else launch<__nv_bfloat16, 128>(a);
  } else {
    if (a.hd == 64) launch<__half, 64>(a);
    else launch<__half, 128>(a);
  }
}

std::vector<float> flash_attention_host(const std::vector<float>& q, const std::vector<float>& k,
                                        const std::vector<float>& v, int batch, int tokens, int past, int keys,
                                        int n_head, int n_kv_head, int hd, bool causal, bool bf16) {
  const size_t nq = size_t(batch) * tokens * n_head * hd, nk = size_t(batch) * keys * n_kv_head * hd;
  if (q.size() != nq || k.size() != nk || v.size() != nk) throw Error("flash_attention_host: sizes");
  float* f = nullptr;
  uint16_t* hbuf = nullptr;
  const size_t total = 2 * nq + 2 * nk;
  ck(cudaMalloc(&f, total * 4), "cudaMalloc");
  ck(cudaMalloc(&hbuf, total * 2), "cudaMalloc");
  std::vector<float> out(nq);
  try {
    ck(cudaMemcpy(f, q.data(), nq * 4, cudaMemcpyHostToDevice), "cudaMemcpy");
    ck(cudaMemcpy(f + nq, k.data(), nk * 4, cudaMemcpyHostToDevice), "cudaMemcpy");
    ck(cudaMemcpy(f + nq + nk, v.data(), nk * 4, cudaMemcpyHostToDevice), "cudaMemcpy");
    const int64_t nin = int64_t(nq + 2 * nk);
    if (bf16) to_half_kernel<__nv_bfloat16><<<256, 256>>>(f, reinterpret_cast<__nv_bfloat16*>(hbuf), nin);
    else to_half_kernel<__half><<<256, 256>>>(f, reinterpret_cast<__half*>(hbuf), nin);
    ck(cudaGetLastError(), "to_half_kernel");
    uint16_t* ho = hbuf + nq + 2 * nk;
    ck(cudaMemset(ho, 0xff, nq * 2), "cudaMemset");  // NaN in both formats: unwritten rows show
    FlashArgs a;
    a.q = hbuf, a.k = hbuf + nq, a.v = hbuf + nq + nk, a.out = ho;
    a.q_stride = int64_t(n_head) * hd, a.q_batch_stride = int64_t(tokens) * n_head * hd;
    a.kv_stride = int64_t(n_kv_head) * hd, a.kv_batch_stride = int64_t(keys) * n_kv_head * hd;
    a.out_stride = a.q_stride, a.out_batch_stride = a.q_batch_stride;
    a.batch = batch, a.tokens = tokens, a.past = past, a.keys = keys, a.n_head = n_head;
    a.group = n_head / n_kv_head, a.hd = hd, a.scale = 1.0f / std::sqrt(float(hd)), a.causal = causal, a.bf16 = bf16;
    flash_attention(a);
    float* fo = f + nq + 2 * nk;
    if (bf16) from_half_kernel<__nv_bfloat16><<<256, 256>>>(reinterpret_cast<__nv_bfloat16*>(ho), fo, int64_t(nq));
    else from_half_kernel<__half><<<256, 256>>>(reinterpret_cast<__half*>(ho), fo, int64_t(nq));
    ck(cudaGetLastError(), "from_half_kernel");
    ck(cudaMemcpy(out.data(), fo, nq * 4, cudaMemcpyDeviceToHost), "cudaMemcpy");
  } catch (...) {
    cudaFree(f), cudaFree(hbuf);
    throw;
  }
  cudaFree(f), cudaFree(hbuf);
  return out;
}

}  // namespace layerlab::cuda_detail
