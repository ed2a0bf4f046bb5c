// load_model: config.json -> family -> ModelConfig, then the family maps weights.
#include <nlohmann/json.hpp>

#include <cmath>

#include "family.h"
#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/gguf.h"
#include "util/json_read.h"

namespace layerlab {

float* Model::allocate(int64_t rows, int64_t cols, Param& out) {
  arrays_.emplace_back(static_cast<size_t>(rows * cols));
  out = Param{arrays_.back().data(), rows, cols};
  resident_bytes_ += rows * cols * 4;
  type_values_[int(WeightType::F32)] += rows * cols;
  return arrays_.back().data();
}

void* Model::allocate_raw(WeightType type, int64_t rows, int64_t cols, Param& out) {
  if (type == WeightType::F32) return allocate(rows, cols, out);
  const int64_t bytes = rows * row_bytes(type, cols);
  arrays_.emplace_back(static_cast<size_t>((bytes + 3) / 4));
  out = Param{};
  out.raw = arrays_.back().data();
  out.type = type;
  out.rows = rows;
  out.cols = cols;
  resident_bytes_ += bytes;
  type_values_[int(type)] += rows * cols;
  return arrays_.back().data();
}

std::vector<std::pair<std::string, int64_t>> Model::resident_types() const {
  std::vector<std::pair<std::string, int64_t>> out;
  for (int t = 0; t < 8; ++t)
    if (type_values_[t]) out.emplace_back(weight_type_name(WeightType(t)), type_values_[t]);
  return out;
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::GeluTanh: return "gelu_tanh";
    case Activation::GeluErf: return "gelu";
    case Activation::SiluGated: return "swiglu";
  }
  return "?";
}

void validate_config(const ConfigReader& cfg, const ModelConfig& c) {
  auto positive = [&](int v, const char* field) {
    if (v <= 0) cfg.bad(field, "must be positive, got " + std::to_string(v));
  };
  positive(c.n_layer, "num_hidden_layers");
  positive(c.d_model, "hidden_size");
  positive(c.n_head, "num_attention_heads");
  positive(c.n_kv_head, "num_key_value_heads");
  positive(c.head_dim, "head_dim");
  positive(c.d_ff, "intermediate_size");
  positive(c.vocab, "vocab_size");
  positive(c.max_positions, "max_position_embeddings");
  if (c.n_head % c.n_kv_head != 0)
    cfg.bad("num_key_value_heads", "must divide num_attention_heads (" + std::to_string(c.n_head) + ")");
  if (c.family != "llama" && c.n_head * c.head_dim != c.d_model)
    cfg.bad("num_attention_heads", "must divide the hidden size " + std::to_string(c.d_model));
  if (c.positions == Positions::Rope && c.head_dim % 2 != 0) cfg.bad("head_dim", "RoPE needs an even head size");
  if (!(c.norm_eps > 0)) cfg.bad("layer_norm_eps", "must be positive");
  // Products of two sizes are formed in int (q_dim, up_rows...): each must fit with room.
  const int64_t q = int64_t(c.n_head) * c.head_dim, kv = int64_t(c.n_kv_head) * c.head_dim;
  if (q > kMaxConfigInt || kv > kMaxConfigInt || c.d_ff > kMaxConfigInt / 2)
    cfg.bad("num_attention_heads", "heads x head size (" + std::to_string(q) + ") or the MLP width is beyond " +
                                       std::to_string(kMaxConfigInt));
  if (c.positions == Positions::Rope) {
    const RopeConfig& r = c.rope;
    // theta <= 0 gives NaN angles, and every loss after them, without any other sign.
    if (!(r.theta > 0) || !std::isfinite(r.theta)) cfg.bad("rope_theta", "must be a positive number");
    if (!(r.factor > 0) || !std::isfinite(r.factor)) cfg.bad("rope_parameters.factor", "must be a positive number");
    if (r.type == "llama3" && !(r.low_freq_factor > 0 && r.high_freq_factor > r.low_freq_factor &&
                                std::isfinite(r.high_freq_factor)))
      cfg.bad("rope_parameters.high_freq_factor", "llama3 RoPE needs 0 < low_freq_factor < high_freq_factor");
  }
  for (auto [id, field] : {std::pair{c.bos_id, "bos_token_id"}, std::pair{c.eos_id, "eos_token_id"}})
    if (id >= c.vocab)
      cfg.bad(field, "token " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(c.vocab));
  // Guard against absurd configs before allocating: 1e12 parameters is far beyond any CPU run.
  const double params = static_cast<double>(c.n_layer) * (4.0 * c.d_model * c.d_model + 3.0 * c.d_model * c.d_ff) +
                        2.0 * c.vocab * c.d_model;
  if (params > 1e12) fail(cfg.path(), "sizes imply " + std::to_string(params) + " parameters; refusing");
}

std::unique_ptr<Model> load_model(const std::string& dir, const LoadOptions& options) {
  if (is_gguf_file(dir)) {
    auto model = std::make_unique<Model>();
    detail::load_gguf_model(dir, *model);
    return model;
  }
  if (!is_directory(dir)) fail(dir, "not a directory (expected a Hugging Face model folder or a .gguf file)");
  // A folder written by `layerlab train` for non-GPT-2 blocks has layerlab_config.json instead.
  const bool trained = file_exists(dir + "/layerlab_config.json");
  const std::string cfg_path = dir + (trained ? "/layerlab_config.json" : "/config.json");
  if (!file_exists(cfg_path)) fail(dir, "no config.json (or layerlab_config.json): not a model folder");
  const nlohmann::json j = read_json_file(cfg_path);
  if (!j.is_object()) fail(cfg_path, "not a JSON object");
  ConfigReader cfg(cfg_path, j);
  const Family* family = trained ? &layerlab_family() : nullptr;
  if (!trained)
    for (const Family* f : {&gpt2_family(), &llama_family(), &bert_family()})
      if (f->matches(cfg)) family = f;
  if (!family)
    cfg.bad("model_type", "unsupported model type '" + clip(cfg.get_string_or("model_type", "")) +
                              "' (supported: gpt2, llama, bert)");

  auto model = std::make_unique<Model>();
  model->dir_ = dir;
  ModelConfig& c = model->config_;
  if (!trained) c.model_type = cfg.get_string_or("model_type", "");
  family->parse_config(cfg, c);
  validate_config(cfg, c);

  Checkpoint ck(dir);
  // More layers in the files than in the config would run a truncated model without a word.
  if (ck.layer_count() > c.n_layer)
    fail(cfg_path, "the checkpoint holds " + std::to_string(ck.layer_count()) + " layers but the config says " +
                       std::to_string(c.n_layer) + " (num_hidden_layers / n_layer)");
  c.weight_dtype = ck.float_dtype();
  WeightLoader loader(ck, *model, options.keep_dtype);
  family->load_weights(loader, c, model->weights_);
  model->files_ = ck.files();
  model->parameter_count_ = ck.float_numel();
  return model;
}

}  // namespace layerlab
