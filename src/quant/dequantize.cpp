// dequantize_rows: any stored weight type -> float32 rows.
#include <cstring>

#include "layerlab/error.h"
#include "layerlab/model.h"
#include "layerlab/safetensors.h"

namespace layerlab {

void dequantize_rows(const Param& p, int64_t r0, int64_t n, float* out) {
  if (r0 < 0 || n < 0 || r0 + n > p.rows) throw Error("dequantize_rows: rows out of range");
  const int64_t cols = p.cols;
  switch (p.type) {
    case WeightType::F32:
      std::memcpy(out, p.data + r0 * cols, size_t(n * cols) * 4);
      return;
    case WeightType::F16:
    case WeightType::BF16: {
      const auto* src = reinterpret_cast<const uint16_t*>(p.row_ptr(r0));
      const bool f16 = p.type == WeightType::F16;
      for (int64_t i = 0; i < n * cols; ++i) out[i] = f16 ? f16_to_f32(src[i]) : bf16_to_f32(src[i]);
      return;
    }
    default:
      throw Error(std::string("dequantize_rows: no kernel for ") + weight_type_name(p.type) + " yet");
  }
}

}  // namespace layerlab
