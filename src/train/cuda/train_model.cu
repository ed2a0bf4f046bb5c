// CudaTrainModel: construction, the activation arena, host <-> device state (parameters,
// moments, gradients), and the gradient-norm + AdamW step.
#include <algorithm>
#include <cmath>

#include "train/cuda/train_model.h"

namespace layerlab::train {

CudaTrainModel::Impl::Impl(const ModelShape& s, const OptimConfig& o, int device, bool tf32)
    : shape(s), optim(o), layout(parameter_layout(s)), ctx(device, tf32) {
  shape.validate("model");
  n_params = parameter_count(layout);
  auto ends_with = [](const std::string& s, const std::string& e) {
    return s.size() >= e.size() && s.compare(s.size() - e.size(), e.size(), e) == 0;
  };
  for (const auto& t : layout) {
    // Keys continue the query matrix ([2C, C] together), beta and gamma continue alpha.
    const bool continues = ends_with(t.name, "attn.k.weight") || ends_with(t.name, "attn.beta") ||
                           ends_with(t.name, "attn.gamma");
    if (!continues) n_dev = (n_dev + 63) / 64 * 64;
    dev_off.push_back(n_dev);
    n_dev += t.numel;
  }
  n_dev = (n_dev + 63) / 64 * 64;
  auto off = [&](const std::string& name) -> int64_t {
    for (size_t k = 0; k < layout.size(); ++k)
      if (layout[k].name == name) return dev_off[k];
    return -1;
  };
  wte = off("wte");
  wpe = off("wpe");
  lnf_w = off("ln_f.weight");
  lnf_b = off("ln_f.bias");
  for (int l = 0; l < shape.n_layer; ++l) idx.push_back(layer_index(l, off));
  const size_t bytes = size_t(n_dev) * sizeof(float);
  params = cuda::DevBuf(bytes, "parameters");
  grads = cuda::DevBuf(bytes, "gradients");
  adam_m = cuda::DevBuf(bytes, "AdamW first moments");
  adam_v = cuda::DevBuf(bytes, "AdamW second moments");
  decay_mask = cuda::DevBuf(size_t(n_dev), "weight-decay mask");
  results = cuda::DevBuf(2 * sizeof(double), "loss and norm results");
  std::vector<uint8_t> mask(n_dev, 0);
  for (size_t k = 0; k < layout.size(); ++k)
    if (decays(optim, layout[k]))
      std::fill(mask.begin() + dev_off[k], mask.begin() + dev_off[k] + layout[k].numel, uint8_t(1));
  // Everything on the model's stream (a non-blocking stream does not wait for the legacy one).
  CUDA_CK(cudaMemcpyAsync(decay_mask.get(), mask.data(), mask.size(), cudaMemcpyHostToDevice, ctx.stream));
  for (cuda::DevBuf* b : {&params, &grads, &adam_m, &adam_v}) CUDA_CK(cudaMemsetAsync(b->get(), 0, bytes, ctx.stream));
  ctx.sync();
}

void CudaTrainModel::Impl::ensure_acts(int b, int len) {
  const ModelShape& s = shape;
  const int64_t N = int64_t(b) * len, C = s.d_model, F = s.ff(), V = s.vocab, H = s.n_head;
  const int64_t NC = N * C, att = int64_t(b) * H * len * len;
  // The elementwise and copy kernels index one activation with 32 bits.
  if (N * std::max(3 * C, F) >= (int64_t(1) << 31) || att >= (int64_t(1) << 31))
    fail("train", "batch " + std::to_string(b) + " x length " + std::to_string(len) +
                      " is too large for one step on the device (an activation over 2^31 elements)");
  // Two passes: count (base null), then carve the arena. Every buffer starts 256-byte aligned.
  auto carve = [&](float* base) -> size_t {
    size_t used = 0;
    auto take = [&](int64_t n, bool present = true) -> float* {
      if (!present) return nullptr;
      float* p = base ? base + used : nullptr;
      used += (size_t(n) + 63) / 64 * 64;
      return p;
    };
    acts.assign(s.n_layer, LayerActs{});
    std::vector<float*> xs(s.n_layer + 1);
    for (auto& x : xs) x = take(NC);
    for (int l = 0; l < s.n_layer; ++l) {
      const LayerIdx& I = idx[l];
      LayerActs& a = acts[l];
      a.x = xs[l];
      a.ln1 = take(NC, I.ln1_w >= 0);
      a.ln1_mean = take(N, I.ln1_w >= 0);
      a.ln1_rstd = take(N, I.ln1_w >= 0);
      a.qkv = take((s.shaped() ? 2 : 3) * NC);
      a.v = take(NC, I.v_resid >= 0);
      a.p = take(att);
      a.y = take(NC);
      a.h = take(NC, !s.parallel());
      a.ln2 = take(NC, I.ln2_w >= 0);
      a.ln2_mean = take(N, I.ln2_w >= 0);
      a.ln2_rstd = take(N, I.ln2_w >= 0);
      a.u = take(N * F);
      a.g = take(N * F);
      a.m = take(NC);
    }
    xL = xs[s.n_layer];
    lnf = take(NC);
    lnf_mean = take(N);
    lnf_rstd = take(N);
    logits = take(N * V);
    row_loss = take(N);
    branch = take(NC);
    attn = {take(NC), take(NC), take(NC), take(NC), take(NC), take(att)};
    dx = take(NC), dh = take(NC), dxa = take(NC), dxm = take(NC), dy = take(NC), dm = take(NC), dv = take(NC);
    dqkv = take(3 * NC);
    dg = take(N * F);
    return used * sizeof(float);
  };
  const size_t bytes = carve(nullptr);
  if (bytes > arena.bytes()) {
    ctx.sync();
    arena = cuda::DevBuf();  // free the old arena before asking for the larger one
    arena = cuda::DevBuf(bytes, ("activations for batch " + std::to_string(b) + " x length " + std::to_string(len)).c_str());
  }
  carve(arena.as<float>());
}

void CudaTrainModel::Impl::upload_tokens(const int32_t* inputs, const int32_t* targets, int N) {
  // Positions sorted by (token, position): each token's rows are summed in position order.
  std::vector<std::pair<int32_t, int32_t>> order(N);
  for (int n = 0; n < N; ++n) order[n] = {inputs[n], n};
  std::sort(order.begin(), order.end());
  std::vector<int32_t> tok, start;
  for (int k = 0; k < N; ++k)
    if (k == 0 || order[k].first != order[k - 1].first) {
      tok.push_back(order[k].first);
      start.push_back(k);
    }
  start.push_back(N);
  const int u = n_tok = int(tok.size());
  // One copy: in[N] | tgt[N] | tok[U] | start[U+1] | pos[N].
  std::vector<int32_t> host;
  host.reserve(size_t(3) * N + 2 * u + 1);
  host.insert(host.end(), inputs, inputs + N);
  host.insert(host.end(), targets, targets + N);
  host.insert(host.end(), tok.begin(), tok.end());
  host.insert(host.end(), start.begin(), start.end());
  for (const auto& o : order) host.push_back(o.second);
  tokens.ensure(host.size() * sizeof(int32_t), "token ids");
  d_in = tokens.as<int32_t>();
  d_tgt = d_in + N;
  d_tok = d_tgt + N;
  d_start = d_tok + u;
  d_pos = d_start + u + 1;
  CUDA_CK(cudaMemcpyAsync(d_in, host.data(), host.size() * sizeof(int32_t), cudaMemcpyHostToDevice, ctx.stream));
  ctx.sync();  // the host vector dies here
}

double CudaTrainModel::Impl::clip_and_step(double lr, double max_norm) {
  double* d_sq = results.as<double>() + 1;
  cu::sum_squares(ctx, d_sq, grads.as<float>(), n_dev);
  double sq = 0;
  CUDA_CK(cudaMemcpyAsync(&sq, d_sq, sizeof(double), cudaMemcpyDeviceToHost, ctx.stream));
  ctx.sync();
  const double norm = std::sqrt(sq);
  cu::AdamArgs a;
  static_cast<AdamScalars&>(a) = adam_scalars(optim, ++adam_t, lr);  // as AdamW::step
  a.clip_coef = clip_coefficient(norm, max_norm);                      // as clip_grad_norm
  cu::adamw_step(ctx, params.as<float>(), grads.as<float>(), adam_m.as<float>(), adam_v.as<float>(),
                 decay_mask.as<uint8_t>(), n_dev, a);
  return norm;
}

void CudaTrainModel::Impl::copy_in(cuda::DevBuf& dst, const std::vector<float>& src) {
  for (size_t k = 0; k < layout.size(); ++k)
    CUDA_CK(cudaMemcpyAsync(dst.as<float>() + dev_off[k], src.data() + layout[k].offset,
                            size_t(layout[k].numel) * sizeof(float), cudaMemcpyHostToDevice, ctx.stream));
  ctx.sync();
}

void CudaTrainModel::Impl::copy_out(std::vector<float>& dst, const cuda::DevBuf& src) const {
  dst.resize(n_params);
  for (size_t k = 0; k < layout.size(); ++k)
    CUDA_CK(cudaMemcpyAsync(dst.data() + layout[k].offset, src.as<float>() + dev_off[k],
                            size_t(layout[k].numel) * sizeof(float), cudaMemcpyDeviceToHost, ctx.stream));
  ctx.sync();
}

// ---- the public class ----------------------------------------------------------------------

namespace {

void check_size(const std::vector<float>& v, int64_t n, const char* what) {
  if (int64_t(v.size()) != n)
    fail("cuda train", std::string(what) + " has " + std::to_string(v.size()) + " values, the model " +
                           std::to_string(n));
}

}  // namespace

CudaTrainModel::CudaTrainModel(const ModelShape& shape, const OptimConfig& optim, int device, bool tf32)
    : impl_(std::make_unique<Impl>(shape, optim, device, tf32)) {}

CudaTrainModel::~CudaTrainModel() = default;

const ModelShape& CudaTrainModel::shape() const { return impl_->shape; }
int64_t CudaTrainModel::size() const { return impl_->n_params; }

void CudaTrainModel::upload(const std::vector<float>& p) {
  check_size(p, impl_->n_params, "parameters");
  CUDA_CK(cudaSetDevice(impl_->ctx.device));
  impl_->copy_in(impl_->params, p);
}

void CudaTrainModel::download(std::vector<float>& p) const {
  CUDA_CK(cudaSetDevice(impl_->ctx.device));
  impl_->copy_out(p, impl_->params);
}

void CudaTrainModel::upload_moments(const std::vector<float>& m, const std::vector<float>& v) {
  check_size(m, impl_->n_params, "AdamW m");
  check_size(v, impl_->n_params, "AdamW v");
  CUDA_CK(cudaSetDevice(impl_->ctx.device));
  impl_->copy_in(impl_->adam_m, m);
  impl_->copy_in(impl_->adam_v, v);
}

void CudaTrainModel::download_moments(std::vector<float>& m, std::vector<float>& v) const {
  CUDA_CK(cudaSetDevice(impl_->ctx.device));
  impl_->copy_out(m, impl_->adam_m);
  impl_->copy_out(v, impl_->adam_v);
}

std::vector<float> CudaTrainModel::download_grads() const {
  CUDA_CK(cudaSetDevice(impl_->ctx.device));
  std::vector<float> g;
  impl_->copy_out(g, impl_->grads);
  return g;
}

double CudaTrainModel::forward(const int32_t* inputs, const int32_t* targets, int batch, int len) {
  CUDA_CK(cudaSetDevice(impl_->ctx.device));
  return impl_->forward(inputs, targets, batch, len);
}

void CudaTrainModel::backward() {
  CUDA_CK(cudaSetDevice(impl_->ctx.device));
  impl_->backward();
}

double CudaTrainModel::clip_and_step(double lr, double max_norm) {
  CUDA_CK(cudaSetDevice(impl_->ctx.device));
  return impl_->clip_and_step(lr, max_norm);
}

int64_t CudaTrainModel::adam_steps() const { return impl_->adam_t; }
void CudaTrainModel::set_adam_steps(int64_t t) { impl_->adam_t = t; }

}  // namespace layerlab::train
