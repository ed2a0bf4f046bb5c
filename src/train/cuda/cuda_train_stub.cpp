// Built when LAYERLAB_CUDA is OFF: CudaTrainModel exists and says that it cannot run.
#include "layerlab/error.h"
#include "layerlab/train_cuda.h"

namespace layerlab::train {

struct CudaTrainModel::Impl {};

CudaTrainModel::CudaTrainModel(const ModelShape&, const OptimConfig&, int, bool) {
  fail_option("device", "'cuda': this build has no CUDA support");
}
CudaTrainModel::~CudaTrainModel() = default;

// Unreachable: no object can be constructed.
const ModelShape& CudaTrainModel::shape() const { fail("cuda train", "this build has no CUDA support"); }
int64_t CudaTrainModel::size() const { return 0; }
void CudaTrainModel::upload(const std::vector<float>&) {}
void CudaTrainModel::download(std::vector<float>&) const {}
void CudaTrainModel::upload_moments(const std::vector<float>&, const std::vector<float>&) {}
void CudaTrainModel::download_moments(std::vector<float>&, std::vector<float>&) const {}
std::vector<float> CudaTrainModel::download_grads() const { return {}; }
double CudaTrainModel::forward(const int32_t*, const int32_t*, int, int) { return 0; }
void CudaTrainModel::backward() {}
double CudaTrainModel::clip_and_step(double, double) { return 0; }
int64_t CudaTrainModel::adam_steps() const { return 0; }
void CudaTrainModel::set_adam_steps(int64_t) {}

}  // namespace layerlab::train
