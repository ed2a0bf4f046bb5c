#pragma once
// The one place that turns a device and arithmetic-type name into a Backend: the CLI, the
// explainer server and the benchmarks all open backends through it.
#include <memory>
#include <string>

#include "layerlab/backend.h"

namespace layerlab {

struct BackendSpec {
  std::string device = "cpu";  // cpu, cuda or cuda:N
  std::string dtype = "f32";   // f32 on cpu; f32, tf32, bf16 or f16 on cuda
};

// Error naming --device / --dtype for a name that does not apply (a GPU in a build without
// CUDA, a dtype the cpu lacks), before anything is allocated.
void check_backend_spec(const BackendSpec& spec);
std::unique_ptr<Backend> make_backend(const Model& model, const BackendSpec& spec);

}  // namespace layerlab
