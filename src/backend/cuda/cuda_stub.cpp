// Built when LAYERLAB_CUDA is OFF: the CUDA entry points exist and say so.
#include "layerlab/cuda_backend.h"
#include "layerlab/error.h"

namespace layerlab {

bool cuda_available() { return false; }
bool cuda_built() { return false; }

std::unique_ptr<Backend> make_cuda_backend(const Model&, CudaDType, int, const CudaOptions&) {
  fail_option("device", "'cuda': this build has no CUDA support");
}


void cuda_synchronize() {}

}  // namespace layerlab
