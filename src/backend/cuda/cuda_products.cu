// The CUDA backend's building blocks: norms, cuBLAS products (batched over a group's
// members), the GEMM attention with its softmax and shaping, RoPE tables and logits.
#include "backend/cuda/cuda_backend_impl.cuh"

#include <algorithm>
#include <cmath>

#include "model/rope.h"

namespace layerlab::cuda_impl {

void CudaBackend::norm_rows(const float* x, float* y, int64_t rows, const float* w, const float* b, bool rms) {
  if (norm_vec_ok())
    norm4_kernel<float><<<rows, 256>>>(x, y, cfg_.d_model, w, b, cfg_.norm_eps, rms);
  else
    norm_kernel<float><<<rows, 256>>>(x, y, cfg_.d_model, w, b, cfg_.norm_eps, rms);
  CK_LAUNCH("norm_kernel");
}

// Norm into the GEMM input type.
void CudaBackend::norm_to(const float* x, void* y, int64_t rows, const float* w, const float* b) {
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

void CudaBackend::add_bias(float* y, const float* b, int64_t rows, int n) {
  if (!b || rows == 0) return;
  bias_kernel<float><<<blocks_for(rows * n, 256), 256>>>(y, b, rows, n);
  CK_LAUNCH("bias_kernel");
}

// float32 activations as a GEMM input: themselves for float32 dtypes, else converted into buf.
const void* CudaBackend::gemm_input(const float* x, int64_t n, DevBuf& buf) {
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

void CudaBackend::gemm(int64_t R, int N, int K, const std::vector<const void*>& X, const std::vector<const void*>& W,
          const std::vector<float*>& Y, float beta) {
  gemm_to(R, N, K, X, W, std::vector<void*>(Y.begin(), Y.end()), CUDA_R_32F, beta);
}

// The same with the output in `ctype` (float32, or the compute dtype).
void CudaBackend::gemm_to(int64_t R, int N, int K, const std::vector<const void*>& X, const std::vector<const void*>& W,
             const std::vector<void*>& Y, cudaDataType_t ctype, float beta, int ldc) {
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

void** CudaBackend::upload_ptrs(const std::vector<const void*>& host) {
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

void CudaBackend::attention_gemm(const AttnArgs& a, int B, float* out, const float* alpha, const float* beta,
                    const float* gamma, float* probs) {
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


void CudaBackend::ensure_rope(int positions) {
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


void CudaBackend::device_logits(const CudaHidden& x, int64_t row_begin, int64_t count) {
  const int d = cfg_.d_model, V = cfg_.vocab;
  logits_.ensure(size_t(count) * V * sizeof(float), "logits");
  const void* in = gemm_input(x.data() + row_begin * d, count * d, a_in_);
  gemm(count, V, d, {in}, {wt(w_.head_w)}, {logits_.as<float>()}, 0.0f);
  add_bias(logits_.as<float>(), f32(w_.head_b), count, V);
}

}  // namespace layerlab::cuda_impl
