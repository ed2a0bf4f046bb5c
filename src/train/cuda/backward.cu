// The backward pass on the device, step for step as Transformer<T>::backward
// (src/train/model.cpp). Gradients are written, not accumulated: the buffer is cleared first
// (rows of tokens / positions absent from the batch stay zero), every other tensor's gradient
// is written once. `dx` carries the gradient of the residual stream down the layers.
#include "train/cuda/train_model.h"

namespace layerlab::train {

void CudaTrainModel::Impl::backward() {
  if (!have_forward) fail("train", "backward() without a forward()");
  const ModelShape& s = shape;
  const int N = B * L, C = s.d_model, F = s.ff(), H = s.n_head, hd = s.head_dim(), V = s.vocab;
  const int64_t NC = int64_t(N) * C;
  cu::Ctx& c = ctx;
  CUDA_CK(cudaMemsetAsync(grads.get(), 0, size_t(n_dev) * sizeof(float), c.stream));

  // The logits already hold d loss / d logits (cross_entropy). Tied head, then the final norm.
  float* dlnf = dxa;
  cu::linear_backward(c, dlnf, false, G(wte), nullptr, logits, lnf, P(wte), N, C, V);
  cu::layernorm_backward(c, dx, false, G(lnf_w), G(lnf_b), dlnf, xL, lnf_mean, lnf_rstd, P(lnf_w), N, C);
  have_forward = false;  // the logits were consumed

  for (int l = s.n_layer - 1; l >= 0; --l) {
    LayerActs& a = acts[l];
    const LayerIdx& I = idx[l];
    const float* xa = I.ln1_w >= 0 ? a.ln1 : a.x;
    const float* xm = s.parallel() ? xa : (I.ln2_w >= 0 ? a.ln2 : a.h);
    // Gradient reaching the MLP output; gains of the skipless blocks.
    const float* dmo = dx;
    if (s.block == BlockKind::SAS) cu::dot(c, G(I.mlp_skip), dx, a.h, NC);
    if (s.shaped()) {
      cu::dot(c, G(I.mlp_gain), dx, a.m, NC);
      cu::combine(c, dm, dx, P(I.mlp_gain), nullptr, nullptr, nullptr, nullptr, NC);
      dmo = dm;
    }
    // MLP: m = W2 gelu(W1 xm + b1) + b2.
    cu::linear_backward(c, dg, false, G(I.fc2_w), G(I.fc2_b), dmo, a.g, P(I.fc2_w), N, F, C);
    cu::gelu_backward(c, dg, a.u, int64_t(N) * F);
    cu::linear_backward(c, dxm, false, G(I.fc_w), G(I.fc_b), dg, xm, P(I.fc_w), N, C, F);

    // dbranch: gradient of the attention sub-block's output (before its gain). dxa_p: where the
    // gradient w.r.t. the attention input collects (parallel: on top of the MLP's, in dxm).
    const float* dbranch = dx;
    float* dxa_p = dxa;
    bool dxa_acc = false;
    if (s.block == BlockKind::PreLN) {
      // dh = dx + LN2'(dxm), kept in dx: it is also this layer's skip gradient.
      cu::layernorm_backward(c, dx, true, G(I.ln2_w), G(I.ln2_b), dxm, a.h, a.ln2_mean, a.ln2_rstd, P(I.ln2_w), N, C);
    } else if (s.block == BlockKind::SAS) {
      cu::combine(c, dh, dx, P(I.mlp_skip), nullptr, nullptr, nullptr, nullptr, NC);
      if (I.ln2_w >= 0)
        cu::layernorm_backward(c, dh, true, G(I.ln2_w), G(I.ln2_b), dxm, a.h, a.ln2_mean, a.ln2_rstd, P(I.ln2_w), N,
                               C);
      else
        cu::combine(c, dh, dh, nullptr, dxm, nullptr, nullptr, nullptr, NC);
      dbranch = dh;
    } else {  // parallel blocks: the attention and the MLP read the same input
      dxa_p = dxm;
      dxa_acc = true;
    }
    if (!s.shaped()) {
      cu::linear_backward(c, dy, false, G(I.proj_w), G(I.proj_b), dbranch, a.y, P(I.proj_w), N, C, C);
      const cu::AttnIn in{a.qkv, a.qkv + C, a.qkv + 2 * C, 3 * C, 3 * C, 3 * C};
      cu::attention_backward(c, dqkv, dqkv + C, dqkv + 2 * C, 3 * C, 3 * C, 3 * C, nullptr, dy, a.p, in, attn,
                             B, L, H, hd);
      cu::linear_backward(c, dxa_p, dxa_acc, G(I.attn_w), G(I.attn_b), dqkv, xa, P(I.attn_w), N, C, 3 * C);
    } else {
      cu::dot(c, G(I.attn_gain), dbranch, a.y, NC);
      cu::combine(c, dy, dbranch, P(I.attn_gain), nullptr, nullptr, nullptr, nullptr, NC);
      const float* v = I.v_resid >= 0 ? a.v : xa;
      const cu::AttnIn in{a.qkv, a.qkv + C, v, 2 * C, 2 * C, C, P(I.coef)};
      cu::attention_backward(c, dqkv, dqkv + C, dv, 2 * C, 2 * C, C, G(I.coef), dy, a.p, in, attn, B, L, H, hd);
      cu::linear_backward(c, dxa_p, dxa_acc, G(I.qk_w), G(I.qk_b), dqkv, xa, P(I.qk_w), N, C, 2 * C);
      cu::combine(c, dxa_p, dxa_p, nullptr, dv, nullptr, nullptr, nullptr, NC);  // identity value path
      if (I.v_resid >= 0)
        cu::linear_backward(c, dxa_p, true, G(I.v_resid), nullptr, dv, xa, P(I.v_resid), N, C, C);
    }
    // The gradient w.r.t. this layer's input: skip paths (preln: dh, parallel: dx, both already
    // in dx; skipless: none) plus the attention input's, through the first norm.
    const bool skip = !s.shaped();
    if (I.ln1_w >= 0)
      cu::layernorm_backward(c, dx, skip, G(I.ln1_w), G(I.ln1_b), dxa_p, a.x, a.ln1_mean, a.ln1_rstd, P(I.ln1_w), N, C);
    else
      CUDA_CK(cudaMemcpyAsync(dx, dxa_p, size_t(NC) * sizeof(float), cudaMemcpyDeviceToDevice, c.stream));
  }
  cu::embedding_backward(c, G(wte), G(wpe), dx, d_tok, d_start, d_pos, n_tok, B, L, C);
}

}  // namespace layerlab::train
