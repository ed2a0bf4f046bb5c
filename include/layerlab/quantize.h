#pragma once
// Conversions between float32 and the stored weight types (weight_type.h). The block types
// use llama.cpp's (ggml's) exact byte layout, so rows read from a GGUF file decode here and
// rows quantized here can be written into one.
#include <cstdint>

#include "layerlab/weight_type.h"

namespace layerlab {

// out[cols] = the row of `cols` values stored in `type` at `src` (row_bytes(type, cols) bytes).
void dequantize_row(WeightType type, const void* src, int64_t cols, float* out);

// dst = src [rows, cols] stored in `type` (rows * row_bytes(type, cols) bytes), with ggml's
// reference quantizers (quantize_row_*_ref: no importance matrix). F16 / BF16 round to nearest
// even. Throws Error when cols is not a whole number of blocks.
void quantize_rows(WeightType type, const float* src, int64_t rows, int64_t cols, void* dst);

}  // namespace layerlab
