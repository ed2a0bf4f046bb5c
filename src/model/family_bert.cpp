// BERT: post-LayerNorm encoder, learned positions + token types, exact (erf) GELU,
// masked-LM head (dense + GELU + LayerNorm, then the tied decoder with a bias).
#include "family.h"
#include "util/json_read.h"

namespace layerlab {

namespace {

bool matches(const ConfigReader& cfg) { return cfg.get_string_or("model_type", "") == "bert"; }

void parse(const ConfigReader& cfg, ModelConfig& c) {
  c.family = "bert";
  c.n_layer = cfg.get_int({"num_hidden_layers"});
  c.d_model = cfg.get_int({"hidden_size"});
  c.n_head = cfg.get_int({"num_attention_heads"});
  c.n_kv_head = c.n_head;
  if (c.n_head > 0) c.head_dim = c.d_model / c.n_head;
  c.d_ff = cfg.get_int({"intermediate_size"});
  c.vocab = cfg.get_int({"vocab_size"});
  c.max_positions = cfg.get_int({"max_position_embeddings"});
  c.type_vocab = cfg.get_int_or({"type_vocab_size"}, 2);
  c.norm = NormKind::LayerNorm;
  c.norm_eps = static_cast<float>(cfg.get_double_or({"layer_norm_eps"}, 1e-12));
  const std::string act = cfg.get_string_or("hidden_act", "gelu");
  if (act == "gelu")
    c.act = Activation::GeluErf;
  else if (act == "gelu_new")
    c.act = Activation::GeluTanh;
  else
    cfg.bad("hidden_act", "unsupported activation '" + clip(act) + "'");
  const std::string pos = cfg.get_string_or("position_embedding_type", "absolute");
  if (pos != "absolute") cfg.bad("position_embedding_type", "only 'absolute' is supported");
  c.positions = Positions::Learned;
  c.post_norm = true;
  c.causal = false;
  c.tied_head = cfg.get_bool_or("tie_word_embeddings", true);
  c.has_mlm_head = true;
}

void load(WeightLoader& w, const ModelConfig& c, ModelWeights& out) {
  const int64_t d = c.d_model, ff = c.d_ff;
  const std::string e = "bert.embeddings.";
  out.tok_emb = w.matrix(e + "word_embeddings.weight", c.vocab, d);
  out.pos_emb = w.matrix(e + "position_embeddings.weight", c.max_positions, d);
  out.type_emb = w.matrix(e + "token_type_embeddings.weight", c.type_vocab, d);
  out.emb_ln_w = w.vector(e + "LayerNorm.weight", d);
  out.emb_ln_b = w.vector(e + "LayerNorm.bias", d);
  for (int l = 0; l < c.n_layer; ++l) {
    const std::string h = "bert.encoder.layer." + std::to_string(l) + ".";
    const std::string a = h + "attention.";
    LayerWeights L;
    L.qkv_w = w.rows_concat({a + "self.query.weight", a + "self.key.weight", a + "self.value.weight"}, {d, d, d}, d);
    L.qkv_b = w.vectors_concat({a + "self.query.bias", a + "self.key.bias", a + "self.value.bias"}, {d, d, d});
    L.o_w = w.matrix(a + "output.dense.weight", d, d);
    L.o_b = w.vector(a + "output.dense.bias", d);
    L.ln1_w = w.vector(a + "output.LayerNorm.weight", d);
    L.ln1_b = w.vector(a + "output.LayerNorm.bias", d);
    L.up_w = w.matrix(h + "intermediate.dense.weight", ff, d);
    L.up_b = w.vector(h + "intermediate.dense.bias", ff);
    L.down_w = w.matrix(h + "output.dense.weight", d, ff);
    L.down_b = w.vector(h + "output.dense.bias", d);
    L.ln2_w = w.vector(h + "output.LayerNorm.weight", d);
    L.ln2_b = w.vector(h + "output.LayerNorm.bias", d);
    out.layers.push_back(L);
  }
  const std::string m = "cls.predictions.";
  out.mlm_dense_w = w.matrix(m + "transform.dense.weight", d, d);
  out.mlm_dense_b = w.vector(m + "transform.dense.bias", d);
  out.final_w = w.vector(m + "transform.LayerNorm.weight", d);
  out.final_b = w.vector(m + "transform.LayerNorm.bias", d);
  out.head_w = (c.tied_head || !w.has(m + "decoder.weight")) ? out.tok_emb : w.matrix(m + "decoder.weight", c.vocab, d);
  out.head_b = w.vector(w.has(m + "bias") ? m + "bias" : m + "decoder.bias", c.vocab);
}

}  // namespace

const Family& bert_family() {
  static const Family f{"bert", matches, parse, load};
  return f;
}

}  // namespace layerlab
