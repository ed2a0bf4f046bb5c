#pragma once
// Reading and writing GGUF files (llama.cpp's single-file model format, versions 2 and 3):
// "GGUF", version, tensor and key-value counts, the key-value metadata, the tensor table,
// then the tensor data at offsets aligned to general.alignment (default 32). Files are
// memory-mapped and every header field is checked before use (counts against the bytes left,
// string lengths, array types and counts, tensor dims, types, offsets, overlaps, duplicates),
// so a truncated or lying file gives a layerlab::Error naming the file and the key or tensor.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "layerlab/weight_type.h"

namespace layerlab {

// gguf_type: the value types of GGUF metadata.
enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12
};
const char* gguf_type_name(GgufType t);

// One metadata value. Scalars: integers in `i` (signed, bools) or `u` (unsigned), every number
// also as `num`; strings in `str`. Arrays (one level: nested arrays are refused): `elem`,
// `count` and either `strings` or the numbers as double in `nums` (exact for all but 64-bit
// integers beyond 2^53).
struct GgufValue {
  GgufType type = GgufType::U8;
  GgufType elem = GgufType::U8;  // arrays only
  uint64_t count = 0;            // arrays only
  double num = 0;
  int64_t i = 0;
  uint64_t u = 0;
  std::string str;
  std::vector<std::string> strings;
  std::vector<double> nums;
  bool is_integer() const;  // a scalar integer type (not bool)
};

struct GgufTensor {
  std::string name;
  uint32_t ggml_type = 0;
  WeightType type = WeightType::F32;
  std::vector<int64_t> dims;  // ggml order: dims[0] is the number of values in a row
  uint64_t offset = 0;        // absolute offset in the file
  uint64_t bytes = 0;
  int64_t cols() const { return dims.empty() ? 1 : dims[0]; }
  int64_t rows() const;  // product of dims[1..]
  int64_t numel() const { return rows() * cols(); }
};

class GgufFile {
 public:
  explicit GgufFile(const std::string& path);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t file_size() const { return size_; }
  const std::vector<GgufTensor>& tensors() const { return tensors_; }  // in file order
  const GgufTensor* find(const std::string& name) const;
  const GgufTensor& get(const std::string& name) const;  // error naming file and tensor if absent
  const uint8_t* data(const GgufTensor& t) const { return base_ + t.offset; }

  const std::vector<std::string>& keys() const { return keys_; }  // in file order
  const GgufValue* value(const std::string& key) const;
  bool has(const std::string& key) const { return value(key) != nullptr; }

  // Typed accessors: an absent key (without a fallback), another type or a value out of
  // [lo, hi] is an Error "FILE: metadata key 'KEY': why".
  std::string get_string(const std::string& key) const;
  std::string get_string_or(const std::string& key, const std::string& fallback) const;
  int64_t get_int(const std::string& key, int64_t lo, int64_t hi) const;  // any integer type
  int64_t get_int_or(const std::string& key, int64_t fallback, int64_t lo, int64_t hi) const;
  double get_float(const std::string& key) const;  // F32 / F64 (or an integer)
  double get_float_or(const std::string& key, double fallback) const;
  bool get_bool_or(const std::string& key, bool fallback) const;
  const std::vector<std::string>& get_strings(const std::string& key) const;
  std::vector<float> get_f32_array(const std::string& key) const;  // any number type
  std::vector<int32_t> get_i32_array(const std::string& key, int64_t lo, int64_t hi) const;
  [[noreturn]] void bad(const std::string& key, const std::string& why) const;

  // The mapping itself, so a Model can keep it alive while Params point into it.
  std::shared_ptr<const void> mapping() const { return mapping_; }

 private:
  std::string path_;
  std::shared_ptr<const void> mapping_;
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  std::vector<GgufTensor> tensors_;
  std::map<std::string, size_t> tensor_index_;
  std::vector<std::string> keys_;
  std::map<std::string, GgufValue> values_;
};

// True if `path` is a regular file that ends in ".gguf" or starts with the GGUF magic.
bool is_gguf_file(const std::string& path);

// --- Writing (tests, and later `layerlab export`).

// A metadata value to write; make one with the helpers below.
struct GgufOutValue {
  GgufType type = GgufType::U32;
  GgufType elem = GgufType::U8;
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0;
  bool b = false;
  std::string str;
  std::vector<std::string> strings;
  std::vector<double> nums;  // numeric arrays, written as `elem`
};
GgufOutValue gguf_u32(uint32_t v);
GgufOutValue gguf_i32(int32_t v);
GgufOutValue gguf_f32(float v);
GgufOutValue gguf_bool(bool v);
GgufOutValue gguf_str(std::string v);
GgufOutValue gguf_strings(std::vector<std::string> v);
GgufOutValue gguf_f32s(std::vector<float> v);
GgufOutValue gguf_i32s(std::vector<int32_t> v);

// A tensor to write: its raw bytes in `type` (row_bytes(type, dims[0]) per row).
struct GgufOutTensor {
  std::string name;
  WeightType type = WeightType::F32;
  std::vector<int64_t> dims;  // ggml order (dims[0]: values per row)
  std::string bytes;
};
GgufOutTensor gguf_f32_tensor(std::string name, std::vector<int64_t> dims, const std::vector<float>& values);

// Writes a GGUF v3 file atomically (temporary file + rename). Metadata keys in the given order.
void write_gguf(const std::string& path, const std::vector<std::pair<std::string, GgufOutValue>>& metadata,
                const std::vector<GgufOutTensor>& tensors, uint32_t alignment = 32);

}  // namespace layerlab
