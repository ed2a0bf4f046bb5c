// Names and block geometry of the weight storage types (ggml's block layouts).
#include "layerlab/weight_type.h"

#include <cctype>

#include "layerlab/error.h"

namespace layerlab {

namespace {
struct TypeInfo {
  WeightType type;
  const char* name;
  int64_t elements, bytes;
  uint32_t ggml_id;  // ggml.h: F32 0, F16 1, Q4_0 2, Q8_0 8, Q4_K 12, Q5_K 13, Q6_K 14, BF16 30
};
// Block sizes as ggml defines them: Q8_0 = f16 scale + 32 int8; Q4_0 = f16 scale + 16 bytes of
// nibbles; the K types are 256-value super-blocks (Q4_K 144, Q5_K 176, Q6_K 210 bytes).
constexpr TypeInfo kTypes[] = {
    {WeightType::F32, "f32", 1, 4, 0},       {WeightType::F16, "f16", 1, 2, 1},
    {WeightType::BF16, "bf16", 1, 2, 30},    {WeightType::Q8_0, "q8_0", 32, 34, 8},
    {WeightType::Q4_0, "q4_0", 32, 18, 2},   {WeightType::Q4_K, "q4_K", 256, 144, 12},
    {WeightType::Q5_K, "q5_K", 256, 176, 13}, {WeightType::Q6_K, "q6_K", 256, 210, 14},
};
const TypeInfo& info(WeightType t) {
  for (const auto& i : kTypes)
    if (i.type == t) return i;
  throw Error("unknown weight type " + std::to_string(int(t)));
}
}  // namespace

const char* weight_type_name(WeightType t) { return info(t).name; }
int64_t block_elements(WeightType t) { return info(t).elements; }
int64_t block_bytes(WeightType t) { return info(t).bytes; }
bool is_quantized(WeightType t) { return info(t).elements > 1; }

bool parse_weight_type(const std::string& s, WeightType& out) {
  for (const auto& i : kTypes) {
    std::string a = i.name, b = s;
    for (auto& c : a) c = char(std::tolower(static_cast<unsigned char>(c)));
    for (auto& c : b) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (a == b) {
      out = i.type;
      return true;
    }
  }
  return false;
}

bool weight_type_from_ggml(uint32_t ggml_type, WeightType& out) {
  for (const auto& i : kTypes)
    if (i.ggml_id == ggml_type) {
      out = i.type;
      return true;
    }
  return false;
}
uint32_t ggml_type_id(WeightType t) { return info(t).ggml_id; }

int64_t row_bytes(WeightType t, int64_t cols, const std::string& what) {
  const TypeInfo& i = info(t);
  if (cols < 0 || cols % i.elements != 0)
    throw Error(what + ": " + std::to_string(cols) + " values per row is not a whole number of " + i.name +
                " blocks (" + std::to_string(i.elements) + " values each)");
  // Sizes come from files (GGUF dims up to 2^62): a row's bytes must fit int64_t.
  if (cols / i.elements > INT64_MAX / i.bytes)
    throw Error(what + ": a row of " + std::to_string(cols) + " " + i.name + " values is too large");
  return cols / i.elements * i.bytes;
}

}  // namespace layerlab
