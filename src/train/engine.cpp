// The CPU engine (the model and optimiser themselves) and the CUDA engine (CudaTrainModel,
// whose state is copied from / to the host model only at start, checkpoints and the end).
#include "train/engine.h"

#include "layerlab/cuda_backend.h"
#include "layerlab/error.h"
#include "layerlab/train_cuda.h"

namespace layerlab::train {

std::string TrainDevice::name() const { return gpu < 0 ? "cpu" : "cuda:" + std::to_string(gpu); }

TrainDevice parse_train_device(const std::string& device, const std::string& dtype) {
  TrainDevice d;
  d.gpu = parse_device(device);
  if (dtype != "f32" && dtype != "tf32") fail_option("dtype", "unknown training dtype '" + dtype + "' (f32, tf32)");
  d.tf32 = dtype == "tf32";
  if (d.tf32 && d.gpu < 0) fail_option("dtype", "tf32 needs a CUDA device (the CPU trains in f32)");
  if (d.gpu >= 0 && !cuda_available()) fail_option("device", "'" + device + "': no CUDA GPU visible");
  return d;
}

namespace {

class CpuEngine : public Engine {
 public:
  CpuEngine(Transformer<float>& m, AdamW& opt) : m_(m), opt_(opt) {}
  double forward(const int32_t* in, const int32_t* tgt, int b, int len) override { return m_.forward(in, tgt, b, len); }
  void backward() override { m_.backward(); }
  double clip_and_step(double lr, double max_norm) override {
    const double norm = clip_grad_norm(m_.grads(), max_norm);
    opt_.step(m_.params(), m_.grads(), lr);
    return norm;
  }
  void push() override {}
  void pull() override {}

 private:
  Transformer<float>& m_;
  AdamW& opt_;
};

class CudaEngine : public Engine {
 public:
  CudaEngine(const TrainDevice& d, Transformer<float>& m, AdamW& opt, const OptimConfig& c)
      : m_(m), opt_(opt), dev_(m.shape(), c, d.gpu, d.tf32) {}
  double forward(const int32_t* in, const int32_t* tgt, int b, int len) override { return dev_.forward(in, tgt, b, len); }
  void backward() override { dev_.backward(); }
  double clip_and_step(double lr, double max_norm) override { return dev_.clip_and_step(lr, max_norm); }
  void push() override {
    dev_.upload(m_.params());
    dev_.upload_moments(opt_.m(), opt_.v());
    dev_.set_adam_steps(opt_.steps());
  }
  void pull() override {
    dev_.download(m_.params());
    dev_.download_moments(opt_.m(), opt_.v());
    opt_.set_steps(dev_.adam_steps());
  }

 private:
  Transformer<float>& m_;
  AdamW& opt_;
  CudaTrainModel dev_;
};

}  // namespace

std::unique_ptr<Engine> make_engine(const TrainDevice& d, Transformer<float>& model, AdamW& opt,
                                    const OptimConfig& c) {
  if (d.gpu < 0) return std::make_unique<CpuEngine>(model, opt);
  return std::make_unique<CudaEngine>(d, model, opt, c);
}

}  // namespace layerlab::train
