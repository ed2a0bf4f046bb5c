#pragma once
// Training GPT-style language models from scratch on the CPU with four block types
// (He & Hofmann, "Simplifying Transformer Blocks", arXiv 2311.01906; see docs/TRAINING.md):
//   preln    GPT-2:      h = x + Attn(LN1 x);          out = h + MLP(LN2 h)
//   parallel GPT-J/PaLM: out = x + Attn(LN x) + MLP(LN x)
//   sas      skipless attention, identity value/projection, shaped attention:
//                        h = g_a * SAttn(LN1 x);       out = s_ff * h + b_ff * MLP(LN2 h)
//   sasp     SAS-P, no skips at all: out = g_a * SAttn(LN x) + b_ff * MLP(LN x)
// Forward and backward are plain loops plus OpenBLAS GEMMs, templated on the scalar type so
// a float64 build of the same code can be checked against finite differences.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layerlab/block_kind.h"
#include "layerlab/model.h"

namespace layerlab::train {

// The architecture of a trainable model.
struct ModelShape {
  BlockKind block = BlockKind::PreLN;
  bool norm = true;  // false (sas/sasp only): no norms inside blocks except layer 0's first one
  int n_layer = 2;
  int d_model = 64;
  int n_head = 4;
  int d_ff = 0;  // 0: 4 * d_model
  int vocab = 50257;
  int context = 128;
  float norm_eps = 1e-5f;
  float beta_ff_init = 0.1f;  // sas/sasp: initial MLP branch gain (paper: O(1/sqrt(depth)))

  int ff() const { return d_ff > 0 ? d_ff : 4 * d_model; }
  int head_dim() const { return d_model / n_head; }
  bool shaped() const { return is_shaped(block); }
  bool parallel() const { return is_parallel(block); }
  // Throws Error naming `where` on impossible sizes or combinations.
  void validate(const std::string& where) const;
  nlohmann::json to_json() const;
  static ModelShape from_json(const nlohmann::json& j, const std::string& where);
  // The inference description of a model of this shape (what load_model reads back from
  // layerlab_config.json): the one place where a trained shape becomes a ModelConfig.
  ModelConfig model_config() const;
};

enum class Init { Zero, One, Normal, Constant };

// One named parameter tensor inside the flat parameter vector.
struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  int64_t offset = 0;
  int64_t numel = 0;
  Init init = Init::Zero;
  double value = 0;   // std for Normal, the value for Constant
  bool matrix = false;     // a weight matrix (not a norm, bias, gain or embedding)
  bool embedding = false;  // token / position embeddings
};

// Appends a tensor of `shape` at `offset` (then advanced past it) to `layout`.
TensorSpec& append_tensor(std::vector<TensorSpec>& layout, int64_t& offset, std::string name,
                          std::vector<int64_t> shape, Init init, bool matrix = false);

// Deterministic list of every parameter tensor of `s`, with offsets into one flat vector.
std::vector<TensorSpec> parameter_layout(const ModelShape& s);
int64_t parameter_count(const std::vector<TensorSpec>& layout);

// The model: parameters, gradients, and the activations of the last forward pass.
template <class T>
class Transformer {
 public:
  explicit Transformer(const ModelShape& shape);
  ~Transformer();
  Transformer(const Transformer&) = delete;
  Transformer& operator=(const Transformer&) = delete;

  const ModelShape& shape() const { return shape_; }
  const std::vector<TensorSpec>& layout() const { return layout_; }
  std::vector<T>& params() { return params_; }
  const std::vector<T>& params() const { return params_; }
  std::vector<T>& grads() { return grads_; }
  const TensorSpec& spec(const std::string& name) const;  // Error if absent

  // Initialises every tensor from its TensorSpec with a seeded generator (same on every machine).
  void init(uint64_t seed);
  // Mean next-token cross-entropy of `batch` sequences of `len` tokens: inputs[b*len + t]
  // predicts targets[b*len + t]. Keeps the activations for backward().
  double forward(const int32_t* inputs, const int32_t* targets, int batch, int len);
  // Gradients of the last forward's loss, written (not accumulated) into grads().
  void backward();

 private:
  struct Acts;
  ModelShape shape_;
  std::vector<TensorSpec> layout_;
  std::vector<T> params_, grads_;
  Acts* acts_ = nullptr;
};

extern template class Transformer<float>;
extern template class Transformer<double>;

// ---- optimisation -------------------------------------------------------------------------

struct OptimConfig {
  double lr = 1e-3;
  double min_lr_ratio = 0.1;  // cosine decays to lr * min_lr_ratio
  int warmup = 0;             // linear warm-up steps
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.1;  // decoupled; on weight matrices only (see decays())
  bool decay_embeddings = false;
  double clip = 1.0;          // max global gradient norm; <= 0: no clipping
};

