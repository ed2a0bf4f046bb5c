#pragma once
// Test-only: just enough of GGUF v3 (llama.cpp's gguf.cpp layout) to find one tensor's type,
// dims and bytes in a file read whole, so the block decoders can be checked against files
// llama.cpp wrote. Not a reader: the real one is src/io/gguf*. Every read is bounds-checked.
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace layerlab::test {

struct GgufTensor {
  std::string name;
  uint32_t ggml_type = 0;
  std::vector<uint64_t> dims;  // dims[0] is the row length (fastest)
  const uint8_t* data = nullptr;
};

class GgufLocator {
 public:
  explicit GgufLocator(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error(path + ": cannot open");
    std::stringstream ss;
    ss << f.rdbuf();
    bytes_ = ss.str();
    if (bytes_.compare(0, 4, "GGUF") != 0) throw std::runtime_error(path + ": not GGUF");
    at_ = 4;
    if (u32() != 3) throw std::runtime_error(path + ": not GGUF version 3");
    const uint64_t n_tensors = u64(), n_kv = u64();
    uint64_t alignment = 32;
    for (uint64_t i = 0; i < n_kv; ++i) {
      const std::string key = str();
      const uint32_t type = u32();
      if (key == "general.alignment" && type == 4) alignment = u32();
      else skip_value(type);
    }
    std::vector<uint64_t> offsets;
    for (uint64_t i = 0; i < n_tensors; ++i) {
      GgufTensor t;
      t.name = str();
      const uint32_t nd = u32();
      if (nd > 4) throw std::runtime_error("gguf: too many dims");
      for (uint32_t d = 0; d < nd; ++d) t.dims.push_back(u64());
      t.ggml_type = u32();
      offsets.push_back(u64());
      tensors_.push_back(t);
    }
    const uint64_t data_start = (at_ + alignment - 1) / alignment * alignment;
    for (size_t i = 0; i < tensors_.size(); ++i) {
      if (data_start + offsets[i] > bytes_.size()) throw std::runtime_error("gguf: offset past the end");
      tensors_[i].data = reinterpret_cast<const uint8_t*>(bytes_.data()) + data_start + offsets[i];
    }
  }
  const GgufTensor& get(const std::string& name) const {
    for (const auto& t : tensors_)
      if (t.name == name) return t;
    throw std::runtime_error("gguf: no tensor " + name);
  }
  // Bytes from t.data to the end of the file (for bounds checks by the caller).
  uint64_t bytes_after(const GgufTensor& t) const {
    return bytes_.size() - uint64_t(t.data - reinterpret_cast<const uint8_t*>(bytes_.data()));
  }

 private:
  void need(uint64_t n) const {
    if (n > bytes_.size() || at_ > bytes_.size() - n) throw std::runtime_error("gguf: truncated");
  }
  template <class T>
  T get_raw() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, bytes_.data() + at_, sizeof v);
    at_ += sizeof v;
    return v;
  }
  uint32_t u32() { return get_raw<uint32_t>(); }
  uint64_t u64() { return get_raw<uint64_t>(); }
  std::string str() {
    const uint64_t n = u64();
    need(n);
    std::string s = bytes_.substr(at_, n);
    at_ += n;
    return s;
  }
  void skip_value(uint32_t type) {
    static const uint64_t size[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};  // gguf_type 0..12
    if (type == 8) return void(str());
    if (type == 9) {
      const uint32_t et = u32();
      const uint64_t n = u64();
      if (et == 8 || et == 9) {
        for (uint64_t i = 0; i < n; ++i) skip_value(et);
        return;
      }
      if (et > 12) throw std::runtime_error("gguf: bad array type");
      need(n * size[et]);
      at_ += n * size[et];
      return;
    }
    if (type > 12) throw std::runtime_error("gguf: bad value type");
    need(size[type]);
    at_ += size[type];
  }

  std::string bytes_;
  uint64_t at_ = 0;
  std::vector<GgufTensor> tensors_;
};

}  // namespace layerlab::test
