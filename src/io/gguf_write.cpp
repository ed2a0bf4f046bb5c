// GGUF v3 writer: header, metadata, tensor table, aligned data; written atomically.
#include <cstring>

#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/gguf.h"

namespace layerlab {

namespace {

template <class T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(T));
}

void put_string(std::string& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out += s;
}

void put_number(std::string& out, GgufType t, double d, const std::string& path, const std::string& key) {
  switch (t) {
    case GgufType::U8: put<uint8_t>(out, uint8_t(d)); break;
    case GgufType::I8: put<int8_t>(out, int8_t(d)); break;
    case GgufType::U16: put<uint16_t>(out, uint16_t(d)); break;
    case GgufType::I16: put<int16_t>(out, int16_t(d)); break;
    case GgufType::U32: put<uint32_t>(out, uint32_t(d)); break;
    case GgufType::I32: put<int32_t>(out, int32_t(d)); break;
    case GgufType::U64: put<uint64_t>(out, uint64_t(d)); break;
    case GgufType::I64: put<int64_t>(out, int64_t(d)); break;
    case GgufType::F32: put<float>(out, float(d)); break;
    case GgufType::F64: put<double>(out, d); break;
    case GgufType::BOOL: put<uint8_t>(out, d != 0); break;
    default: fail(path, "metadata key '" + key + "': not a number type");
  }
}

void put_value(std::string& out, const GgufOutValue& v, const std::string& path, const std::string& key) {
  put<uint32_t>(out, uint32_t(v.type));
  switch (v.type) {
    case GgufType::STRING: put_string(out, v.str); return;
    case GgufType::U64: put<uint64_t>(out, v.u); return;
    case GgufType::I64: put<int64_t>(out, v.i); return;
    case GgufType::U32: put<uint32_t>(out, uint32_t(v.u)); return;
    case GgufType::I32: put<int32_t>(out, int32_t(v.i)); return;
    case GgufType::BOOL: put<uint8_t>(out, v.b); return;
    case GgufType::F32: put<float>(out, float(v.f)); return;
    case GgufType::F64: put<double>(out, v.f); return;
    case GgufType::ARRAY:
      put<uint32_t>(out, uint32_t(v.elem));
      if (v.elem == GgufType::STRING) {
        put<uint64_t>(out, v.strings.size());
        for (const auto& s : v.strings) put_string(out, s);
      } else {
        put<uint64_t>(out, v.nums.size());
        for (double d : v.nums) put_number(out, v.elem, d, path, key);
      }
      return;
    default: put_number(out, v.type, double(v.i), path, key);
  }
}

void pad_to(std::string& out, uint64_t alignment) {
  while (out.size() % alignment) out.push_back('\0');
}

}  // namespace

GgufOutValue gguf_u32(uint32_t v) {
  GgufOutValue o;
  o.type = GgufType::U32;
  o.u = v;
  return o;
}
GgufOutValue gguf_i32(int32_t v) {
  GgufOutValue o;
  o.type = GgufType::I32;
  o.i = v;
  return o;
}
GgufOutValue gguf_f32(float v) {
  GgufOutValue o;
  o.type = GgufType::F32;
  o.f = v;
  return o;
}
GgufOutValue gguf_bool(bool v) {
  GgufOutValue o;
  o.type = GgufType::BOOL;
  o.b = v;
  return o;
}
GgufOutValue gguf_str(std::string v) {
  GgufOutValue o;
  o.type = GgufType::STRING;
  o.str = std::move(v);
  return o;
}
GgufOutValue gguf_strings(std::vector<std::string> v) {
  GgufOutValue o;
  o.type = GgufType::ARRAY;
  o.elem = GgufType::STRING;
  o.strings = std::move(v);
  return o;
}
GgufOutValue gguf_f32s(std::vector<float> v) {
  GgufOutValue o;
  o.type = GgufType::ARRAY;
  o.elem = GgufType::F32;
  o.nums.assign(v.begin(), v.end());
  return o;
}
GgufOutValue gguf_i32s(std::vector<int32_t> v) {
  GgufOutValue o;
  o.type = GgufType::ARRAY;
  o.elem = GgufType::I32;
  o.nums.assign(v.begin(), v.end());
  return o;
}

GgufOutTensor gguf_f32_tensor(std::string name, std::vector<int64_t> dims, const std::vector<float>& values) {
  GgufOutTensor t;
  t.name = std::move(name);
  t.type = WeightType::F32;
  t.dims = std::move(dims);
  t.bytes.assign(reinterpret_cast<const char*>(values.data()), values.size() * 4);
  return t;
}

void write_gguf(const std::string& path, const std::vector<std::pair<std::string, GgufOutValue>>& metadata,
                const std::vector<GgufOutTensor>& tensors, uint32_t alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) fail(path, "GGUF alignment must be a power of two");
  std::string out;
  put<uint32_t>(out, 0x46554747);  // "GGUF"
  put<uint32_t>(out, 3);
  put<uint64_t>(out, tensors.size());
  const bool write_alignment = alignment != 32;
  put<uint64_t>(out, metadata.size() + (write_alignment ? 1 : 0));
  for (const auto& [key, v] : metadata) {
    if (key == "general.alignment") fail(path, "pass the alignment as write_gguf's argument, not as metadata");
    put_string(out, key);
    put_value(out, v, path, key);
  }
  if (write_alignment) {
    put_string(out, "general.alignment");
    put_value(out, gguf_u32(alignment), path, "general.alignment");
  }
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    int64_t rows = 1;
    for (size_t k = 1; k < t.dims.size(); ++k) rows *= t.dims[k];
    const int64_t cols = t.dims.empty() ? 1 : t.dims[0];
    if (t.dims.empty() || uint64_t(rows * row_bytes(t.type, cols, path + ": tensor '" + t.name + "'")) != t.bytes.size())
      fail(path, "tensor '" + t.name + "': " + std::to_string(t.bytes.size()) + " bytes do not match its dims and type");
    put_string(out, t.name);
    put<uint32_t>(out, uint32_t(t.dims.size()));
    for (int64_t d : t.dims) put<uint64_t>(out, uint64_t(d));
    put<uint32_t>(out, ggml_type_id(t.type));
    put<uint64_t>(out, offset);
    offset += (t.bytes.size() + alignment - 1) / alignment * alignment;
  }
  pad_to(out, alignment);
  for (const auto& t : tensors) {
    out += t.bytes;
    pad_to(out, alignment);
  }
  write_file_atomic(path, out);
}

}  // namespace layerlab