// Learning rate at `step` (0-based) of `total`: linear warm-up then cosine to min_lr_ratio.
double learning_rate(const OptimConfig& c, int step, int total);
// Whether a tensor gets weight decay: matrices yes; norms, biases, gains no; embeddings only
// with decay_embeddings.
bool decays(const OptimConfig& c, const TensorSpec& t);
// Global L2 norm of grads; scales them down to `max_norm` when larger (max_norm > 0).
double clip_grad_norm(std::vector<float>& grads, double max_norm);
// The scale clip_grad_norm applies for a global norm (torch clip_grad_norm_): max_norm /
// (norm + 1e-6) when max_norm > 0 and norm exceeds it, else 1. Shared with the CUDA trainer.
float clip_coefficient(double norm, double max_norm);

// The scalars of AdamW step t (1-based) at rate lr, as torch.optim.AdamW computes them; shared
// by AdamW::step and the CUDA trainer so both run the same arithmetic.
struct AdamScalars {
  float b1 = 0, b2 = 0, eps = 0;
  float step_size = 0;  // lr / (1 - beta1^t)
  float bc2_sqrt = 0;   // sqrt(1 - beta2^t)
  float decay = 1;      // 1 - lr * weight_decay (decoupled)
};
AdamScalars adam_scalars(const OptimConfig& c, int64_t t, double lr);

// AdamW (Loshchilov & Hutter) with bias correction, as torch.optim.AdamW.
class AdamW {
 public:
  AdamW(const std::vector<TensorSpec>& layout, const OptimConfig& c);
  void step(std::vector<float>& params, const std::vector<float>& grads, double lr);
  int64_t steps() const { return t_; }
  std::vector<float>& m() { return m_; }
  std::vector<float>& v() { return v_; }
  void set_steps(int64_t t) { t_ = t; }

 private:
  OptimConfig c_;
  std::vector<uint8_t> decay_;  // per element
  std::vector<float> m_, v_;
  int64_t t_ = 0;
};

// ---- data ----------------------------------------------------------------------------------

// A token stream: every document (a JSON-lines record's "text", or the whole of a plain text
// file) tokenized and followed by the end-of-text token.
struct TokenStream {
  std::string path;
  std::vector<int32_t> tokens;
  int documents = 0;
};

// Reads FILE (.jsonl / .json lines with a string field `text`, anything else as plain text).
TokenStream load_token_stream(const std::string& path, const std::string& tokenizer_dir);

// ---- the training loop ---------------------------------------------------------------------

struct TrainOptions {
  ModelShape shape;
  OptimConfig optim;
  std::string tokenizer_dir;
  std::string data, val;  // val may be empty
  std::string out;        // run directory
  int steps = 1000;
  int batch = 8;
  int eval_every = 100;    // validation every K steps (and at the end)
  int eval_batches = 8;    // validation windows = eval_batches * batch (non-overlapping, fixed)
  int checkpoint_every = 0;  // 0: only at the end
  uint64_t seed = 1234;
  bool resume = false;       // continue from out/checkpoint
  int stop_after = 0;        // >0: stop (with a checkpoint) after this step, keeping the schedule of `steps`
  std::string save_batches;  // write every step's batch (int32 [steps, batch, context+1]) here
  std::string export_init;   // write the initial weights here (HF GPT-2 folder for preln)
  std::string device = "cpu";  // cpu | cuda | cuda:N (train_cuda.h)
  std::string dtype = "f32";   // f32 | tf32 (TF32 tensor-core products; cuda only)
  bool quiet = false;
};

struct TrainSummary {
  int64_t parameters = 0;
  int steps = 0;
  int64_t tokens = 0;
  double seconds = 0;        // training wall time, validation excluded
  double tokens_per_second = 0;
  double final_train_loss = 0;
  double final_val_loss = -1;  // < 0: no validation file
};

// Trains as described by `o` (on the CPU, or on a GPU with o.device = "cuda[:N]"); writes
// out/log.csv, out/log.json, out/summary.json, out/checkpoint/ (resumable state) and out/model/
// (weights for inference).
TrainSummary run_training(const TrainOptions& o);

// Writes the weights: preln as a Hugging Face GPT-2 folder (config.json + model.safetensors,
// Conv1D layout); other blocks as model.safetensors with layerlab names + layerlab_config.json.
void export_model(const Transformer<float>& m, const std::string& dir);

// ---- comparing runs -------------------------------------------------------------------------

// Reads the summary.json and log.json of each run dir and writes PREFIX.svg (train and
// validation loss against tokens, side by side), PREFIX.md (table) and PREFIX.json.
void compare_runs(const std::vector<std::string>& run_dirs, const std::string& prefix);

}  // namespace layerlab::train
