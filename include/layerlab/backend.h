#pragma once
// The backend interface: where hidden states live and how one plan step runs. The executor
// (runner.h) holds the plan logic; backends (CPU, CUDA) hold the kernels.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "layerlab/model.h"
#include "layerlab/plan.h"

namespace layerlab {

// Hidden states of `batch` sequences x `tokens` positions x `width`, owned by a backend.
// `pos0` is the position of the first token (non-zero when continuing from a KV cache).
class Hidden {
 public:
  virtual ~Hidden() = default;
  int batch = 0, tokens = 0, width = 0, pos0 = 0;
  int64_t rows() const { return int64_t(batch) * tokens; }
  virtual std::vector<float> to_host() const = 0;  // [batch * tokens, width]
  virtual std::unique_ptr<Hidden> clone() const = 0;
};

// Keys and values of every layer application of a plan, for incremental decoding. A layer that
// a plan runs several times (repeats, loops) gets one slot per application.
class KvCache {
 public:
  virtual ~KvCache() = default;
  int length = 0;  // positions already cached
  int capacity = 0;
};

// Optional observer of a layer application's internals (the explainer). Only backends that
// report `supports_inspection()` call it; pointers are host memory valid during the call.
struct LayerTrace {
  int step = 0, member = 0, iteration = 0, layer = 0;
  int tokens = 0, keys = 0;            // for batch element 0
  const float* attn_probs = nullptr;   // [n_head, tokens, keys]
  const float* qkv = nullptr;          // [tokens, qkv_dim] after RoPE
  const float* mlp_act = nullptr;      // [tokens, d_ff] after the activation
  const float* output = nullptr;       // [tokens, d] the layer's output
};
class Inspector {
 public:
  virtual ~Inspector() = default;
  virtual void on_layer(const LayerTrace& t) = 0;
};

// Log-probability of one target token under the logits of one row, and whether it is the
// row's first maximum (torch.argmax): what scoring reads out of the head.
struct TargetScore {
  float logprob = 0.0f;
  bool greedy = false;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual const ModelConfig& config() const = 0;
  // ids: [batch, tokens] row-major; positions pos0 .. pos0 + tokens - 1.
  virtual std::unique_ptr<Hidden> embed(const std::vector<int32_t>& ids, int batch, int tokens, int pos0) = 0;
  // The same with token type ids (BERT's segments A / B), types [batch, tokens] in
  // [0, type_vocab), checked by Runner::embed_typed. The default takes all-zero types only
  // (that is embed()) and refuses others naming the backend; the CPU backend adds any type.
  virtual std::unique_ptr<Hidden> embed_typed(const std::vector<int32_t>& ids, const std::vector<int32_t>& types,
                                              int batch, int tokens, int pos0);
  // Runs plan step `step_index` on x in place; kv may be null (no caching).
  virtual void run_step(const PlanStep& step, int step_index, Hidden& x, KvCache* kv) = 0;
  // A Hidden holding host rows [batch * tokens, width] (e.g. final-normed rows gathered from
  // several Hiddens, for one large head product: the explainer's logit lens).
  virtual std::unique_ptr<Hidden> from_host(const float* rows, int batch, int tokens, int width) = 0;
  // Final norm (BERT: the masked-LM transform), a new Hidden.
  virtual std::unique_ptr<Hidden> final_norm(const Hidden& x) = 0;
  // Logits for rows [row_begin, row_begin + count) of a final-normed Hidden: out [count, vocab].
  virtual void logits(const Hidden& normed, int64_t row_begin, int64_t count, float* out) = 0;
  virtual std::unique_ptr<KvCache> make_cache(const Plan& plan, int batch, int capacity) = 0;
  // For each i: the log-softmax at targets[i] of the logits of row rows[i] of a final-normed
  // Hidden (rows may repeat, in any order; a negative target gives {0, false}). The default
  // fetches runs of consecutive rows through logits() and reduces them on the host; a device
  // backend overrides it so that [rows, vocab] logits never leave the device.
  virtual std::vector<TargetScore> target_scores(const Hidden& normed, const std::vector<int64_t>& rows,
                                                 const std::vector<int32_t>& targets);
  virtual void set_inspector(Inspector* inspector) { (void)inspector; }
  virtual bool supports_inspection() const { return false; }

 private:
  std::vector<float> readout_buffer_;  // target_scores' logits, kept so repeated calls reuse its pages
};

// The CPU backend (threads from OpenMP, matrix products from OpenBLAS).
std::unique_ptr<Backend> make_cpu_backend(const Model& model);

}  // namespace layerlab
