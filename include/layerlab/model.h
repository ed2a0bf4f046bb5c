#pragma once
// One description of a transformer: a small config struct plus weights in a uniform layout.
// GPT-2, Llama and BERT are configurations of it (src/model/family_*.cpp); a new family is
// a config parser and a weight-name mapping, not a new forward pass.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace layerlab {

enum class NormKind { LayerNorm, RMSNorm };
enum class Activation { GeluTanh, GeluErf, SiluGated, ReluSquared };
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
  std::string weight_dtype;  // dtype of the checkpoint's floating-point weights

  int q_dim() const { return n_head * head_dim; }
  int kv_dim() const { return n_kv_head * head_dim; }
  int qkv_dim() const { return q_dim() + 2 * kv_dim(); }
  bool gated() const { return act == Activation::SiluGated; }
  int up_rows() const { return gated() ? 2 * d_ff : d_ff; }
};

// A weight matrix [rows, cols] (PyTorch Linear layout: out x in) or vector [cols] (rows = 1).
struct Param {
  const float* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  explicit operator bool() const { return data != nullptr; }
};

// Weights of one layer in the uniform layout. Optional parts are empty Params.
//   qkv_w [q_dim + 2*kv_dim, d]: query rows, then key rows, then value rows.
//   up_w  [d_ff or 2*d_ff, d]: for gated MLPs the gate rows come first, then the up rows.
struct LayerWeights {
  Param ln1_w, ln1_b;  // pre-norm: before attention; post-norm: after attention + residual
  Param qkv_w, qkv_b;
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

class Model {
 public:
  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }
  const std::string& dir() const { return dir_; }
  const std::vector<CheckpointFile>& files() const { return files_; }
  int64_t parameter_count() const { return parameter_count_; }

  // Internal: used by loaders to own converted weight storage.
  Param own(std::vector<float> data, int64_t rows, int64_t cols);

 private:
  friend std::unique_ptr<Model> load_model(const std::string& dir);
  ModelConfig config_;
  ModelWeights weights_;
  std::string dir_;
  std::vector<CheckpointFile> files_;
  int64_t parameter_count_ = 0;
  std::vector<std::unique_ptr<std::vector<float>>> storage_;
};

// Loads a Hugging Face model folder: config.json + model.safetensors (or a sharded
// model.safetensors.index.json). Weights are converted to float32 (from F32/F16/BF16).
std::unique_ptr<Model> load_model(const std::string& dir);

const char* activation_name(Activation a);

}  // namespace layerlab
