#pragma once
// Row decoders behind dequantize_row: a plain one for every type and AVX-512 ones chosen at
// run time when the CPU has AVX-512 BW (the build stays portable: the vector code is compiled
// for its target with function attributes, not for the whole program).
#include <cstdint>

#include "layerlab/weight_type.h"

namespace layerlab::quant {

// out[cols] from the row at src; cols a whole number of blocks (checked by the callers).
void decode_row_plain(WeightType type, const uint8_t* src, int64_t cols, float* out);
// The AVX-512 decoder; false when this CPU or build has none (then use decode_row_plain).
bool decode_row_avx512(WeightType type, const uint8_t* src, int64_t cols, float* out);
bool have_avx512();

// The fastest decoder this CPU has.
inline void decode_row(WeightType type, const uint8_t* src, int64_t cols, float* out) {
  if (!(have_avx512() && decode_row_avx512(type, src, cols, out))) decode_row_plain(type, src, cols, out);
}

}  // namespace layerlab::quant
