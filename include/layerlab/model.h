#pragma once
// One description of a transformer: a small config struct plus weights in a uniform layout.
// GPT-2, Llama and BERT are configurations of it (src/model/family_*.cpp); a new family is
// a config parser and a weight-name mapping, not a new forward pass.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "layerlab/large_buffer.h"
#include "layerlab/block_kind.h"
#include "layerlab/weight_type.h"

namespace layerlab {

enum class NormKind { LayerNorm, RMSNorm };
enum class Activation { GeluTanh, GeluErf, SiluGated };
enum class Positions { Learned, Rope };

struct RopeConfig {
  double theta = 10000.0;
  std::string type = "default";  // default | linear | llama3
  double factor = 1.0;           // linear / llama3
  double low_freq_factor = 1.0;  // llama3
  double high_freq_factor = 4.0; // llama3
  int original_max_positions = 8192;  // llama3
};

struct ModelConfig {
  std::string family;      // "gpt2", "llama", "bert"
  std::string model_type;  // config.json's model_type
  int n_layer = 0;
  int d_model = 0;
  int n_head = 0;
  int n_kv_head = 0;
  int head_dim = 0;
  int d_ff = 0;
  int vocab = 0;
  int max_positions = 0;   // learned positions table size, or the model's context
  int type_vocab = 0;      // BERT token types
  NormKind norm = NormKind::LayerNorm;
  float norm_eps = 1e-5f;
  Activation act = Activation::GeluTanh;
  Positions positions = Positions::Learned;
  RopeConfig rope;
  bool post_norm = false;  // BERT: x = LN(x + sublayer(x)); otherwise pre-norm
  bool causal = true;
  bool tied_head = true;
  bool has_mlm_head = false;  // BERT masked-LM transform (dense + act + LN) before the head
  int bos_id = -1;
  int eos_id = -1;
  // Block structure. The defaults are the GPT-2 / Llama / BERT block; the other switches
  // describe layerlab-trained blocks (parallel, sas, sasp; docs/TRAINING.md). Per-layer
  // gains and norms are optional LayerWeights (an empty gain is 1, an empty pre-norm is none).
  BlockKind block = BlockKind::Standard;  // set_block_kind sets the switches below for a kind
  bool parallel_block = false;     // attention and MLP read the same input: out = [x] + Attn + MLP
  bool attn_skip = true;           // residual around attention (parallel: the block's one skip)
  bool shaped_attention = false;   // per head A = alpha I + beta softmax(QK^T/sqrt(hd) + M) - gamma C,
                                   // C = uniform causal attention (needs causal)
  bool identity_value = false;     // value = attention input (+ x v_extra_w^T); qkv_w holds q, k rows only
  bool identity_proj = false;      // no attention output projection (o_w empty)
  bool block_norms = true;         // false (sas/sasp --norm none): no norms in blocks but layer 0's ln1
  std::string weight_dtype;  // dtype of the checkpoint's floating-point weights

