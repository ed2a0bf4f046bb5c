// dequantize_row / dequantize_rows: any stored weight type -> float32 rows.
#include <cstring>

#include "layerlab/error.h"
#include "layerlab/model.h"
#include "layerlab/quantize.h"
#include "quant/decode.h"

namespace layerlab {

void dequantize_row(WeightType type, const void* src, int64_t cols, float* out) {
  row_bytes(type, cols, "dequantize_row");  // throws unless cols is whole blocks
  quant::decode_row(type, static_cast<const uint8_t*>(src), cols, out);
}

void dequantize_rows(const Param& p, int64_t r0, int64_t n, float* out) {
  if (r0 < 0 || n < 0 || r0 + n > p.rows)
    throw Error("dequantize_rows: rows [" + std::to_string(r0) + ", " + std::to_string(r0 + n) +
                ") outside a weight of " + std::to_string(p.rows) + " rows");
  const int64_t cols = p.cols, stride = p.bytes_per_row();
  const uint8_t* src = p.row_ptr(r0);
#pragma omp parallel for if (n * cols >= (int64_t(1) << 20))
  for (int64_t r = 0; r < n; ++r) quant::decode_row(p.type, src + r * stride, cols, out + r * cols);
}

}  // namespace layerlab
