// The CUDA backend's layer operations (backend/layer_ops.h), which backend/layer.cpp runs.
#include "backend/cuda/cuda_backend_impl.cuh"

#include <algorithm>
#include <cmath>

#include "backend/cuda/flash_attention.h"

namespace layerlab::cuda_impl {

// ------------------------------------------------------------ the layer operations
// (backend/layer_ops.h). Buffers: X, Out and the residual arithmetic are float32; the inputs
// of matrix products (AttnIn, MlpIn, Ctx, Up, Mlp) are in the compute dtype; Qkv is in the
// compute dtype where the flash kernel runs, float32 otherwise.


void CudaBackend::begin(int members) {
  M_ = members;
  const CudaHidden& x = *x_;
  const int hd = cfg_.head_dim, qd = cfg_.q_dim(), qkvd = cfg_.qkv_dim();
  // Flash attention only for the standard block without an inspector (it keeps no scores).
  flash_ = elem_size(dt_) == 2 && !force_gemm_attention_ && cuda_detail::flash_supported(hd) &&
           (!kv_ || x.pos0 == 0) && qkvd % 8 == 0 && qd % 8 == 0 && cfg_.standard_block() && !inspector_;
  if (M_ > 1) outs_.ensure(x.count() * M_ * sizeof(float), "parallel group outputs");
}


bool CudaBackend::is_f32(Buf b) const {
  if (b == Buf::X || b == Buf::Out) return true;
  if (b == Buf::Qkv) return !flash_;
  return elem_size(dt_) == 4;
}

// Member m's rows of a buffer (allocated on first use at this size).
void* CudaBackend::dptr(Ref r) {
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


void CudaBackend::norm(Ref in, Ref out, const Param& w, const Param& b) {
  const int64_t R = x_->rows();
  const float* src = static_cast<const float*>(dptr(in));  // norms read the float32 residual
  if (is_f32(out.buf))
    norm_rows(src, static_cast<float*>(dptr(out)), R, f32(w), f32(b), cfg_.norm == NormKind::RMSNorm);
  else
    norm_to(src, dptr(out), R, f32(w), f32(b));
}

// The input of a product in the compute dtype: float32 buffers are converted (each distinct
// one once per call) into `staging`, slot k.

const void* CudaBackend::product_input(Ref in, int k_cols, std::vector<std::pair<const void*, const void*>>& converted) {
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


void CudaBackend::linear(int n, int k, int col, const std::vector<LinearCall>& calls) {
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


void CudaBackend::copy(Ref from, Ref to) {
  const void* a = dptr(from);
  void* b = dptr(to);
  if (a != b) CK(cudaMemcpyAsync(b, a, x_->count() * sizeof(float), cudaMemcpyDeviceToDevice, 0));
}

void CudaBackend::scale(Ref x, const Param& gain) {
  const int64_t n = int64_t(x_->count());
  scale_kernel<<<blocks_for(n, 256), 256>>>(static_cast<float*>(dptr(x)), n, gain.data[0]);
  CK_LAUNCH("scale_kernel");
}


void CudaBackend::rope() {
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


void CudaBackend::attend(const Application& app, const std::vector<const LayerWeights*>& layers) {
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


void CudaBackend::activate() {
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


void CudaBackend::mean_of_members() {
  const size_t n = x_->count();
  mean_kernel<<<blocks_for(n, 256), 256>>>(x_->data(), outs_.as<float>(), int64_t(n), M_);
  CK_LAUNCH("mean_kernel");
}

// Copies batch element 0's view of each member to the host for the inspector (only when set).

void CudaBackend::trace(const Application& app) {
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

}  // namespace layerlab::cuda_impl
