#pragma once
// Training on an NVIDIA GPU: the model of train.h (same blocks, same flat parameter layout as
// parameter_layout(), same loss) with parameters, gradients, AdamW moments and activations in
// device memory. Float32 arithmetic; matrix products through cuBLAS (exact float32, or TF32
// tensor cores when asked). Runs are bit-for-bit repeatable: no atomics into gradients, every
// reduction has a fixed order. Declared in every build; without CUDA support compiled in, the
// constructor throws "this build has no CUDA support". See docs/TRAINING.md.
#include <cstdint>
#include <memory>
#include <vector>

#include "layerlab/train.h"

namespace layerlab::train {

class CudaTrainModel {
 public:
  // Parameters start at zero: upload() them (e.g. from an initialised Transformer<float>).
  CudaTrainModel(const ModelShape& shape, const OptimConfig& optim, int device = 0, bool tf32 = false);
  ~CudaTrainModel();
  CudaTrainModel(const CudaTrainModel&) = delete;
  CudaTrainModel& operator=(const CudaTrainModel&) = delete;

  const ModelShape& shape() const;
  int64_t size() const;  // parameter count

  // Whole flat vectors (parameter_layout order); sizes must equal size().
  void upload(const std::vector<float>& params);
  void download(std::vector<float>& params) const;
  void upload_moments(const std::vector<float>& m, const std::vector<float>& v);
  void download_moments(std::vector<float>& m, std::vector<float>& v) const;
  std::vector<float> download_grads() const;

  // As Transformer<float>::forward: mean next-token cross-entropy; keeps the activations.
  double forward(const int32_t* inputs, const int32_t* targets, int batch, int len);
  // Gradients of the last forward's loss, written (not accumulated).
  void backward();
  // Global L2 norm of the gradients (returned, before clipping); when max_norm > 0 and the norm
  // exceeds it, the gradients are scaled by max_norm / (norm + 1e-6) (torch clip_grad_norm_);
  // then one AdamW step as AdamW::step (decay mask from decays()).
  double clip_and_step(double lr, double max_norm);
  int64_t adam_steps() const;
  void set_adam_steps(int64_t t);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace layerlab::train
