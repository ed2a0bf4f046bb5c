// Block types, model shapes and the parameter layout (names, shapes, initialisation).
// Initialisations follow GPT-2 (Hugging Face) for preln/parallel and the official code of
// "Simplifying Transformer Blocks" (github.com/bobby-he/simplified_transformers) for sas/sasp;
// docs/TRAINING.md lists them with references.
#include <cmath>

#include "layerlab/error.h"
#include "layerlab/train.h"

namespace layerlab::train {

void ModelShape::validate(const std::string& where) const {
  auto positive = [&](int v, const char* what) {
    if (v <= 0) fail(where, std::string(what) + " must be positive, got " + std::to_string(v));
  };
  positive(n_layer, "layers");
  positive(d_model, "width");
  positive(n_head, "heads");
  positive(vocab, "vocab");
  positive(context, "context");
  if (d_ff < 0) fail(where, "d_ff must be >= 0 (0 means 4 * width)");
  if (d_model % n_head != 0)
    fail(where, "heads (" + std::to_string(n_head) + ") must divide width (" + std::to_string(d_model) + ")");
  if (!norm && !shaped())
    fail(where, std::string("norm = false needs a skipless block (sas or sasp); ") + block_kind_name(block) +
                    " keeps its normalisation (the paper removes norms only from SAS/SAS-P)");
  if (!(norm_eps > 0)) fail(where, "norm_eps must be positive");
  const double params = double(n_layer) * (4.0 * d_model * d_model + 2.0 * d_model * ff()) + double(vocab) * d_model;
  if (params > 2e10) fail(where, "sizes imply " + std::to_string(params) + " parameters; refusing");
}

nlohmann::json ModelShape::to_json() const {
  return {{"block", block_kind_name(block)}, {"norm", norm},           {"n_layer", n_layer},
          {"d_model", d_model},         {"n_head", n_head},       {"d_ff", ff()},
          {"vocab", vocab},             {"context", context},     {"norm_eps", norm_eps},
          {"beta_ff_init", beta_ff_init}};
}

ModelShape ModelShape::from_json(const nlohmann::json& j, const std::string& where) {
  ModelShape s;
  try {
    s.block = parse_trained_block(j.at("block").get<std::string>(), where + ": block");
    s.norm = j.at("norm").get<bool>();
    s.n_layer = j.at("n_layer").get<int>();
    s.d_model = j.at("d_model").get<int>();
    s.n_head = j.at("n_head").get<int>();
    s.d_ff = j.at("d_ff").get<int>();
    s.vocab = j.at("vocab").get<int>();
    s.context = j.at("context").get<int>();
    s.norm_eps = j.at("norm_eps").get<float>();
    s.beta_ff_init = j.at("beta_ff_init").get<float>();
  } catch (const nlohmann::json::exception& e) {
    fail(where, std::string("bad model shape: ") + e.what());
  }
  s.validate(where);
  return s;
}

ModelConfig ModelShape::model_config() const {
  ModelConfig c;
  c.family = "layerlab";
  c.model_type = "layerlab-train";
  c.n_layer = n_layer;
  c.d_model = d_model;
  c.n_head = c.n_kv_head = n_head;
  c.head_dim = head_dim();
  c.d_ff = ff();
  c.vocab = vocab;
  c.max_positions = context;
  c.norm_eps = norm_eps;
  c.norm = NormKind::LayerNorm;
  c.act = Activation::GeluTanh;
  c.positions = Positions::Learned;
  c.causal = true;
  c.tied_head = true;
  c.eos_id = c.bos_id = vocab == 50257 ? 50256 : -1;  // GPT-2's end of text when its vocabulary
  set_block_kind(c, block, norm);
  return c;
}

TensorSpec& append_tensor(std::vector<TensorSpec>& layout, int64_t& offset, std::string name,
                          std::vector<int64_t> shape, Init init, bool matrix) {
  TensorSpec t;
  t.name = std::move(name);
  t.numel = 1;
  for (int64_t d : shape) t.numel *= d;
  t.shape = std::move(shape);
  t.offset = offset;
  t.init = init;
  t.matrix = matrix;
  offset += t.numel;
  layout.push_back(std::move(t));
  return layout.back();
}

std::vector<TensorSpec> parameter_layout(const ModelShape& s) {
  std::vector<TensorSpec> out;
  int64_t offset = 0;
  auto add = [&](std::string name, std::vector<int64_t> shape, Init init, double value, bool matrix = false,
                 bool embedding = false) {
    TensorSpec& t = append_tensor(out, offset, std::move(name), std::move(shape), init, matrix);
    t.value = value;
    t.embedding = embedding;
  };
  const int64_t C = s.d_model, F = s.ff(), H = s.n_head;
  const double std = 0.02;
  // GPT-2 scales the residual output projections by 1/sqrt(2 * n_layer) at init.
  const double proj_std = 0.02 / std::sqrt(2.0 * s.n_layer);
  add("wte", {s.vocab, C}, Init::Normal, std, false, true);
  add("wpe", {s.context, C}, Init::Normal, std, false, true);
  for (int l = 0; l < s.n_layer; ++l) {
    const std::string p = "h." + std::to_string(l) + ".";
    // The first norm: every block with norms; without norms layer 0 keeps it so the embedding's
    // scale is normalised once (as the official code does).
    if (s.norm || l == 0) {
      add(p + "ln_1.weight", {C}, Init::One, 1);
      add(p + "ln_1.bias", {C}, Init::Zero, 0);
    }
    if (!s.shaped()) {
      add(p + "attn.c_attn.weight", {3 * C, C}, Init::Normal, std, true);
      add(p + "attn.c_attn.bias", {3 * C}, Init::Zero, 0);
      add(p + "attn.c_proj.weight", {C, C}, Init::Normal, proj_std, true);
      add(p + "attn.c_proj.bias", {C}, Init::Zero, 0);
    } else {
      // Query rows start at zero (so the softmax is uniform causal at init), key rows N(0, 0.02).
      add(p + "attn.q.weight", {C, C}, Init::Zero, 0, true);
      add(p + "attn.k.weight", {C, C}, Init::Normal, std, true);
      add(p + "attn.qk.bias", {2 * C}, Init::Zero, 0);
      // Shaped attention A = alpha*I + beta*softmax(QK^T) - gamma*C, per head, trainable, all 1 at
      // init so A = I at init.
      add(p + "attn.alpha", {H}, Init::One, 1);
      add(p + "attn.beta", {H}, Init::One, 1);
      add(p + "attn.gamma", {H}, Init::One, 1);
      // Official code: layer 0's value matrix is I + W with W trainable and zero at init
      // (first_layer_value_resid_gain = 1); every other layer's value/projection is the identity.
      if (l == 0) add(p + "attn.v_resid.weight", {C, C}, Init::Zero, 0, true);
      add(p + "attn_gain", {1}, Init::One, 1);
      if (!s.parallel()) add(p + "mlp_skip_gain", {1}, Init::One, 1);
      add(p + "mlp_gain", {1}, Init::Constant, s.beta_ff_init);
    }
    if (s.norm && !s.parallel()) {
      add(p + "ln_2.weight", {C}, Init::One, 1);
      add(p + "ln_2.bias", {C}, Init::Zero, 0);
    }
    add(p + "mlp.c_fc.weight", {F, C}, Init::Normal, std, true);
    add(p + "mlp.c_fc.bias", {F}, Init::Zero, 0);
    add(p + "mlp.c_proj.weight", {C, F}, Init::Normal, s.shaped() ? std : proj_std, true);
    add(p + "mlp.c_proj.bias", {C}, Init::Zero, 0);
  }
  add("ln_f.weight", {C}, Init::One, 1);
  add("ln_f.bias", {C}, Init::Zero, 0);
  return out;
}

int64_t parameter_count(const std::vector<TensorSpec>& layout) {
  int64_t n = 0;
  for (const auto& t : layout) n += t.numel;
  return n;
}

}  // namespace layerlab::train
