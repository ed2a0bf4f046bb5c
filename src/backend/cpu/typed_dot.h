#pragma once
// Fused one-row products with typed weights (typed_gemm.cpp's path for m = 1): each block is
// decoded in registers and multiplied at once. See typed_dot.cpp.
#include <cstdint>

#include "layerlab/weight_type.h"

namespace layerlab::cpu {

// Whether this CPU and build have a fused kernel for t (q8_0, q4_K, q6_K, f16, bf16 on AVX-512).
bool has_fused_dot(WeightType t);
// y[j] = row j . x for the n rows at `rows` (stride bytes apart), each of k values (whole blocks).
void fused_dot_rows(WeightType t, const uint8_t* rows, int64_t stride, int64_t n, const float* x, int64_t k, float* y);

}  // namespace layerlab::cpu
