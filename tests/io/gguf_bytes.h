#pragma once
// A GGUF file assembled byte by byte from the format's specification (ggml docs/gguf.md),
// independently of layerlab's writer, so tests can make exact, deliberately broken files.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace layerlab::testing {

struct GgufBytes {
  std::string b;
  template <class T>
  GgufBytes& put(T v) {
    b.append(reinterpret_cast<const char*>(&v), sizeof(T));
    return *this;
  }
  GgufBytes& str(const std::string& s) {
    put<uint64_t>(s.size());
    b += s;
    return *this;
  }
  GgufBytes& header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    b += "GGUF";
    return put(version).put(n_tensors).put(n_kv);
  }
  GgufBytes& kv_u32(const std::string& key, uint32_t v) { return str(key).put<uint32_t>(4).put(v); }
  GgufBytes& kv_str(const std::string& key, const std::string& v) { return str(key).put<uint32_t>(8).str(v); }
  // tensor info: name, n_dims, dims (ggml order), ggml type, offset in the data section
  GgufBytes& tensor(const std::string& name, const std::vector<uint64_t>& dims, uint32_t type, uint64_t offset) {
    str(name).put<uint32_t>(uint32_t(dims.size()));
    for (auto d : dims) put(d);
    return put(type).put(offset);
  }
  GgufBytes& align(size_t a = 32) {
    while (b.size() % a) b.push_back('\0');
    return *this;
  }
  GgufBytes& floats(const std::vector<float>& v) {
    for (float f : v) put(f);
    return *this;
  }
};

}  // namespace layerlab::testing
