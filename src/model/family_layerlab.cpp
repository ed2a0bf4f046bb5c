// Models trained by `layerlab train` in its own format (docs/TRAINING.md): layerlab_config.json
// (the trainer's ModelShape) + model.safetensors with the trainer's tensor names, Linear
// layout [out, in]. Block types preln, parallel, sas, sasp (optionally without norms) map to
// the block switches of ModelConfig.
#include <set>

#include "family.h"
#include "util/json_read.h"
#include "layerlab/error.h"
#include "layerlab/train.h"

namespace layerlab {

namespace {

bool matches(const ConfigReader& cfg) { return cfg.has("format") && cfg.has("block"); }

std::string required_string(const ConfigReader& cfg, const std::string& key) {
  if (!cfg.has(key)) cfg.bad(key, "missing (a layerlab_config.json written by layerlab train has it)");
  return cfg.get_string_or(key, "");
}

bool required_bool(const ConfigReader& cfg, const std::string& key) {
  if (!cfg.has(key)) cfg.bad(key, "missing (a layerlab_config.json written by layerlab train has it)");
  return cfg.get_bool_or(key, false);
}

int positive_int(const ConfigReader& cfg, const std::string& key, bool zero_ok = false) {
  if (!cfg.has(key)) cfg.bad(key, "missing (a layerlab_config.json written by layerlab train has it)");
  const int v = cfg.get_int({key});
  if (v < 0 || (v == 0 && !zero_ok)) cfg.bad(key, "must be positive, got " + std::to_string(v));
  return v;
}

void parse(const ConfigReader& cfg, ModelConfig& c) {
  static const std::set<std::string> known = {"format", "note",  "block", "norm",     "n_layer",     "d_model",
                                              "n_head", "d_ff",  "vocab", "context",  "norm_eps",    "beta_ff_init"};
  for (auto it = cfg.json().begin(); it != cfg.json().end(); ++it)
    if (!known.count(it.key())) cfg.bad(it.key(), "unknown field (misspelt?)");
  const std::string format = required_string(cfg, "format");
  if (format != "layerlab-train") cfg.bad("format", "expected \"layerlab-train\", got \"" + format + "\"");

  train::ModelShape s;
  const std::string block = required_string(cfg, "block");
  try {
    s.block = parse_trained_block(block, "block");
  } catch (const Error&) {
    cfg.bad("block", "unknown block type '" + clip(block) + "' (expected preln, parallel, sas or sasp)");
  }
  s.norm = required_bool(cfg, "norm");
  if (!s.norm && !s.shaped()) cfg.bad("norm", "false is only possible for sas and sasp blocks, not " + block);
  s.n_layer = positive_int(cfg, "n_layer");
  s.d_model = positive_int(cfg, "d_model");
  s.n_head = positive_int(cfg, "n_head");
  if (s.d_model % s.n_head != 0)
    cfg.bad("n_head", std::to_string(s.n_head) + " heads do not divide d_model " + std::to_string(s.d_model));
  s.d_ff = positive_int(cfg, "d_ff", true);  // 0: 4 * d_model, as the trainer's ModelShape
  s.vocab = positive_int(cfg, "vocab");
  s.context = positive_int(cfg, "context");
  s.norm_eps = static_cast<float>(cfg.get_double_or({"norm_eps"}, 1e-5));
  if (!(s.norm_eps > 0)) cfg.bad("norm_eps", "must be positive");
  cfg.get_double_or({"beta_ff_init"}, 0.1);  // type check only: the trained gain is a tensor
  c = s.model_config();
}

void load(WeightLoader& w, const ModelConfig& c, ModelWeights& out) {
  const int64_t d = c.d_model, ff = c.d_ff, H = c.n_head;
  const bool shaped = c.shaped_attention;
  out.tok_emb = w.matrix("wte", c.vocab, d);
  out.pos_emb = w.matrix("wpe", c.max_positions, d);
  for (int l = 0; l < c.n_layer; ++l) {
    const std::string p = "h." + std::to_string(l) + ".";
    LayerWeights L;
    if (c.block_norms || l == 0) {  // without norms, layer 0 keeps its first one (docs/TRAINING.md)
      L.ln1_w = w.vector(p + "ln_1.weight", d);
      L.ln1_b = w.vector(p + "ln_1.bias", d);
    }
    if (!shaped) {
      L.qkv_w = w.matrix(p + "attn.c_attn.weight", 3 * d, d);
      L.qkv_b = w.vector(p + "attn.c_attn.bias", 3 * d);
      L.o_w = w.matrix(p + "attn.c_proj.weight", d, d);
      L.o_b = w.vector(p + "attn.c_proj.bias", d);
    } else {
      L.qkv_w = w.rows_concat({p + "attn.q.weight", p + "attn.k.weight"}, {d, d}, d);
      L.qkv_b = w.vector(p + "attn.qk.bias", 2 * d);
      L.attn_alpha = w.vector(p + "attn.alpha", H);
      L.attn_beta = w.vector(p + "attn.beta", H);
      L.attn_gamma = w.vector(p + "attn.gamma", H);
      if (l == 0) L.v_extra_w = w.matrix(p + "attn.v_resid.weight", d, d);
      L.attn_gain = w.vector(p + "attn_gain", 1);
      if (!c.parallel_block) L.mlp_skip_gain = w.vector(p + "mlp_skip_gain", 1);
      L.mlp_gain = w.vector(p + "mlp_gain", 1);
    }
    if (c.block_norms && !c.parallel_block) {
      L.ln2_w = w.vector(p + "ln_2.weight", d);
      L.ln2_b = w.vector(p + "ln_2.bias", d);
    }
    L.up_w = w.matrix(p + "mlp.c_fc.weight", ff, d);
    L.up_b = w.vector(p + "mlp.c_fc.bias", ff);
    L.down_w = w.matrix(p + "mlp.c_proj.weight", d, ff);
    L.down_b = w.vector(p + "mlp.c_proj.bias", d);
    out.layers.push_back(L);
  }
  out.final_w = w.vector("ln_f.weight", d);
  out.final_b = w.vector("ln_f.bias", d);
  out.head_w = out.tok_emb;
}

}  // namespace

const Family& layerlab_family() {
  static const Family f{"layerlab", matches, parse, load};
  return f;
}

}  // namespace layerlab
