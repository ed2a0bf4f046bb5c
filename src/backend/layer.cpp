// The transformer block, written once for every backend as named stages over LayerOps:
// attention input -> qkv -> attend -> attention out -> mlp input -> mlp -> block out.
// Block switches (ModelConfig): pre- or post-norm, sequential or parallel sub-blocks, optional
// attention skip, identity value, shaped attention, scalar gains, missing norms.
#include "backend/layer_ops.h"

#include "layerlab/plan.h"

namespace layerlab {

namespace {

std::vector<LinearCall> per_member(int M, auto make) {
  std::vector<LinearCall> calls;
  for (int m = 0; m < M; ++m) calls.push_back(make(m));
  return calls;
}

}  // namespace

int buf_width(const ModelConfig& cfg, Buf b) {
  switch (b) {
    case Buf::Qkv: return cfg.qkv_dim();
    case Buf::Ctx: return cfg.q_dim();
    case Buf::Up: return cfg.up_rows();
    case Buf::Mlp: return cfg.d_ff;
    default: return cfg.d_model;
  }
}

void block_forward(LayerOps& ops, const ModelConfig& cfg, const std::vector<const LayerWeights*>& Ls,
                   const Application& app) {
  const int M = static_cast<int>(Ls.size());
  const int d = cfg.d_model, qd = cfg.q_dim(), kvd = cfg.kv_dim();
  const bool pre = !cfg.post_norm, par = cfg.parallel_block;
  auto L = [&](int m) -> const LayerWeights& { return *Ls[m]; };
  auto out = [](int m) { return Ref{Buf::Out, m}; };
  const Ref x{Buf::X, 0};

  // Attention input: the first pre-norm when the layer has one, else x itself (post-norm
  // blocks, norm-free sas/sasp layers).
  std::vector<Ref> a_in(M, x);
  for (int m = 0; m < M; ++m)
    if (pre && L(m).ln1_w) {
      a_in[m] = {Buf::AttnIn, m};
      ops.norm(x, a_in[m], L(m).ln1_w, L(m).ln1_b);
    }

  // q | k | v; an identity value is the attention input itself (plus layer 0's extra matrix).
  ops.linear(cfg.qkv_rows(), d, 0, per_member(M, [&](int m) {
               return LinearCall{a_in[m], {Buf::Qkv, m}, &L(m).qkv_w, &L(m).qkv_b};
             }));
  if (cfg.identity_value) {
    ops.linear(kvd, kvd, qd + kvd, per_member(M, [&](int m) { return LinearCall{a_in[m], {Buf::Qkv, m}}; }));
    std::vector<LinearCall> extra;
    for (int m = 0; m < M; ++m)
      if (L(m).v_extra_w) extra.push_back({a_in[m], {Buf::Qkv, m}, &L(m).v_extra_w, nullptr, nullptr, true});
    if (!extra.empty()) ops.linear(kvd, d, qd + kvd, extra);
  }
  if (cfg.positions == Positions::Rope) ops.rope();
  ops.attend(app, Ls);

  // out = [x] + g_a * (ctx W_o^T + b_o, or ctx): the attention residual (sequential) or the
  // attention part of the block output (parallel: written after the MLP has read its input,
  // since out may alias x).
  auto attention_out = [&] {
    for (int m = 0; m < M; ++m) cfg.attn_skip ? ops.copy(x, out(m)) : ops.zero(out(m));
    ops.linear(d, qd, 0, per_member(M, [&](int m) {
                 return LinearCall{{Buf::Ctx, m}, out(m), &L(m).o_w, &L(m).o_b, &L(m).attn_gain, true};
               }));
  };
  if (!par) attention_out();

  // MLP input: sequential: LN2(h) or h; parallel: LN2(x) or the attention input; post-norm:
  // LN1 of the attention residual, in place.
  std::vector<Ref> mlp_in(M);
  for (int m = 0; m < M; ++m) {
    if (!pre) {
      ops.norm(out(m), out(m), L(m).ln1_w, L(m).ln1_b);
      mlp_in[m] = out(m);
    } else if (L(m).ln2_w) {
      mlp_in[m] = {Buf::MlpIn, m};
      ops.norm(par ? x : out(m), mlp_in[m], L(m).ln2_w, L(m).ln2_b);
    } else {
      mlp_in[m] = par ? a_in[m] : out(m);
    }
  }
  ops.linear(cfg.up_rows(), d, 0, per_member(M, [&](int m) {
               return LinearCall{mlp_in[m], {Buf::Up, m}, &L(m).up_w, &L(m).up_b};
             }));
  ops.activate();

  if (par) attention_out();
  // out = s_ff * out + b_ff * MLP (both 1 for standard blocks).
  for (int m = 0; m < M; ++m)
    if (L(m).mlp_skip_gain) ops.scale(out(m), L(m).mlp_skip_gain);
  ops.linear(d, cfg.d_ff, 0, per_member(M, [&](int m) {
               return LinearCall{{Buf::Mlp, m}, out(m), &L(m).down_w, &L(m).down_b, &L(m).mlp_gain, true};
             }));
  if (!pre)
    for (int m = 0; m < M; ++m) ops.norm(out(m), out(m), L(m).ln2_w, L(m).ln2_b);
  ops.trace(app);
}

void run_plan_step(LayerOps& ops, const ModelConfig& cfg, const ModelWeights& w, const PlanStep& step,
                   int step_index, int first_slot) {
  const int M = static_cast<int>(step.layers.size());
  std::vector<const LayerWeights*> Ls(M);
  for (int m = 0; m < M; ++m) Ls[m] = &w.layers[step.layers[m]];
  for (int it = 0; it < step.iterations; ++it) {
    Application app{step.layers, std::vector<int>(M, -1), step_index, it};
    if (first_slot >= 0)
      for (int m = 0; m < M; ++m) app.slots[m] = first_slot + it * M + m;
    ops.begin(M);
    block_forward(ops, cfg, Ls, app);
    if (M > 1) ops.mean_of_members();
  }
}

}  // namespace layerlab
