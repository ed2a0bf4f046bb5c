#pragma once
// The operations a backend implements so that the transformer block (layer.cpp, written once)
// runs on it. The wiring names buffers; the backend owns them and chooses their storage (the
// CPU keeps float32 host memory; a GPU may keep product inputs in its compute dtype). Every
// operation covers all members of a parallel group at once, so a backend can batch them.
#include <vector>

#include "layerlab/model.h"
#include "layerlab/plan.h"

namespace layerlab {

// The activations of one layer application, per member m of the group (X is shared):
//   X [R, d] the step input   Out [R, d] member output (aliases X when there is one member)
//   AttnIn, MlpIn [R, d] norm outputs   Qkv [R, qkv_dim]   Ctx [R, q_dim] attention output
//   Up [R, up_rows] first MLP product   Mlp [R, d_ff] after the activation (aliases Up ungated)
enum class Buf { X, Out, AttnIn, Qkv, Ctx, MlpIn, Up, Mlp };

// Columns of a buffer's rows (the table above), the same for every backend.
int buf_width(const ModelConfig& cfg, Buf b);

struct Ref {
  Buf buf = Buf::X;
  int member = 0;
};

// out[:, col : col + n] (+)= gain * (in W^T + bias), in [R, k]. A null or empty W is the
// identity (n == k, no bias); a null or empty gain is 1; a null or empty bias is 0.
struct LinearCall {
  Ref in, out;
  const Param* w = nullptr;
  const Param* bias = nullptr;
  const Param* gain = nullptr;
  bool accumulate = false;
};

// Which layer application is running: for KV cache slots and the inspector.
struct Application {
  std::vector<int> layers;  // per member
  std::vector<int> slots;   // per member: KV cache slot, or -1 without a cache
  int step = 0, iteration = 0;
};

class LayerOps {
 public:
  virtual ~LayerOps() = default;
  // Sizes the buffers for `members` members of the current input (set by the backend).
  virtual void begin(int members) = 0;
  // out = norm(in) over d_model columns (LayerNorm or RMSNorm, per the model); in may be out.
  virtual void norm(Ref in, Ref out, const Param& w, const Param& b) = 0;
  // Every call, n output and k input columns, writing from column `col` of the output buffer.
  virtual void linear(int n, int k, int col, const std::vector<LinearCall>& calls) = 0;
  virtual void copy(Ref from, Ref to) = 0;  // [R, d]; nothing when they alias
  virtual void zero(Ref to) = 0;
  virtual void scale(Ref x, const Param& gain) = 0;  // x *= scalar
  // RoPE on the queries and keys in Qkv of every member.
  virtual void rope() = 0;
  // Ctx = attention over Qkv (keys and values appended to the cache slots when there is a
  // cache); shaped attention when the layers carry alpha / beta / gamma.
  virtual void attend(const Application& app, const std::vector<const LayerWeights*>& layers) = 0;
  // Mlp = act(Up): GELU in place, or SwiGLU of the [gate | up] halves.
  virtual void activate() = 0;
  // X = mean over members of Out (a parallel group's result).
  virtual void mean_of_members() = 0;
  // The inspector's view of each member after the block (only when one is set).
  virtual void trace(const Application& app) = 0;
};

// One transformer block for every member of `app` (layer.cpp): the named stages of the block
// over `ops`, following the block switches of ModelConfig (see LayerWeights in model.h).
void block_forward(LayerOps& ops, const ModelConfig& cfg, const std::vector<const LayerWeights*>& layers,
                   const Application& app);

// One plan step (every iteration) on the backend's current input: members run as one batched
// block, and a group's result is the mean of its members. first_slot: the step's first KV
// cache slot, or -1 without a cache.
void run_plan_step(LayerOps& ops, const ModelConfig& cfg, const ModelWeights& w, const PlanStep& step,
                   int step_index, int first_slot);

}  // namespace layerlab
