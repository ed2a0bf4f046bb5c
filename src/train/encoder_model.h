#pragma once
// A trainable BERT encoder (post-LN blocks, exact GELU, bidirectional attention, word +
// position + token-type embeddings) run under a layer plan, with its backward: a layer the plan
// uses twice gets both gradients, a parallel group's members see the same input and their
// outputs are averaged (the mean's gradient is split evenly). Parameters and gradients live in
// caller-owned flat vectors (the fine-tuning engine appends the head after them); tensor names
// are Hugging Face's. Templated on float / double: the float64 copy is gradient-checked.
#include <cstdint>
#include <string>
#include <vector>

#include "layerlab/plan.h"
#include "layerlab/train.h"

namespace layerlab::finetune {

struct EncoderShape {
  int n_layer = 0, d_model = 0, n_head = 0, d_ff = 0, vocab = 0, max_positions = 0, type_vocab = 2;
  double norm_eps = 1e-12;
};

// Every encoder tensor in Hugging Face's names ("bert.embeddings...", "bert.encoder.layer.L...")
// with offsets from `offset0`; weight matrices and embeddings are `matrix` (decayed, as the
// Hugging Face Trainer decays everything but biases and LayerNorm weights).
std::vector<train::TensorSpec> encoder_layout(const EncoderShape& s, int64_t offset0 = 0);

template <class T>
class EncoderModel {
 public:
  EncoderModel(const EncoderShape& s, const Plan& plan);
  ~EncoderModel();
  EncoderModel(const EncoderModel&) = delete;
  EncoderModel& operator=(const EncoderModel&) = delete;
  const std::vector<train::TensorSpec>& layout() const { return layout_; }
  // Runs one sequence (ids, types of length n) under the plan with parameters at `params`
  // (layout()'s offsets); returns the final hidden states [n, d] and keeps the activations
  // in slot `slot` for backward (slots: one per sequence of a batch).
  const std::vector<T>& forward(const T* params, const std::vector<int32_t>& ids, const std::vector<int32_t>& types,
                                int slot);
  // Accumulates into `grads` the gradient of the loss given d loss / d (final hidden states)
  // `dout` [n, d] of the sequence in `slot`.
  void backward(const T* params, T* grads, const std::vector<T>& dout, int slot);
  void reserve_slots(int n);

 private:
  struct Acts;
  EncoderShape s_;
  Plan plan_;
  std::vector<train::TensorSpec> layout_;
  std::vector<Acts*> slots_;
};
extern template class EncoderModel<float>;
extern template class EncoderModel<double>;

}  // namespace layerlab::finetune
