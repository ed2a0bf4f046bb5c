#pragma once
// The CUDA backend's class, shared by its three files: cuda_backend.cu (the Backend methods,
// weight upload, read-outs), cuda_products.cu (cuBLAS products, norms, the GEMM attention) and
// cuda_layer_ops.cu (the LayerOps that backend/layer.cpp runs). Kernels: kernels_*.cuh.
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
#include <cuda_runtime.h>

#include <memory>
#include <string>
#include <vector>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels_attention.cuh"
#include "backend/layer_ops.h"
#include "layerlab/cuda_backend.h"
#include "layerlab/error.h"

namespace layerlab::cuda_impl {

// Checked calls and owned device memory (backend/cuda/cuda_check.h, shared with the trainer).
using cuda::check;
using cuda::DevBuf;
#define CK(call) CUDA_CK(call)
#define CK_LAUNCH(what) CUDA_CK_LAUNCH(what)

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

inline CudaHidden& as_cuda(Hidden& h) {
  auto* p = dynamic_cast<CudaHidden*>(&h);
  if (!p) fail("cuda backend", "hidden states from another backend");
  return *p;
}
inline const CudaHidden& as_cuda(const Hidden& h) { return as_cuda(const_cast<Hidden&>(h)); }

// ---------------------------------------------------------------- the backend

class CudaBackend : public Backend, public LayerOps {
 public:
  CudaBackend(const Model& model, CudaDType dtype, int device);
  ~CudaBackend() override;

  std::string name() const override { return std::string("cuda-") + cuda_dtype_name(dt_); }
  const ModelConfig& config() const override { return cfg_; }

  std::unique_ptr<Hidden> embed(const std::vector<int32_t>& ids, int batch, int tokens, int pos0) override;

  void run_step(const PlanStep& step, int step_index, Hidden& xh, KvCache* kvc) override;

  bool supports_inspection() const override { return true; }
  void set_inspector(Inspector* inspector) override { inspector_ = inspector; }

  std::unique_ptr<Hidden> from_host(const float* rows, int batch, int tokens, int width) override;
  std::unique_ptr<Hidden> final_norm(const Hidden& xh) override;

  void logits(const Hidden& normed, int64_t row_begin, int64_t count, float* out) override;
  // Logits stay on the device: chunks of consecutive rows (<= 256 MiB of logits), one block
  // per requested (row, target) in the chunk; only the scores come back.

  std::vector<TargetScore> target_scores(const Hidden& normed, const std::vector<int64_t>& rows,
                                         const std::vector<int32_t>& targets) override;

  std::unique_ptr<KvCache> make_cache(const Plan& plan, int batch, int capacity) override;

 private:
  static constexpr int kPtrTable = 3 * 65536;

  // Uploaded parameters, keyed by (host pointer, stored in the compute dtype or float32):
  // matrices used in products are stored in the compute dtype; vectors and embedding tables
  // in float32 (a tied head is the embedding table: one copy of each kind). Weights stored in
  // another type (f16 / bf16 kept by the loader, GGUF blocks) are dequantized to float32 on the
  // host first (put), so the kernels see the same buffers either way.
  struct Uploaded {
    const void* host;  // Param::raw
    bool as_dtype;
    DevBuf buf;
  };
  std::vector<Uploaded> params_;
  const void* lookup(const Param& p, bool as_dtype) const;
  const float* f32(const Param& p) const { return static_cast<const float*>(lookup(p, false)); }
  const void* wt(const Param& p) const { return lookup(p, true); }

  void put(const Param& p, bool as_dtype);

  void upload(const ModelWeights& w);

  // ------------------------------------------------------------ building blocks

  bool norm_vec_ok() const { return cfg_.d_model % 4 == 0 && cfg_.d_model <= 4 * kNormVec * 256; }
  void norm_rows(const float* x, float* y, int64_t rows, const float* w, const float* b, bool rms);
  // Norm into the GEMM input type.
  void norm_to(const float* x, void* y, int64_t rows, const float* w, const float* b);
  void add_bias(float* y, const float* b, int64_t rows, int n);
  // float32 activations as a GEMM input: themselves for float32 dtypes, else converted into buf.
  const void* gemm_input(const float* x, int64_t n, DevBuf& buf);
  // Y_m[R, N] = X_m[R, K] . W_m[N, K]^T (+ beta * Y_m), for every member m; X in the compute
  // dtype, W in the weight dtype, Y float32. One cuBLAS call for all members.

  void gemm(int64_t R, int N, int K, const std::vector<const void*>& X, const std::vector<const void*>& W,
            const std::vector<float*>& Y, float beta);
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
               const std::vector<void*>& Y, cudaDataType_t ctype, float beta, int ldc = 0);
  // Copies a pointer array into the device pointer table (a ring; wrapping waits for the
  // stream so no queued batched call still reads the part being overwritten).

  void** upload_ptrs(const std::vector<const void*>& host);
  // Attention as matrix products (prefill): for every (sequence, head) S = scale * Q K^T with
  // cuBLAS (float32 data; exact float32 for dtype f32, TF32 tensor cores otherwise), a causal
  // softmax kernel in place, then O = P V into out (float32 [rows, q_dim]). Sequences are
  // processed in chunks so the score buffer stays under 1 GiB.
  // Shaped attention (alpha / beta / gamma per head, device) reshapes the softmax in place;
  // probs (host, optional) receives sequence 0's softmax [n_head, tokens, keys] for the inspector.

  void attention_gemm(const AttnArgs& a, int B, float* out, const float* alpha = nullptr, const float* beta = nullptr,
                      const float* gamma = nullptr, float* probs = nullptr);

  void ensure_rope(int positions);

  void device_logits(const CudaHidden& x, int64_t row_begin, int64_t count);
  // ------------------------------------------------------------ the layer operations
  // (backend/layer_ops.h). Buffers: X, Out and the residual arithmetic are float32; the inputs
  // of matrix products (AttnIn, MlpIn, Ctx, Up, Mlp) are in the compute dtype; Qkv is in the
  // compute dtype where the flash kernel runs, float32 otherwise.

  void begin(int members) override;

  int width(Buf b) const { return buf_width(cfg_, b); }
  bool is_f32(Buf b) const;
  // Member m's rows of a buffer (allocated on first use at this size).
  void* dptr(Ref r);

  void norm(Ref in, Ref out, const Param& w, const Param& b) override;
  // The input of a product in the compute dtype: float32 buffers are converted (each distinct
  // one once per call) into `staging`, slot k.

  const void* product_input(Ref in, int k_cols, std::vector<std::pair<const void*, const void*>>& converted);

  void linear(int n, int k, int col, const std::vector<LinearCall>& calls) override;

  void copy(Ref from, Ref to) override;
  void zero(Ref to) override { CK(cudaMemsetAsync(dptr(to), 0, x_->count() * sizeof(float), 0)); }
  void scale(Ref x, const Param& gain) override;

  void rope() override;

  void attend(const Application& app, const std::vector<const LayerWeights*>& layers) override;

  void activate() override;

  void mean_of_members() override;
  // Copies batch element 0's view of each member to the host for the inspector (only when set).

  void trace(const Application& app) override;

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
  bool unbatched_ = false;  // CudaOptions::batched_groups false: one GEMM call per member (benchmarks)
  int rope_positions_ = 0;
};

}  // namespace layerlab::cuda_impl
