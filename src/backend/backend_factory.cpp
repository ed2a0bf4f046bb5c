// make_backend: device + dtype names -> the CPU or CUDA backend.
#include "layerlab/backend_factory.h"

#include "layerlab/cuda_backend.h"
#include "layerlab/error.h"

namespace layerlab {

void check_backend_spec(const BackendSpec& spec) {
  const int gpu = parse_device(spec.device);
  if (gpu < 0 && spec.dtype != "f32") fail_option("dtype", "the cpu device computes in f32 only");
  if (gpu >= 0) parse_cuda_dtype(spec.dtype);
}

std::unique_ptr<Backend> make_backend(const Model& model, const BackendSpec& spec) {
  check_backend_spec(spec);
  const int gpu = parse_device(spec.device);
  if (gpu < 0) return make_cpu_backend(model);
  return make_cuda_backend(model, parse_cuda_dtype(spec.dtype), gpu);
}

}  // namespace layerlab
