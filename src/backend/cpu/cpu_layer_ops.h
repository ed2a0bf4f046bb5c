#pragma once
// The CPU's implementation of the layer operations (backend/layer_ops.h): float32 host
// buffers, oneDNN products batched over the members of a group, OpenMP row loops.
#include <array>
#include <vector>

#include "backend/layer_ops.h"
#include "layerlab/backend.h"

namespace layerlab::cpu {

class CpuKvCache : public KvCache {
 public:
  std::vector<int> slot_offset;          // per plan step: first slot
  std::vector<std::vector<float>> k, v;  // per slot: [batch, capacity, kv_dim]
};

class CpuLayerOps final : public LayerOps {
 public:
  explicit CpuLayerOps(const ModelConfig& cfg) : cfg_(cfg) {}
  // The step input x [batch * tokens, d] (positions pos0...) and the cache, before a step runs.
  void set_input(float* x, int batch, int tokens, int pos0, CpuKvCache* kv);
  void set_inspector(Inspector* inspector) { inspector_ = inspector; }

  void begin(int members) override { M_ = members; }
  void norm(Ref in, Ref out, const Param& w, const Param& b) override;
  void linear(int n, int k, int col, const std::vector<LinearCall>& calls) override;
  void copy(Ref from, Ref to) override;
  void zero(Ref to) override;
  void scale(Ref x, const Param& gain) override;
  void rope() override;
  void attend(const Application& app, const std::vector<const LayerWeights*>& layers) override;
  void activate() override;
  void mean_of_members() override;
  void trace(const Application& app) override;

  // Member m's rows of a buffer (sized for the current input and members on first use): the
  // op-level tests (tests/backend/test_layer_ops.cpp) fill inputs and read outputs through it.
  float* data(Ref r) { return ptr(r); }

  // Row-wise helpers the backend's embedding and final norm share.
  void norm_rows(const float* x, float* y, int64_t rows, const Param& w, const Param& b) const;
  void activate_rows(float* x, size_t count) const;

 private:
  // Temporaries kept across layers and calls: fresh zero-filled vectors cost a memset and,
  // above malloc's mmap threshold, page faults on every layer (a fifth of a 512-token forward
  // pass of a GPT-2-124M-shaped model). Contents are not cleared: every user writes first.
  enum Slot { kAttnIn, kQkv, kCtx, kMlpIn, kUp, kMlp, kProbs, kBranch, kMembers, kSlots };
  float* slot(Slot s, size_t count);
  int width(Buf b) const { return buf_width(cfg_, b); }
  float* ptr(Ref r);

  const ModelConfig& cfg_;
  Inspector* inspector_ = nullptr;
  float* x_ = nullptr;
  int batch_ = 0, tokens_ = 0, pos0_ = 0, M_ = 1;
  CpuKvCache* kv_ = nullptr;
  std::array<std::vector<float>, kSlots> bufs_;
  int rope_positions_ = 0;
  std::vector<float> rope_cos_, rope_sin_;
};

}  // namespace layerlab::cpu
