// The CPU backend: hidden states in host memory, embeddings, the final norm, logits and KV
// caches. The layer itself is backend/layer.cpp over the CPU's LayerOps (cpu_layer_ops.cpp).
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "backend/cpu/cpu_layer_ops.h"
#include "gemm.h"
#include "kernels.h"
#include "layerlab/backend.h"

namespace layerlab {

namespace {

class CpuHidden : public Hidden {
 public:
  std::vector<float> data;
  std::vector<float> to_host() const override { return data; }
  std::unique_ptr<Hidden> clone() const override { return std::make_unique<CpuHidden>(*this); }
};

CpuHidden& as_cpu(Hidden& h) { return static_cast<CpuHidden&>(h); }
const CpuHidden& as_cpu(const Hidden& h) { return static_cast<const CpuHidden&>(h); }

class CpuBackend : public Backend {
 public:
  explicit CpuBackend(const Model& model) : model_(model), cfg_(model.config()), w_(model.weights()) {}

  std::string name() const override { return "cpu"; }
  const ModelConfig& config() const override { return cfg_; }
  bool supports_inspection() const override { return true; }
  void set_inspector(Inspector* inspector) override { ops_.set_inspector(inspector); }

  // row += row r of an embedding table, whatever its stored type.
  void add_row(const Param& table, int64_t r, float* row) {
    const int d = cfg_.d_model;
    if (table.is_f32()) return cpu::add_inplace(row, table.data + r * d, d);
    emb_row_.resize(d);
    dequantize_rows(table, r, 1, emb_row_.data());
    cpu::add_inplace(row, emb_row_.data(), d);
  }

  std::unique_ptr<Hidden> embed(const std::vector<int32_t>& ids, int batch, int tokens, int pos0) override {
    return embed_rows(ids, nullptr, batch, tokens, pos0);
  }
  std::unique_ptr<Hidden> embed_typed(const std::vector<int32_t>& ids, const std::vector<int32_t>& types, int batch,
                                      int tokens, int pos0) override {
    if (!w_.type_emb) return Backend::embed_typed(ids, types, batch, tokens, pos0);  // no types: only 0 is allowed
    return embed_rows(ids, types.data(), batch, tokens, pos0);
  }

  void run_step(const PlanStep& step, int step_index, Hidden& xh, KvCache* kvc) override {
    CpuHidden& x = as_cpu(xh);
    auto* kv = static_cast<cpu::CpuKvCache*>(kvc);
    ops_.set_input(x.data.data(), x.batch, x.tokens, x.pos0, kv);
    run_plan_step(ops_, cfg_, w_, step, step_index, kv ? kv->slot_offset[step_index] : -1);
  }

  std::unique_ptr<Hidden> final_norm(const Hidden& xh) override {
    const CpuHidden& x = as_cpu(xh);
    auto y = std::make_unique<CpuHidden>(x);
    const int d = cfg_.d_model;
    if (cfg_.has_mlm_head) {
      cpu::gemm_nt(x.rows(), d, d, cpu::weight_product(x.data.data(), w_.mlm_dense_w, w_.mlm_dense_b.data, y->data.data()));
      ops_.activate_rows(y->data.data(), y->data.size());
      cpu::layer_norm(y->data.data(), y->data.data(), y->rows(), d, w_.final_w.data, w_.final_b.data, cfg_.norm_eps);
    } else {
      ops_.norm_rows(x.data.data(), y->data.data(), x.rows(), w_.final_w, w_.final_b);
    }
    return y;
  }

  std::unique_ptr<Hidden> from_host(const float* rows, int batch, int tokens, int width) override {
    auto h = std::make_unique<CpuHidden>();
    h->batch = batch, h->tokens = tokens, h->width = width;
    h->data.assign(rows, rows + size_t(batch) * tokens * width);
    return h;
  }

  void logits(const Hidden& normed, int64_t row_begin, int64_t count, float* out) override {
    const CpuHidden& x = as_cpu(normed);
    cpu::gemm_nt(count, cfg_.vocab, cfg_.d_model,
                 cpu::weight_product(x.data.data() + row_begin * cfg_.d_model, w_.head_w, w_.head_b.data, out));
  }

  std::unique_ptr<KvCache> make_cache(const Plan& plan, int batch, int capacity) override {
    auto c = std::make_unique<cpu::CpuKvCache>();
    c->capacity = capacity;
    int slots = 0;
    for (const auto& s : plan.steps) {
      c->slot_offset.push_back(slots);
      slots += static_cast<int>(s.layers.size()) * s.iterations;
    }
    const size_t per = size_t(batch) * capacity * cfg_.kv_dim();
    c->k.assign(slots, std::vector<float>(per));
    c->v.assign(slots, std::vector<float>(per));
    return c;
  }

 private:
  // Token + position (+ token type: types[i], or 0 when types is null) embeddings, then the
  // embedding norm where the model has one (BERT).
  std::unique_ptr<Hidden> embed_rows(const std::vector<int32_t>& ids, const int32_t* types, int batch, int tokens,
                                     int pos0) {
    auto h = std::make_unique<CpuHidden>();
    const int d = cfg_.d_model;
    h->batch = batch, h->tokens = tokens, h->width = d, h->pos0 = pos0;
    h->data.assign(size_t(batch) * tokens * d, 0.0f);
    for (int b = 0; b < batch; ++b)
      for (int t = 0; t < tokens; ++t) {
        const size_t i = size_t(b) * tokens + t;
        float* row = h->data.data() + int64_t(i) * d;
        dequantize_rows(w_.tok_emb, ids[i], 1, row);  // any stored type
        if (w_.pos_emb) add_row(w_.pos_emb, pos0 + t, row);
        if (w_.type_emb) add_row(w_.type_emb, types ? types[i] : 0, row);
      }
    if (w_.emb_ln_w) cpu::layer_norm(h->data.data(), h->data.data(), h->rows(), d, w_.emb_ln_w.data, w_.emb_ln_b.data, cfg_.norm_eps);
    return h;
  }

  const Model& model_;
  const ModelConfig& cfg_;
  const ModelWeights& w_;
  cpu::CpuLayerOps ops_{cfg_};
  std::vector<float> emb_row_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const Model& model) { return std::make_unique<CpuBackend>(model); }

}  // namespace layerlab
