// GPT-2: learned positions, pre-LayerNorm, gelu_new, Conv1D ([in, out]) weights, tied head.
#include "family.h"
#include "util/json_read.h"

namespace layerlab {

namespace {

bool matches(const ConfigReader& cfg) { return cfg.get_string_or("model_type", "") == "gpt2"; }

void parse(const ConfigReader& cfg, ModelConfig& c) {
  c.family = "gpt2";
  c.n_layer = cfg.get_int({"n_layer", "num_hidden_layers"});
  c.d_model = cfg.get_int({"n_embd", "hidden_size"});
  c.n_head = cfg.get_int({"n_head", "num_attention_heads"});
  c.n_kv_head = c.n_head;
  if (c.n_head > 0) c.head_dim = c.d_model / c.n_head;
  c.d_ff = cfg.get_int_or({"n_inner"}, 4 * c.d_model);
  c.vocab = cfg.get_int({"vocab_size"});
  c.max_positions = cfg.get_int({"n_positions", "max_position_embeddings"});
  c.norm = NormKind::LayerNorm;
  c.norm_eps = static_cast<float>(cfg.get_double_or({"layer_norm_epsilon"}, 1e-5));
  const std::string act = cfg.get_string_or("activation_function", "gelu_new");
  if (act == "gelu_new" || act == "gelu_pytorch_tanh" || act == "gelu_fast")
    c.act = Activation::GeluTanh;
  else if (act == "gelu")
    c.act = Activation::GeluErf;
  else
    cfg.bad("activation_function", "unsupported activation '" + clip(act) + "'");
  if (cfg.get_bool_or("scale_attn_by_inverse_layer_idx", false))
    cfg.bad("scale_attn_by_inverse_layer_idx", "not supported");
  if (!cfg.get_bool_or("scale_attn_weights", true)) cfg.bad("scale_attn_weights", "false is not supported");
  c.positions = Positions::Learned;
  c.causal = true;
  c.tied_head = cfg.get_bool_or("tie_word_embeddings", true);
  c.bos_id = cfg.get_token_id_or({"bos_token_id"}, 50256);
  c.eos_id = cfg.get_token_id_or({"eos_token_id"}, 50256);
}

void load(WeightLoader& w, const ModelConfig& c, ModelWeights& out) {
  // Hugging Face checkpoints name tensors "transformer.h.0..."; the original OpenAI export drops
  // the "transformer." prefix.
  const std::string p = w.has("transformer.wte.weight") ? "transformer." : "";
  const int64_t d = c.d_model, ff = c.d_ff;
  out.tok_emb = w.matrix(p + "wte.weight", c.vocab, d);
  out.pos_emb = w.matrix(p + "wpe.weight", c.max_positions, d);
  for (int l = 0; l < c.n_layer; ++l) {
    const std::string h = p + "h." + std::to_string(l) + ".";
    LayerWeights L;
    L.ln1_w = w.vector(h + "ln_1.weight", d);
    L.ln1_b = w.vector(h + "ln_1.bias", d);
    L.qkv_w = w.matrix_transposed(h + "attn.c_attn.weight", 3 * d, d);
    L.qkv_b = w.vector(h + "attn.c_attn.bias", 3 * d);
    L.o_w = w.matrix_transposed(h + "attn.c_proj.weight", d, d);
    L.o_b = w.vector(h + "attn.c_proj.bias", d);
    L.ln2_w = w.vector(h + "ln_2.weight", d);
    L.ln2_b = w.vector(h + "ln_2.bias", d);
    L.up_w = w.matrix_transposed(h + "mlp.c_fc.weight", ff, d);
    L.up_b = w.vector(h + "mlp.c_fc.bias", ff);
    L.down_w = w.matrix_transposed(h + "mlp.c_proj.weight", d, ff);
    L.down_b = w.vector(h + "mlp.c_proj.bias", d);
    out.layers.push_back(L);
  }
  out.final_w = w.vector(p + "ln_f.weight", d);
  out.final_b = w.vector(p + "ln_f.bias", d);
  out.head_w = (c.tied_head || !w.has("lm_head.weight")) ? out.tok_emb : w.matrix("lm_head.weight", c.vocab, d);
}

}  // namespace

const Family& gpt2_family() {
  static const Family f{"gpt2", matches, parse, load};
  return f;
}

}  // namespace layerlab
