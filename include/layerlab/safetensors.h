#pragma once
// Reading and writing the safetensors format (https://huggingface.co/docs/safetensors):
// an 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}},
// then the raw data. Files are memory-mapped and every header field is validated before use,
// so a truncated or hostile file gives a clear layerlab::Error naming file and tensor.
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace layerlab {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

const char* dtype_name(DType t);
size_t dtype_size(DType t);

struct TensorInfo {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data section
  uint64_t end = 0;
  int64_t numel() const;
};

class SafetensorsFile {
 public:
  // Maps and validates `path`: header bounds, JSON, dtypes, shapes vs byte sizes,
  // offsets inside the data section and not overlapping.
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const TensorInfo* find(const std::string& name) const;
  const TensorInfo& get(const std::string& name) const;  // error naming file and tensor if absent
  uint64_t file_size() const { return size_; }

  // Raw bytes of a tensor (inside the mapping).
  const uint8_t* bytes(const TensorInfo& t) const;
  // The tensor converted to float32 (from F32/F16/BF16/F64); error for other dtypes.
  std::vector<float> read_f32(const std::string& name) const;
  // The same into `out` (numel() floats), converted in parallel: the loaders' path.
  void read_f32_into(const std::string& name, float* out) const;
  // Integer tensors (I64/I32) as int64.
  std::vector<int64_t> read_i64(const std::string& name) const;

 private:
  std::string path_;
  void* map_ = nullptr;
  uint64_t size_ = 0;
  uint64_t data_start_ = 0;
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// A tensor to write: float32 or int64 data with a shape.
struct OutTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> f32;    // used when dtype == F32
  std::vector<int64_t> i64;  // used when dtype == I64
  DType dtype = DType::F32;
};

// Writes a safetensors file atomically (temporary file + rename).
void write_safetensors(const std::string& path, const std::vector<OutTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Half-precision conversions used by loaders and backends.
float f16_to_f32(uint16_t h);
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);  // round to nearest even
uint16_t f32_to_f16(float f);   // round to nearest even

}  // namespace layerlab
