// CUDA dtype names, built with and without CUDA support.
#include "layerlab/cuda_backend.h"
#include "layerlab/error.h"

namespace layerlab {

CudaDType parse_cuda_dtype(const std::string& name) {
  if (name == "f32") return CudaDType::F32;
  if (name == "tf32") return CudaDType::TF32;
  if (name == "bf16") return CudaDType::BF16;
  if (name == "f16") return CudaDType::F16;
  fail("--dtype", "unknown dtype '" + name + "' (f32, tf32, bf16, f16)");
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
