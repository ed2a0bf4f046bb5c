// Llama family (Llama 2/3, TinyLlama, SmolLM...): RMSNorm, RoPE, grouped-query attention,
// SwiGLU MLP, tied or untied head.
#include "family.h"
#include "util/json_read.h"

namespace layerlab {

namespace {

bool matches(const ConfigReader& cfg) {
  const std::string t = cfg.get_string_or("model_type", "");
  return t == "llama" || t == "mistral";
}

// RoPE settings: the newer `rope_parameters` object, or the older `rope_theta` + `rope_scaling`.
void parse_rope(const ConfigReader& cfg, RopeConfig& r) {
  const auto& j = cfg.json();
  const nlohmann::json* params = nullptr;
  if (j.contains("rope_parameters") && j["rope_parameters"].is_object()) params = &j["rope_parameters"];
  r.theta = cfg.get_double_or({"rope_theta"}, 10000.0);
  if (params && params->contains("rope_theta")) {
    if (!(*params)["rope_theta"].is_number()) cfg.bad("rope_parameters.rope_theta", "expected a number");
    r.theta = (*params)["rope_theta"].get<double>();
  }
  const nlohmann::json* scaling = params;
  if (!scaling && j.contains("rope_scaling") && j["rope_scaling"].is_object()) scaling = &j["rope_scaling"];
  if (!scaling) return;
  auto num = [&](const char* key, double fallback) {
    if (!scaling->contains(key) || (*scaling)[key].is_null()) return fallback;
    if (!(*scaling)[key].is_number()) cfg.bad(std::string("rope_parameters.") + key, "expected a number");
    return (*scaling)[key].get<double>();
  };
  if (scaling->contains("rope_type") && (*scaling)["rope_type"].is_string())
    r.type = (*scaling)["rope_type"].get<std::string>();
  else if (scaling->contains("type") && (*scaling)["type"].is_string())
    r.type = (*scaling)["type"].get<std::string>();
  if (r.type != "default" && r.type != "linear" && r.type != "llama3")
    cfg.bad("rope_parameters.rope_type", "unsupported RoPE type '" + clip(r.type) + "'");
  r.factor = num("factor", 1.0);
  r.low_freq_factor = num("low_freq_factor", 1.0);
  r.high_freq_factor = num("high_freq_factor", 4.0);
  const double original = num("original_max_position_embeddings", 8192);
  if (!(original >= 1 && original <= kMaxConfigInt) || original != static_cast<int>(original))
    cfg.bad("rope_parameters.original_max_position_embeddings", "must be a positive integer");
  r.original_max_positions = static_cast<int>(original);
}

void parse(const ConfigReader& cfg, ModelConfig& c) {
  c.family = "llama";
  c.n_layer = cfg.get_int({"num_hidden_layers"});
  c.d_model = cfg.get_int({"hidden_size"});
  c.n_head = cfg.get_int({"num_attention_heads"});
  c.n_kv_head = cfg.get_int_or({"num_key_value_heads"}, c.n_head);
  c.head_dim = cfg.get_int_or({"head_dim"}, c.n_head > 0 ? c.d_model / c.n_head : 0);
  c.d_ff = cfg.get_int({"intermediate_size"});
  c.vocab = cfg.get_int({"vocab_size"});
  c.max_positions = cfg.get_int_or({"max_position_embeddings"}, 2048);
  c.norm = NormKind::RMSNorm;
  c.norm_eps = static_cast<float>(cfg.get_double_or({"rms_norm_eps"}, 1e-6));
  const std::string act = cfg.get_string_or("hidden_act", "silu");
  if (act != "silu") cfg.bad("hidden_act", "unsupported activation '" + clip(act) + "' (Llama uses silu)");
  c.act = Activation::SiluGated;
  c.positions = Positions::Rope;
  parse_rope(cfg, c.rope);
  if (cfg.get_bool_or("attention_bias", false)) cfg.bad("attention_bias", "attention biases are not supported yet");
  if (cfg.get_bool_or("mlp_bias", false)) cfg.bad("mlp_bias", "MLP biases are not supported yet");
  c.causal = true;
  c.tied_head = cfg.get_bool_or("tie_word_embeddings", false);
  c.bos_id = cfg.get_token_id_or({"bos_token_id"}, 1);
  c.eos_id = cfg.get_token_id_or({"eos_token_id"}, 2);
}

void load(WeightLoader& w, const ModelConfig& c, ModelWeights& out) {
  const int64_t d = c.d_model, ff = c.d_ff, q = c.q_dim(), kv = c.kv_dim();
  out.tok_emb = w.matrix("model.embed_tokens.weight", c.vocab, d);
  for (int l = 0; l < c.n_layer; ++l) {
    const std::string h = "model.layers." + std::to_string(l) + ".";
    LayerWeights L;
    L.ln1_w = w.vector(h + "input_layernorm.weight", d);
    L.qkv_w = w.rows_concat({h + "self_attn.q_proj.weight", h + "self_attn.k_proj.weight", h + "self_attn.v_proj.weight"},
                            {q, kv, kv}, d);
    L.o_w = w.matrix(h + "self_attn.o_proj.weight", d, q);
    L.ln2_w = w.vector(h + "post_attention_layernorm.weight", d);
    L.up_w = w.rows_concat({h + "mlp.gate_proj.weight", h + "mlp.up_proj.weight"}, {ff, ff}, d);
    L.down_w = w.matrix(h + "mlp.down_proj.weight", d, ff);
    out.layers.push_back(L);
  }
  out.final_w = w.vector("model.norm.weight", d);
  // Some tied checkpoints still carry lm_head.weight; a missing one means tied.
  out.head_w = (c.tied_head || !w.has("lm_head.weight")) ? out.tok_emb : w.matrix("lm_head.weight", c.vocab, d);
}

}  // namespace

const Family& llama_family() {
  static const Family f{"llama", matches, parse, load};
  return f;
}

}  // namespace layerlab
