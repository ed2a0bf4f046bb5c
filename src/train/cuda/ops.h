#pragma once
// The device operations of CUDA training (src/train/cuda/*.cu), as host functions that enqueue
// work on the context's stream. Row-major float32 tensors throughout; N rows of C columns.
// Scalars that are parameters (gains, shaped-attention coefficients) are passed as device
// pointers and read by the kernels, so no layer waits for the host. nullptr gain = 1.
// No operation uses atomics: every sum has a fixed order, so results are bit-for-bit repeatable.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "backend/cuda/cuda_check.h"
#include "layerlab/train.h"

namespace layerlab::train::cu {

// Stream, cuBLAS handle and scratch memory for two-stage reductions.
struct Ctx {
  Ctx(int device, bool tf32);
  ~Ctx();
  Ctx(const Ctx&) = delete;
  Ctx& operator=(const Ctx&) = delete;
  float* partials(size_t floats);  // scratch, grown on demand (contents not kept)
  void sync() const;

  int device = 0;
  cudaStream_t stream = nullptr;
  cublasHandle_t blas = nullptr;
  cuda::DevBuf scratch;
};

// Number of blocks for a grid-stride loop over n elements.
inline int grid_for(int64_t n, int threads) {
  const int64_t b = (n + threads - 1) / threads;
  return int(b < 1 ? 1 : (b > 65535 * 4 ? 65535 * 4 : b));
}

// ---- gemm.cu: matrix products (row-major wrappers over column-major cuBLAS) ----------------
// C[M,N] = alpha op(A) op(B) + beta C, op(X) = X^T when the flag is set.
void gemm(Ctx& c, bool ta, bool tb, int M, int N, int K, const float* A, int lda, const float* B, int ldb, float beta,
          float* C, int ldc);
// The same for `batch` matrices at fixed strides (elements).
void gemm_batched(Ctx& c, bool ta, bool tb, int M, int N, int K, const float* A, int lda, int64_t sA, const float* B,
                  int ldb, int64_t sB, float beta, float* C, int ldc, int64_t sC, int batch);
// y[N,out] = x[N,in] W[out,in]^T (+ b).
void linear_forward(Ctx& c, float* y, const float* x, const float* W, const float* b, int N, int in, int out);
// dx (= or += when accumulate; skipped when null) dy W; dW = dy^T x; db = column sums of dy.
void linear_backward(Ctx& c, float* dx, bool accumulate, float* dW, float* db, const float* dy, const float* x,
                     const float* W, int N, int in, int out);

// ---- reduce.cu: fixed-order reductions ----------------------------------------------------
// out[j] = sum_n a[n, j] over N rows (two stages: row chunks, then chunks in order).
void column_sum(Ctx& c, float* out, const float* a, int N, int C);
// LayerNorm weight / bias gradients: dw[j] = sum_n dy[n,j] xhat[n,j], db[j] = sum_n dy[n,j].
void layernorm_param_grads(Ctx& c, float* dw, float* db, const float* dy, const float* x, const float* mean,
                           const float* rstd, int N, int C);
// *out = sum_i a[i] b[i] (double accumulation, written as float).
void dot(Ctx& c, float* out, const float* a, const float* b, int64_t n);
// *out = sum_i a[i]^2 in double (device double).
void sum_squares(Ctx& c, double* out, const float* a, int64_t n);
// *out = sum_i a[i] in double (device double).
void sum(Ctx& c, double* out, const float* a, int64_t n);

// ---- elementwise.cu ---------------------------------------------------------------------
// x[n] = wte[in[n]] + wpe[n % L].
void embedding_forward(Ctx& c, float* x, const int32_t* in, const float* wte, const float* wpe, int N, int L, int C);
// dwte rows of the batch's tokens += sum of their positions' dx rows (positions grouped by
// token on the host: token u = tok[u] owns pos[start[u] .. start[u+1]) in ascending order);
// dwpe[t] = sum_b dx[b*L + t] (written).
void embedding_backward(Ctx& c, float* dwte, float* dwpe, const float* dx, const int32_t* tok, const int32_t* start,
                        const int32_t* pos, int n_tok, int B, int L, int C);
// u[N, F] += b (in place), g = gelu(u).
void bias_gelu_forward(Ctx& c, float* u, float* g, const float* b, int N, int F);
// d[i] = d[i] * gelu'(x[i]) (in place).
void gelu_backward(Ctx& c, float* d, const float* x, int64_t n);
// out = ga*a + gb*b (+ gc*cc when cc), g* device scalars (nullptr: 1). out may alias an input.
void combine(Ctx& c, float* out, const float* a, const float* ga, const float* b, const float* gb, const float* cc,
             const float* gc, int64_t n);

// ---- layernorm.cu -------------------------------------------------------------------------
void layernorm_forward(Ctx& c, float* y, float* mean, float* rstd, const float* x, const float* w, const float* b,
                       int N, int C, float eps);
// dx (= or += when accumulate) of LayerNorm; dw, db written.
void layernorm_backward(Ctx& c, float* dx, bool accumulate, float* dw, float* db, const float* dy, const float* x,
                        const float* mean, const float* rstd, const float* w, int N, int C);

// ---- attention.cu -------------------------------------------------------------------------
// Where q, k, v rows live (row strides in floats; head h uses columns [h*hd, (h+1)*hd)) and,
// for shaped attention, the per-head coefficients alpha, beta, gamma (device, H each).
struct AttnIn {
  const float* q;
  const float* k;
  const float* v;
  int qs, ks, vs;
  const float* coef = nullptr;  // alpha[H] | beta[H] | gamma[H]; nullptr: plain softmax attention
};
// Head-major scratch [B, H, L, hd] x 5 and [B, H, L, L] x 1, owned by the caller.
struct AttnScratch {
  float *qh, *kh, *vh, *th, *uh;
  float* s;
};
// y[N, C] = A v per head, A = softmax(q k^T / sqrt(hd) + causal mask), or shaped
// A = alpha I + beta softmax - gamma C (C_ij = 1/(i+1), j <= i). Keeps p[B,H,L,L] (the softmax)
// for the backward.
void attention_forward(Ctx& c, float* y, float* p, const AttnIn& in, const AttnScratch& w, int B, int L, int H,
                       int hd);
// Gradients: dq, dk, dv written with strides dqs/dks/dvs; shaped: dcoef[3H] written.
void attention_backward(Ctx& c, float* dq, float* dk, float* dv, int dqs, int dks, int dvs, float* dcoef,
                        const float* dy, const float* p, const AttnIn& in, const AttnScratch& w, int B, int L, int H,
                        int hd);

// ---- loss.cu ------------------------------------------------------------------------------
// Per row: loss[n] = -log softmax(logits[n])[tgt[n]]; logits are overwritten with the gradient
// of the mean loss, (softmax - onehot) / N.
void cross_entropy(Ctx& c, float* loss, float* logits, const int32_t* tgt, int N, int V);

// ---- adamw.cu -----------------------------------------------------------------------------
struct AdamArgs : AdamScalars {  // the step's scalars (adam_scalars) and the clipping scale
  float clip_coef = 1.f;           // 1: no clipping
};
// One AdamW step over n elements (decay_mask[i]: weight decay applies).
void adamw_step(Ctx& c, float* p, float* g, float* m, float* v, const uint8_t* decay_mask, int64_t n,
                const AdamArgs& a);

}  // namespace layerlab::train::cu
