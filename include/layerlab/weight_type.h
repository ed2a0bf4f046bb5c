#pragma once
// The storage types of weight matrices. Weights stay in the type their file stores them in
// (safetensors F32 / F16 / BF16, GGUF F32 / F16 / BF16 / Q8_0 / Q4_0 / Q4_K / Q5_K / Q6_K);
// a backend either has a kernel for the type or dequantizes rows into float32.
// Quantized types store each row as whole blocks in llama.cpp's (ggml's) layout, so a row of
// `cols` values takes row_bytes(type, cols) bytes and rows can be reordered or concatenated
// without touching the blocks.
#include <cstdint>
#include <string>

namespace layerlab {

enum class WeightType : uint8_t { F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K };

const char* weight_type_name(WeightType t);      // "f32", "f16", "bf16", "q8_0", ...
bool parse_weight_type(const std::string& s, WeightType& out);  // inverse of weight_type_name
int64_t block_elements(WeightType t);             // values per block: 1, 32 or 256
int64_t block_bytes(WeightType t);                // bytes per block
bool is_quantized(WeightType t);                  // a block type (not f32 / f16 / bf16)
// Bytes of one row of `cols` values; throws Error naming `what` when cols is not a whole
// number of blocks.
int64_t row_bytes(WeightType t, int64_t cols, const std::string& what = "weight");
// GGUF / ggml tensor type ids (ggml.h's enum ggml_type): false for a type layerlab lacks.
bool weight_type_from_ggml(uint32_t ggml_type, WeightType& out);
uint32_t ggml_type_id(WeightType t);

}  // namespace layerlab
