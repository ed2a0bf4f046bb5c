#pragma once
// What the fine-tuning loop (finetune.cpp) trains: an engine owns the trainable parameters in
// one flat vector with their layout (for AdamW and the checkpoint), computes a batch's loss and
// gradients, and predicts the dev set.
#include <memory>
#include <string>
#include <vector>

#include "layerlab/finetune.h"
#include "layerlab/safetensors.h"

namespace layerlab::finetune {

class Engine {
 public:
  virtual ~Engine() = default;
  virtual std::vector<float>& params() = 0;
  virtual std::vector<float>& grads() = 0;
  virtual const std::vector<train::TensorSpec>& layout() const = 0;
  // Identifies model + head shape, so a checkpoint of another run is refused.
  virtual std::string layout_name() const = 0;
  virtual std::string pooler_note() const = 0;
  // Mean loss of the training examples `idx`; grads() = its gradient.
  virtual double batch_loss(const std::vector<size_t>& idx, const std::vector<int>& labels,
                            const std::vector<double>& targets) = 0;
  // Logits of every dev example [n_dev, num_labels].
  virtual std::vector<float> dev_logits() = 0;
  // The head's current weights under Hugging Face names (pooler included, trained or not).
  virtual std::vector<OutTensor> head_tensors() const = 0;
};

std::unique_ptr<Engine> make_head_only_engine(Runner& runner, const Options& o, const glue::TaskSpec& task,
                                              const std::vector<glue::Encoded>& train, const std::vector<glue::Encoded>& dev);
std::unique_ptr<Engine> make_full_engine(Runner& runner, const Options& o, const glue::TaskSpec& task,
                                         const std::vector<glue::Encoded>& train, const std::vector<glue::Encoded>& dev);

// config.json's initializer_range (Hugging Face's default 0.02 when absent).
double initializer_range(const std::string& model_dir);

}  // namespace layerlab::finetune
