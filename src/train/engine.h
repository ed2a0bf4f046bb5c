#pragma once
// Where the arithmetic of a training step runs. The loop (src/train/trainer.cpp) keeps the
// host model and optimiser (checkpoints, export, resume); an Engine runs forward, backward,
// clipping and the AdamW step on them (CPU), or on a device copy of them (CUDA) that push()
// and pull() keep in step with the host.
#include <memory>
#include <string>

#include "layerlab/train.h"

namespace layerlab::train {

// --device cpu | cuda | cuda:N, --dtype f32 | tf32 (TF32 tensor cores: CUDA only).
struct TrainDevice {
  int gpu = -1;  // < 0: the CPU
  bool tf32 = false;
  std::string name() const;  // "cpu" or "cuda:N"
  const char* dtype() const { return tf32 ? "tf32" : "f32"; }
};
TrainDevice parse_train_device(const std::string& device, const std::string& dtype);

class Engine {
 public:
  virtual ~Engine() = default;
  virtual double forward(const int32_t* inputs, const int32_t* targets, int batch, int len) = 0;
  virtual void backward() = 0;
  // Global gradient norm (before clipping), clipping to max_norm, one AdamW step at lr.
  virtual double clip_and_step(double lr, double max_norm) = 0;
  virtual void push() = 0;  // host parameters, moments and step count -> engine
  virtual void pull() = 0;  // engine -> host
};

// An engine over `model` and `opt` (which must outlive it).
std::unique_ptr<Engine> make_engine(const TrainDevice& d, Transformer<float>& model, AdamW& opt,
                                    const OptimConfig& c);

}  // namespace layerlab::train
