// The forward pass on the device, step for step as Transformer<T>::forward (src/train/model.cpp):
// embeddings, the four block wirings, final norm, tied head, cross-entropy. Activations stay
// in the arena for backward(); one host sync at the end, for the loss.
#include "train/cuda/train_model.h"

namespace layerlab::train {

double CudaTrainModel::Impl::forward(const int32_t* inputs, const int32_t* targets, int b, int len) {
  const ModelShape& s = shape;
  if (b <= 0 || len <= 0 || len > s.context)
    fail("train", "batch " + std::to_string(b) + " x length " + std::to_string(len) + " does not fit context " +
                      std::to_string(s.context));
  const int C = s.d_model, F = s.ff(), H = s.n_head, hd = s.head_dim(), V = s.vocab;
  const int N = b * len;
  const int64_t NC = int64_t(N) * C;
  for (int i = 0; i < N; ++i)
    if (inputs[i] < 0 || inputs[i] >= V || targets[i] < 0 || targets[i] >= V)
      fail("train", "token id out of range [0, " + std::to_string(V) + ") at position " + std::to_string(i));
  have_forward = false;
  ensure_acts(b, len);
  upload_tokens(inputs, targets, N);
  B = b;
  L = len;
  cu::Ctx& c = ctx;

  cu::embedding_forward(c, acts[0].x, d_in, P(wte), P(wpe), N, L, C);
  for (int l = 0; l < s.n_layer; ++l) {
    LayerActs& a = acts[l];
    const LayerIdx& I = idx[l];
    float* out = l + 1 < s.n_layer ? acts[l + 1].x : xL;
    // Attention input.
    const float* xa = a.x;
    if (I.ln1_w >= 0) {
      cu::layernorm_forward(c, a.ln1, a.ln1_mean, a.ln1_rstd, a.x, P(I.ln1_w), P(I.ln1_b), N, C, s.norm_eps);
      xa = a.ln1;
    }
    if (!s.shaped()) {
      cu::linear_forward(c, a.qkv, xa, P(I.attn_w), P(I.attn_b), N, C, 3 * C);
      const cu::AttnIn in{a.qkv, a.qkv + C, a.qkv + 2 * C, 3 * C, 3 * C, 3 * C};
      cu::attention_forward(c, a.y, a.p, in, attn, B, L, H, hd);
      cu::linear_forward(c, branch, a.y, P(I.proj_w), P(I.proj_b), N, C, C);
    } else {
      cu::linear_forward(c, a.qkv, xa, P(I.qk_w), P(I.qk_b), N, C, 2 * C);
      const float* v = xa;
      if (I.v_resid >= 0) {  // layer 0's value I + W_V
        cu::linear_forward(c, a.v, xa, P(I.v_resid), nullptr, N, C, C);
        cu::combine(c, a.v, a.v, nullptr, xa, nullptr, nullptr, nullptr, NC);
        v = a.v;
      }
      const cu::AttnIn in{a.qkv, a.qkv + C, v, 2 * C, 2 * C, C, P(I.coef)};
      cu::attention_forward(c, a.y, a.p, in, attn, B, L, H, hd);
      // The branch g_a * y is folded into the block output below.
    }
    // MLP input.
    const float* xm = xa;
    if (!s.parallel()) {
      if (s.block == BlockKind::PreLN)
        cu::combine(c, a.h, a.x, nullptr, branch, nullptr, nullptr, nullptr, NC);
      else
        cu::combine(c, a.h, a.y, P(I.attn_gain), nullptr, nullptr, nullptr, nullptr, NC);
      xm = a.h;
      if (I.ln2_w >= 0) {
        cu::layernorm_forward(c, a.ln2, a.ln2_mean, a.ln2_rstd, a.h, P(I.ln2_w), P(I.ln2_b), N, C, s.norm_eps);
        xm = a.ln2;
      }
    }
    cu::linear_forward(c, a.u, xm, P(I.fc_w), nullptr, N, C, F);
    cu::bias_gelu_forward(c, a.u, a.g, P(I.fc_b), N, F);
    cu::linear_forward(c, a.m, a.g, P(I.fc2_w), P(I.fc2_b), N, F, C);
    // Block output.
    switch (s.block) {
      case BlockKind::PreLN: cu::combine(c, out, a.h, nullptr, a.m, nullptr, nullptr, nullptr, NC); break;
      case BlockKind::Parallel: cu::combine(c, out, a.x, nullptr, branch, nullptr, a.m, nullptr, NC); break;
      case BlockKind::SAS: cu::combine(c, out, a.h, P(I.mlp_skip), a.m, P(I.mlp_gain), nullptr, nullptr, NC); break;
      case BlockKind::SASP: cu::combine(c, out, a.y, P(I.attn_gain), a.m, P(I.mlp_gain), nullptr, nullptr, NC); break;
    }
  }
  cu::layernorm_forward(c, lnf, lnf_mean, lnf_rstd, xL, P(lnf_w), P(lnf_b), N, C, s.norm_eps);
  cu::linear_forward(c, logits, lnf, P(wte), nullptr, N, C, V);  // tied head
  cu::cross_entropy(c, row_loss, logits, d_tgt, N, V);
  double* d_loss = results.as<double>();
  cu::sum(c, d_loss, row_loss, N);
  double loss = 0;
  CUDA_CK(cudaMemcpyAsync(&loss, d_loss, sizeof(double), cudaMemcpyDeviceToHost, c.stream));
  c.sync();
  have_forward = true;
  return loss / N;
}

}  // namespace layerlab::train
