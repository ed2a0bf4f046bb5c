#pragma once
// The CUDA backend: weights uploaded once to the GPU (float32, or bf16 / f16 with float32
// accumulation), hidden states in device memory, cuBLAS matrix products and simple fused
// kernels (norms, RoPE, activations, causal softmax attention). Declared in every build;
// without CUDA support compiled in, make_cuda_backend throws "this build has no CUDA support".
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "layerlab/backend.h"

namespace layerlab {

// f32: float32 weights and products (TF32 off, the 1e-4 path); tf32: float32 weights with
// TF32 tensor-core products; bf16 / f16: half-precision weights and GEMM inputs, float32
// accumulation, residual stream, norms, softmax and KV cache.
enum class CudaDType { F32, TF32, BF16, F16 };

CudaDType parse_cuda_dtype(const std::string& name);  // "f32" | "tf32" | "bf16" | "f16"
// --device: "cpu" -> -1, "cuda" -> 0, "cuda:N" -> N. Anything else, or a GPU in a build without
// CUDA support, is an Error naming --device.
int parse_device(const std::string& device);
const char* cuda_dtype_name(CudaDType t);

// True when this build has CUDA support and at least one GPU is visible.
bool cuda_available();
bool cuda_built();

struct CudaOptions {
  // false issues a parallel group's matrix products one member at a time instead of one
  // batched cuBLAS call per stage (a benchmark's reference point).
  bool batched_groups = true;
};

std::unique_ptr<Backend> make_cuda_backend(const Model& model, CudaDType dtype = CudaDType::F32, int device = 0,
                                           const CudaOptions& options = {});

// Waits for all queued GPU work (for timing).
void cuda_synchronize();

}  // namespace layerlab
