// CUDA dtype and device names, built with and without CUDA support.
#include <cstdlib>

#include "layerlab/cuda_backend.h"
#include "layerlab/error.h"

namespace layerlab {

CudaDType parse_cuda_dtype(const std::string& name) {
  if (name == "f32") return CudaDType::F32;
  if (name == "tf32") return CudaDType::TF32;
  if (name == "bf16") return CudaDType::BF16;
  if (name == "f16") return CudaDType::F16;
  fail_option("dtype", "unknown dtype '" + name + "' (f32, tf32, bf16, f16)");
}

int parse_device(const std::string& device) {
  int gpu = -1;
  if (device == "cuda") {
    gpu = 0;
  } else if (device.rfind("cuda:", 0) == 0 && device.size() > 5) {
    char* end = nullptr;
    const long v = std::strtol(device.c_str() + 5, &end, 10);
    if (*end != '\0' || v < 0 || v > 1024) fail_option("device", "'" + device + "': expected cuda or cuda:N");
    gpu = static_cast<int>(v);
  } else if (device != "cpu") {
    fail_option("device", "unknown device '" + device + "' (this build supports: cpu" +
                         std::string(cuda_built() ? ", cuda, cuda:N" : "") + ")");
  }
  if (gpu >= 0 && !cuda_built()) fail_option("device", "'" + device + "': this build has no CUDA support");
  return gpu;
}

const char* cuda_dtype_name(CudaDType t) {
  switch (t) {
    case CudaDType::F32: return "f32";
    case CudaDType::TF32: return "tf32";
    case CudaDType::BF16: return "bf16";
    case CudaDType::F16: return "f16";
  }
  return "?";
}

}  // namespace layerlab
