#pragma once
// Where one layer's tensors sit in a flat parameter vector, by their parameter_layout() names:
// shared by the CPU model (src/train/model.cpp) and the CUDA one (src/train/cuda/), whose
// offsets differ (the device layout is padded) but whose names do not.
#include <cstdint>
#include <string>

namespace layerlab::train {

// Offsets of one layer's tensors (-1: absent for this block type).
struct LayerIdx {
  int64_t ln1_w = -1, ln1_b = -1, ln2_w = -1, ln2_b = -1;
  int64_t attn_w = -1, attn_b = -1, proj_w = -1, proj_b = -1;  // preln/parallel: qkv, out projection
  int64_t qk_w = -1, qk_b = -1, coef = -1, v_resid = -1;       // shaped: q rows then k rows; alpha|beta|gamma
  int64_t attn_gain = -1, mlp_skip = -1, mlp_gain = -1;
  int64_t fc_w = -1, fc_b = -1, fc2_w = -1, fc2_b = -1;
};

// Layer l's offsets; off(name) gives a tensor's offset, or -1 when the model has none.
template <class Off>
LayerIdx layer_index(int l, const Off& off) {
  const std::string p = "h." + std::to_string(l) + ".";
  LayerIdx I;
  I.ln1_w = off(p + "ln_1.weight");
  I.ln1_b = off(p + "ln_1.bias");
  I.ln2_w = off(p + "ln_2.weight");
  I.ln2_b = off(p + "ln_2.bias");
  I.attn_w = off(p + "attn.c_attn.weight");
  I.attn_b = off(p + "attn.c_attn.bias");
  I.proj_w = off(p + "attn.c_proj.weight");
  I.proj_b = off(p + "attn.c_proj.bias");
  I.qk_w = off(p + "attn.q.weight");  // k.weight follows it directly: one [2C, C] matrix
  I.qk_b = off(p + "attn.qk.bias");
  I.coef = off(p + "attn.alpha");  // beta and gamma follow
  I.v_resid = off(p + "attn.v_resid.weight");
  I.attn_gain = off(p + "attn_gain");
  I.mlp_skip = off(p + "mlp_skip_gain");
  I.mlp_gain = off(p + "mlp_gain");
  I.fc_w = off(p + "mlp.c_fc.weight");
  I.fc_b = off(p + "mlp.c_fc.bias");
  I.fc2_w = off(p + "mlp.c_proj.weight");
  I.fc2_b = off(p + "mlp.c_proj.bias");
  return I;
}

}  // namespace layerlab::train
