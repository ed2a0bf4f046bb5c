// The CUDA backend: the Backend methods, weight upload and the device read-out (the class:
// cuda_backend_impl.cuh).
#include "backend/cuda/cuda_backend_impl.cuh"

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "backend/readout.h"
#include "layerlab/plan.h"

namespace layerlab::cuda_impl {

CudaBackend::CudaBackend(const Model& model, CudaDType dtype, int device) : cfg_(model.config()), dt_(dtype) {
  int n = 0;
  CK(cudaGetDeviceCount(&n));
  if (device < 0 || device >= n) fail_option("device", "GPU " + std::to_string(device) + " not present (" + std::to_string(n) + " visible)");
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

CudaBackend::~CudaBackend() {
  cudaDeviceSynchronize();
  if (blas_) cublasDestroy(blas_);
}


std::unique_ptr<Hidden> CudaBackend::embed(const std::vector<int32_t>& ids, int batch, int tokens, int pos0) {
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


void CudaBackend::run_step(const PlanStep& step, int step_index, Hidden& xh, KvCache* kvc) {
  x_ = &as_cuda(xh);
  kv_ = static_cast<CudaKvCache*>(kvc);
  run_plan_step(*this, cfg_, w_, step, step_index, kv_ ? kv_->slot_offset[step_index] : -1);
}


std::unique_ptr<Hidden> CudaBackend::from_host(const float* rows, int batch, int tokens, int width) {
  auto h = std::make_unique<CudaHidden>();
  h->batch = batch, h->tokens = tokens, h->width = width;
  h->buf = DevBuf(h->count() * sizeof(float), "hidden states (from the host)");
  if (h->count()) CK(cudaMemcpy(h->data(), rows, h->count() * sizeof(float), cudaMemcpyHostToDevice));
  return h;
}

std::unique_ptr<Hidden> CudaBackend::final_norm(const Hidden& xh) {
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


void CudaBackend::logits(const Hidden& normed, int64_t row_begin, int64_t count, float* out) {
  if (count <= 0) return;
  const CudaHidden& x = as_cuda(normed);
  if (row_begin < 0 || row_begin + count > x.rows()) fail("cuda backend", "logits: rows out of range");
  device_logits(x, row_begin, count);
  CK(cudaMemcpy(out, logits_.get(), size_t(count) * cfg_.vocab * sizeof(float), cudaMemcpyDeviceToHost));
}

// Logits stay on the device: chunks of consecutive rows (<= 256 MiB of logits), one block
// per requested (row, target) in the chunk; only the scores come back.

std::vector<TargetScore> CudaBackend::target_scores(const Hidden& normed, const std::vector<int64_t>& rows,
                                       const std::vector<int32_t>& targets) {
  const CudaHidden& x = as_cuda(normed);
  const std::vector<size_t> order = target_order(x, rows, targets, cfg_.vocab, "cuda backend: target_scores");
  std::vector<TargetScore> out(rows.size());
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


std::unique_ptr<KvCache> CudaBackend::make_cache(const Plan& plan, int batch, int capacity) {
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

const void* CudaBackend::lookup(const Param& p, bool as_dtype) const {
  if (!p) return nullptr;
  for (const auto& u : params_)
    if (u.host == p.raw && u.as_dtype == as_dtype) return u.buf.get();
  fail("cuda backend", "internal: parameter not uploaded");
}


void CudaBackend::put(const Param& p, bool as_dtype) {
  if (!p) return;
  for (const auto& u : params_)
    if (u.host == p.raw && u.as_dtype == as_dtype) return;
  const size_t n = size_t(p.rows) * p.cols;
  const size_t es = as_dtype ? elem_size(dt_) : 4;
  DevBuf buf(n * es, as_dtype ? "model weights" : "model weights (float32 vectors and embeddings)");
  // A slice of rows at a time (about 16M values): non-float32 weights are dequantized into a
  // host buffer of that size; a compute dtype other than float32 converts on the device.
  const size_t cols = size_t(p.cols), chunk_rows = std::max<size_t>(1, (size_t(16) << 20) / std::max<size_t>(1, cols));
  std::vector<float> host;
  for (size_t r0 = 0; r0 < size_t(p.rows); r0 += chunk_rows) {
    const size_t rows = std::min(chunk_rows, size_t(p.rows) - r0), i = r0 * cols, c = rows * cols;
    const float* src = p.data ? p.data + i : nullptr;
    if (!p.is_f32()) {
      host.resize(c);
      dequantize_rows(p, int64_t(r0), int64_t(rows), host.data());
      src = host.data();
    }
    if (es == 4) {
      CK(cudaMemcpy(buf.as<float>() + i, src, c * 4, cudaMemcpyHostToDevice));
      continue;
    }
    staging_.ensure(c * 4, "weight upload staging");
    CK(cudaMemcpy(staging_.get(), src, c * 4, cudaMemcpyHostToDevice));
    dispatch(dt_, [&](auto tag) {
      using T = decltype(tag);
      convert_kernel<T><<<blocks_for(c, 256), 256>>>(staging_.as<float>(), buf.as<T>() + i, int64_t(c));
    });
    CK_LAUNCH("convert_kernel (weights)");
  }
  params_.push_back({p.raw, as_dtype, std::move(buf)});
}


void CudaBackend::upload(const ModelWeights& w) {
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

}  // namespace layerlab::cuda_impl

namespace layerlab {

bool cuda_built() { return true; }

bool cuda_available() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  return n > 0;
}

std::unique_ptr<Backend> make_cuda_backend(const Model& model, CudaDType dtype, int device, const CudaOptions& options) {
  auto b = std::make_unique<cuda_impl::CudaBackend>(model, dtype, device);
  b->unbatched_ = !options.batched_groups;
  return b;
}

void cuda_synchronize() { CUDA_CK(cudaDeviceSynchronize()); }

}  // namespace layerlab
