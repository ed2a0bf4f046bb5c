#pragma once
// Fine-tuning a BERT encoder on a GLUE task under a layer plan (docs/GLUE.md), as the
// Painters paper evaluates BERT: BertForSequenceClassification's head (pooler dense + tanh
// on the [CLS] hidden state after the plan, then a linear classifier, or one output for the
// STS-B regression), AdamW with linear warm-up and linear decay (BERT's recipe), dev-set
// evaluation after every epoch. `head_only`: the encoder is frozen, its features computed once
// under the plan by the inference backend and cached; only the head trains.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layerlab/glue.h"
#include "layerlab/plan.h"
#include "layerlab/train.h"

namespace layerlab {

class Runner;

namespace finetune {

// The head's tensors in one flat vector, named as in Hugging Face's BertForSequenceClassification:
// bert.pooler.dense.{weight,bias} (absent when the pooler is frozen into the features),
// classifier.{weight,bias}.
struct HeadShape {
  int d_model = 0;
  int num_labels = 2;         // 1: regression
  bool train_pooler = true;   // false: features are already pooled (a frozen pretrained pooler)
};
std::vector<train::TensorSpec> head_layout(const HeadShape& s);

// Forward and backward of the head on a batch of features [B, d_model]; templated so a float64
// copy can be checked against finite differences.
template <class T>
class Head {
 public:
  explicit Head(const HeadShape& s);
  const HeadShape& shape() const { return shape_; }
  const std::vector<train::TensorSpec>& layout() const { return layout_; }
  std::vector<T>& params() { return params_; }
  std::vector<T>& grads() { return grads_; }
  // Mean loss over the batch: cross-entropy of labels (classification) or squared error to
  // targets (regression, as torch MSELoss). With `backward`, grads() = d loss / d params
  // (written, not accumulated) and, when dx is given, dx = d loss / d features.
  double loss(const T* x, int B, const int* labels, const double* targets, bool backward, T* dx = nullptr);
  // Logits [B, num_labels] (regression: the predicted score).
  std::vector<T> logits(const T* x, int B);

 private:
  HeadShape shape_;
  std::vector<train::TensorSpec> layout_;
  std::vector<T> params_, grads_;
  std::vector<T> pooled_, z_;  // last forward
};
extern template class Head<float>;
extern template class Head<double>;

// Hugging Face's initialisation: weights normal(0, init_std), biases 0; a generator seeded
// from `seed` (the same numbers on every machine).
void init_normal(std::vector<float>& params, const std::vector<train::TensorSpec>& layout, double init_std, uint64_t seed);

// get_linear_schedule_with_warmup as the Hugging Face Trainer steps it: the rate of optimizer
// step `step` (0-based) of `total` is lr * step / warmup during warm-up, then
// lr * (total - step) / (total - warmup).
double linear_schedule(double lr, int step, int warmup, int total);

struct Options {
  std::string model_dir, data_dir, task, out_dir;
  Plan plan;
  bool head_only = true;
  int epochs = 3;
  double lr = 2e-5;
  int batch = 32;
  int max_length = 128;
  double warmup_ratio = 0.1;  // warm-up steps = ceil(ratio * total steps)
  double weight_decay = 0.01; // decoupled, on weight matrices only
  double clip = 1.0;          // max global gradient norm (the Trainer's max_grad_norm)
  uint64_t seed = 42;
  int64_t limit_train = 0, limit_dev = 0;  // > 0: first records only (tests, smoke runs)
  int log_every = 0;          // > 0: print the loss every this many steps
  bool resume = false;        // continue from out_dir/checkpoint.safetensors
  int stop_after = 0;         // > 0: stop after this many epochs (resume later with the same options)
  int record_steps = 0;       // > 0: OUT/first_steps.json holds the first steps' inputs, rates
                              // and losses (bench/glue/torch_reference.py replays them)
};

// Features for head-only training: the [CLS] row of the hidden state after `plan`, through
// the checkpoint's pooler when `pooler_w` is non-empty. Sequences of equal length are batched
// (bidirectional attention, no padding). out [n, d]. `on_done(k)` after each batch of k inputs.
std::vector<float> cls_features(Runner& runner, const Plan& plan, const std::vector<glue::Encoded>& inputs,
                                const std::vector<float>& pooler_w, const std::vector<float>& pooler_b,
                                const std::function<void(int64_t)>& on_done = {});

// The whole run: reads the task, trains, evaluates on the dev set after every epoch, writes
// OUT/results.json (atomically, after every epoch), OUT/head_init.safetensors (the head's
// initial weights, for the PyTorch cross-check) and OUT/checkpoint.safetensors (head,
// AdamW state and step, after every epoch: `resume` continues exactly). Returns the results JSON.
nlohmann::json run(const Options& o);

}  // namespace finetune
}  // namespace layerlab
