#pragma once
// CudaTrainModel's state (include/layerlab/train_cuda.h): parameter offsets per layer,
// device parameters / gradients / AdamW moments (padded layout), and the activations of the last forward,
// carved out of one arena sized for the batch. forward.cu and backward.cu mirror
// Transformer<T>::forward / backward (src/train/model.cpp) step for step.
#include <string>
#include <vector>

#include "layerlab/train_cuda.h"
#include "train/cuda/ops.h"
#include "train/layer_index.h"

namespace layerlab::train {

struct CudaTrainModel::Impl {
  Impl(const ModelShape& s, const OptimConfig& o, int device, bool tf32);

  // Activations of one layer (nullptr where the block has none).
  struct LayerActs {
    float *x, *ln1, *ln1_mean, *ln1_rstd, *qkv, *v, *p, *y, *h, *ln2, *ln2_mean, *ln2_rstd, *u, *g, *m;
  };
  // Sizes every buffer for B x L (the arena grows, never shrinks) and carves it.
  void ensure_acts(int B, int L);
  // Positions grouped by token id (for the embedding gradient) and the ids, to the device.
  void upload_tokens(const int32_t* inputs, const int32_t* targets, int N);
  double forward(const int32_t* inputs, const int32_t* targets, int B, int L);
  void backward();
  double clip_and_step(double lr, double max_norm);
  // Flat host vector <-> padded device buffer (dev_off), tensor by tensor.
  void copy_in(cuda::DevBuf& dst, const std::vector<float>& src);
  void copy_out(std::vector<float>& dst, const cuda::DevBuf& src) const;
  float* P(int64_t off) { return off < 0 ? nullptr : params.as<float>() + off; }
  float* G(int64_t off) { return off < 0 ? nullptr : grads.as<float>() + off; }

  ModelShape shape;
  OptimConfig optim;
  std::vector<TensorSpec> layout;
  int64_t n_params = 0;  // in the flat host layout
  // On the device every tensor starts 256-byte aligned (cuBLAS's tensor-core kernels need
  // 16-byte aligned matrices; the 1-element gains would shift everything after them), except
  // those read together with the one before (q|k weights, alpha|beta|gamma): dev_off[k] is
  // layout[k]'s offset in the padded buffers of n_dev floats (padding stays zero).
  std::vector<int64_t> dev_off;
  int64_t n_dev = 0;
  int64_t wte = 0, wpe = 0, lnf_w = 0, lnf_b = 0;
  std::vector<LayerIdx> idx;
  cu::Ctx ctx;
  cuda::DevBuf params, grads, adam_m, adam_v, decay_mask, results;  // results: 2 doubles
  int64_t adam_t = 0;

  // The last forward.
  int B = 0, L = 0, n_tok = 0;
  bool have_forward = false;
  cuda::DevBuf tokens;  // inputs[N] | targets[N] | tok[U] | start[U+1] | pos[N]
  int32_t *d_in = nullptr, *d_tgt = nullptr, *d_tok = nullptr, *d_start = nullptr, *d_pos = nullptr;
  cuda::DevBuf arena;
  std::vector<LayerActs> acts;
  float *xL = nullptr, *lnf = nullptr, *lnf_mean = nullptr, *lnf_rstd = nullptr, *logits = nullptr,
        *row_loss = nullptr;
  float* branch = nullptr;  // forward scratch: the attention sub-block's output
  cu::AttnScratch attn{};
  // backward scratch
  float *dx = nullptr, *dh = nullptr, *dxa = nullptr, *dxm = nullptr, *dy = nullptr, *dm = nullptr, *dv = nullptr,
        *dqkv = nullptr, *dg = nullptr;
};

}  // namespace layerlab::train