  int q_dim() const { return n_head * head_dim; }
  int kv_dim() const { return n_kv_head * head_dim; }
  int qkv_dim() const { return q_dim() + 2 * kv_dim(); }  // layout of the q|k|v activations
  int qkv_rows() const { return identity_value ? q_dim() + kv_dim() : qkv_dim(); }  // rows of qkv_w
  bool standard_block() const { return block == BlockKind::Standard || block == BlockKind::PreLN; }
  bool gated() const { return act == Activation::SiluGated; }
  int up_rows() const { return gated() ? 2 * d_ff : d_ff; }
};

// Sets c.block and the block switches that kind implies (norms: false for sas/sasp --norm none).
void set_block_kind(ModelConfig& c, BlockKind kind, bool norms);

// A weight matrix [rows, cols] (PyTorch Linear layout: out x in) or vector [cols] (rows = 1).
// `raw` holds rows * row_bytes(type, cols) bytes in `type`; `data` is the same memory as
// floats when type is F32 and null otherwise (read other types through dequantize_rows).
// Vectors (norms, biases, gains) are always F32.
struct Param {
  const float* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  const void* raw = nullptr;
  WeightType type = WeightType::F32;
  Param() = default;
  Param(const float* d, int64_t r, int64_t c) : data(d), rows(r), cols(c), raw(d) {}
  explicit operator bool() const { return raw != nullptr; }
  bool is_f32() const { return type == WeightType::F32; }
  int64_t bytes_per_row() const { return row_bytes(type, cols); }
  const uint8_t* row_ptr(int64_t r) const { return static_cast<const uint8_t*>(raw) + r * bytes_per_row(); }
};

// out[n * cols] = rows [r0, r0 + n) of p as float32, whatever its type.
void dequantize_rows(const Param& p, int64_t r0, int64_t n, float* out);

// Weights of one layer in the uniform layout. Optional parts are empty Params.
//   qkv_w [q_dim + 2*kv_dim, d]: query rows, then key rows, then value rows.
//   up_w  [d_ff or 2*d_ff, d]: for gated MLPs the gate rows come first, then the up rows.
// Block (pre-norm; the switches of ModelConfig, empty gains are 1):
//   a = LN1(x) (or x without ln1_w);  A = g_a * Attn(a)
//   sequential: h = [x] + A;  out = s_ff * h + b_ff * MLP(LN2(h) or h)
//   parallel:   out = [x] + A + b_ff * MLP(LN2(x) or a)
struct LayerWeights {
  Param ln1_w, ln1_b;  // pre-norm: before attention; post-norm: after attention + residual
  Param qkv_w, qkv_b;  // [qkv_rows(), d]
  Param v_extra_w;     // identity value: V = a + a v_extra_w^T ([kv_dim, d]; sas/sasp layer 0)
  Param attn_alpha, attn_beta, attn_gamma;  // shaped attention, [n_head] each
  Param attn_gain, mlp_gain, mlp_skip_gain;  // scalars g_a, b_ff, s_ff
  Param o_w, o_b;
  Param ln2_w, ln2_b;
  Param up_w, up_b;
  Param down_w, down_b;
};

struct ModelWeights {
  Param tok_emb;           // [vocab, d]
  Param pos_emb;           // [max_positions, d] (learned positions)
  Param type_emb;          // [type_vocab, d] (BERT)
  Param emb_ln_w, emb_ln_b;  // BERT embedding LayerNorm
  std::vector<LayerWeights> layers;
  Param final_w, final_b;  // final norm (GPT-2 ln_f, Llama norm, BERT MLM transform LayerNorm)
  Param mlm_dense_w, mlm_dense_b;  // BERT MLM transform dense
  Param head_w;            // [vocab, d]; aliases tok_emb when tied
  Param head_b;            // BERT decoder bias
};

// Where the weights came from: shown by `layerlab info`.
struct CheckpointFile {
  std::string path;
  uint64_t bytes = 0;
};

// How load_model stores weights.
struct LoadOptions {
  // Keep 2-D weight matrices in their stored type (safetensors F16 / BF16) instead of converting
  // them to float32: half the memory, products read them directly (CPU) or convert on upload
  // (CUDA). Vectors (norms, biases, gains) are float32 either way. GGUF matrices always keep
  // their type (they stay inside the file's mapping).
  bool keep_dtype = true;
};

class Model;
namespace detail {
void load_gguf_model(const std::string& path, Model& m);  // src/model/gguf_model.cpp
}

class Model {
 public:
  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }
  const std::string& dir() const { return dir_; }
  const std::vector<CheckpointFile>& files() const { return files_; }
  int64_t parameter_count() const { return parameter_count_; }
  int64_t resident_bytes() const { return resident_bytes_; }  // weights held in memory
  // Parameters held in each stored type, e.g. {"f16": 27.9M, "f32": 0.01M}.
  std::vector<std::pair<std::string, int64_t>> resident_types() const;

  // Internal: uninitialised storage for a [rows, cols] weight that the loader fills through
  // the returned pointer; `out` describes it.
  float* allocate(int64_t rows, int64_t cols, Param& out);
  // The same for a weight stored in `type` (rows * row_bytes(type, cols) bytes).
  void* allocate_raw(WeightType type, int64_t rows, int64_t cols, Param& out);

 private:
  friend std::unique_ptr<Model> load_model(const std::string& dir, const LoadOptions& options);
  friend void detail::load_gguf_model(const std::string& path, Model& m);
  ModelConfig config_;
  ModelWeights weights_;
  std::string dir_;
  std::vector<CheckpointFile> files_;
  int64_t parameter_count_ = 0;
  int64_t resident_bytes_ = 0;
  std::vector<FloatArray> arrays_;
  int64_t type_values_[8] = {};  // values held per WeightType
  std::shared_ptr<const void> mapping_;  // a memory-mapped file (GGUF) that Params point into
};

// Loads a Hugging Face model folder: config.json + model.safetensors (or a sharded
// model.safetensors.index.json). Matrices stay in their stored F32 / F16 / BF16 (options), or
// are converted to float32 like every vector.
// Or a GGUF file (a regular file ending in .gguf or starting with "GGUF"; architectures llama
// and gpt2): matrices keep their stored type (Params point into the file's mapping), vectors
// become float32; dir() is then the file's path.
std::unique_ptr<Model> load_model(const std::string& dir, const LoadOptions& options = {});

const char* activation_name(Activation a);



}  // namespace layerlab
