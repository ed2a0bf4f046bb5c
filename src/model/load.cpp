// load_model: config.json -> family -> ModelConfig, then the family maps weights.
#include <nlohmann/json.hpp>

#include "family.h"
#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "util/json_depth.h"

namespace layerlab {

Param Model::own(std::vector<float> data, int64_t rows, int64_t cols) {
  storage_.push_back(std::make_unique<std::vector<float>>(std::move(data)));
  return Param{storage_.back()->data(), rows, cols};
}

float* Model::allocate(int64_t rows, int64_t cols, Param& out) {
  arrays_.emplace_back(static_cast<size_t>(rows * cols));
  out = Param{arrays_.back().data(), rows, cols};
  return arrays_.back().data();
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::GeluTanh: return "gelu_tanh";
    case Activation::GeluErf: return "gelu";
    case Activation::SiluGated: return "swiglu";
    case Activation::ReluSquared: return "relu2";
  }
  return "?";
}

void require_standard_block(const ModelConfig& c, const std::string& backend) {
  if (!c.standard_block())
    throw Error("block type " + c.block + " is not supported on " + backend + " yet (use --device cpu)");
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
  // Guard against absurd configs before allocating: 1e12 parameters is far beyond any CPU run.
  const double params = static_cast<double>(c.n_layer) * (4.0 * c.d_model * c.d_model + 3.0 * c.d_model * c.d_ff) +
                        2.0 * c.vocab * c.d_model;
  if (params > 1e12) fail(cfg.path(), "sizes imply " + std::to_string(params) + " parameters; refusing");
}

std::unique_ptr<Model> load_model(const std::string& dir) {
  if (!is_directory(dir)) fail(dir, "not a directory (expected a Hugging Face model folder)");
  // A folder written by `layerlab train` for non-GPT-2 blocks has layerlab_config.json instead.
  const bool trained = file_exists(dir + "/layerlab_config.json");
  const std::string cfg_path = dir + (trained ? "/layerlab_config.json" : "/config.json");
  if (!file_exists(cfg_path)) fail(dir, "no config.json (or layerlab_config.json): not a model folder");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(depth_checked(read_text_file(cfg_path), cfg_path));
  } catch (const nlohmann::json::exception& e) {
    fail(cfg_path, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) fail(cfg_path, "not a JSON object");
  ConfigReader cfg(cfg_path, j);
  const Family* family = trained ? &layerlab_family() : nullptr;
  if (!trained)
    for (const Family* f : {&gpt2_family(), &llama_family(), &bert_family()})
      if (f->matches(cfg)) family = f;
  if (!family)
    cfg.bad("model_type", "unsupported model type '" + cfg.get_string_or("model_type", "") +
                              "' (supported: gpt2, llama, bert)");

  auto model = std::make_unique<Model>();
  model->dir_ = dir;
  ModelConfig& c = model->config_;
  if (!trained) c.model_type = cfg.get_string_or("model_type", "");
  family->parse_config(cfg, c);
  validate_config(cfg, c);

  Checkpoint ck(dir);
  c.weight_dtype = ck.float_dtype();
  WeightLoader loader(ck, *model);
  family->load_weights(loader, c, model->weights_);
  model->files_ = ck.files();
  model->parameter_count_ = ck.float_numel();
  return model;
}

}  // namespace layerlab
