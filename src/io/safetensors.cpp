#include "layerlab/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "util/json_read.h"

namespace layerlab {

namespace {

constexpr uint64_t kMaxHeader = 100ull << 20;  // the reference implementation's limit

bool parse_dtype(const std::string& s, DType* out) {
  static const std::pair<const char*, DType> table[] = {
      {"F64", DType::F64}, {"F32", DType::F32}, {"F16", DType::F16}, {"BF16", DType::BF16},
      {"I64", DType::I64}, {"I32", DType::I32}, {"I16", DType::I16}, {"I8", DType::I8},
      {"U8", DType::U8},   {"BOOL", DType::BOOL}};
  for (auto& [name, t] : table)
    if (s == name) {
      *out = t;
      return true;
    }
  return false;
}

}  // namespace

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F64: return "F64";
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
    case DType::I16: return "I16";
    case DType::I8: return "I8";
    case DType::U8: return "U8";
    case DType::BOOL: return "BOOL";
  }
  return "?";
}

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F64: case DType::I64: return 8;
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: case DType::I16: return 2;
    default: return 1;
  }
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, "not a regular file");
  }
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ < 8) {
    ::close(fd);
    fail(path, "truncated safetensors file: " + std::to_string(size_) + " bytes, no header length");
  }
  map_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map_ == MAP_FAILED) {
    map_ = nullptr;
    fail(path, std::string("mmap failed: ") + std::strerror(errno));
  }
  try {
    const auto* base = static_cast<const uint8_t*>(map_);
    uint64_t n = 0;
    std::memcpy(&n, base, 8);  // little-endian host (x86-64, aarch64)
    if (n > kMaxHeader) fail(path, "header length " + std::to_string(n) + " exceeds the 100 MB limit");
    if (8 + n > size_)
      fail(path, "header length " + std::to_string(n) + " runs past the end of the file (" +
                     std::to_string(size_) + " bytes): truncated file?");
    data_start_ = 8 + n;
    const uint64_t data_size = size_ - data_start_;
    // The format allows only trailing spaces after the JSON object; parse_json_strict refuses
    // NUL bytes (a NUL would otherwise end the parse early) and duplicate tensor names.
    const std::string_view text(reinterpret_cast<const char*>(base) + 8, n);
    if (text.empty() || text[0] != '{') fail(path, "header does not start with '{': not a safetensors file");
    const nlohmann::json header = parse_json_strict(text, path + ": header");
    if (!header.is_object()) fail(path, "header is not a JSON object");
    std::vector<const TensorInfo*> by_offset;
    for (auto it = header.begin(); it != header.end(); ++it) {
      const std::string& name = it.key();
      const auto& v = it.value();
      if (name == "__metadata__") {
        if (!v.is_object()) fail(path, "__metadata__ is not an object");
        for (auto m = v.begin(); m != v.end(); ++m)
          if (m.value().is_string()) metadata_[m.key()] = m.value().get<std::string>();
        continue;
      }
      const std::string where = path + ": tensor '" + clip(name) + "'";
      if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
        fail(where, "entry needs dtype, shape and data_offsets");
      TensorInfo t;
      t.name = name;
      if (!v["dtype"].is_string() || !parse_dtype(v["dtype"].get<std::string>(), &t.dtype))
        fail(where, "unknown dtype " + json_excerpt(v["dtype"]));
      if (!v["shape"].is_array()) fail(where, "shape is not an array");
      uint64_t numel = 1;
      for (const auto& d : v["shape"]) {
        if (!d.is_number_unsigned()) fail(where, "shape has a non-integer or negative dimension");
        uint64_t dim = d.get<uint64_t>();
        if (dim != 0 && numel > (1ull << 62) / dim) fail(where, "shape overflows");
        numel *= dim;
        t.shape.push_back(static_cast<int64_t>(dim));
      }
      const auto& off = v["data_offsets"];
      if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
        fail(where, "data_offsets must be two non-negative integers");
      t.begin = off[0].get<uint64_t>();
      t.end = off[1].get<uint64_t>();
      if (t.begin > t.end) fail(where, "data_offsets begin > end");
      if (t.end > data_size)
        fail(where, "data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                        ") lie outside the data section (" + std::to_string(data_size) +
                        " bytes): truncated file?");
      if (numel > (1ull << 62) / dtype_size(t.dtype) || t.end - t.begin != numel * dtype_size(t.dtype))
        fail(where, "byte size " + std::to_string(t.end - t.begin) + " does not match shape and dtype " +
                        dtype_name(t.dtype));
      tensors_[name] = std::move(t);
    }
    // Empty tensors own no bytes, so they take no part; each other tensor must start at or
    // after the furthest end so far (comparing neighbours only misses A [0,100) E [50,50) B [60,160)).
    for (auto& [_, t] : tensors_)
      if (t.begin != t.end) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(),
              [](const TensorInfo* a, const TensorInfo* b) { return a->begin < b->begin; });
    const TensorInfo* furthest = nullptr;
    for (const TensorInfo* t : by_offset) {
      if (furthest && t->begin < furthest->end)
        fail(path, "tensors '" + clip(furthest->name) + "' and '" + clip(t->name) + "' overlap");
      if (!furthest || t->end > furthest->end) furthest = t;
    }
  } catch (...) {
    ::munmap(map_, size_);
    map_ = nullptr;
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(map_, size_);
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

const TensorInfo& SafetensorsFile::get(const std::string& name) const {
  const TensorInfo* t = find(name);
  if (!t) fail(path_, "missing tensor '" + name + "'");
  return *t;
}

const uint8_t* SafetensorsFile::bytes(const TensorInfo& t) const {
  return static_cast<const uint8_t*>(map_) + data_start_ + t.begin;
}

std::vector<float> SafetensorsFile::read_f32(const std::string& name) const {
  std::vector<float> out(static_cast<size_t>(get(name).numel()));
  read_f32_into(name, out.data());
  return out;
}

void SafetensorsFile::read_f32_into(const std::string& name, float* out) const {
  const TensorInfo& t = get(name);
  const uint8_t* p = bytes(t);
  const int64_t n = t.numel();
  // Converted in parallel chunks: a 7B checkpoint is billions of values, and the copy is also
  // where the pages of both the mapping and the destination are first touched.
  constexpr int64_t kChunk = int64_t(1) << 20;
  const bool par = n >= 2 * kChunk;
  switch (t.dtype) {
    case DType::F32:
#pragma omp parallel for schedule(static) if (par)
      for (int64_t c = 0; c < n; c += kChunk) std::memcpy(out + c, p + 4 * c, std::min(kChunk, n - c) * 4);
      break;
    case DType::F64:
#pragma omp parallel for schedule(static) if (par)
      for (int64_t i = 0; i < n; ++i) {
        double d;
        std::memcpy(&d, p + 8 * i, 8);
        out[i] = static_cast<float>(d);
      }
      break;
    case DType::F16:
    case DType::BF16: {
      const bool bf = t.dtype == DType::BF16;
#pragma omp parallel for schedule(static) if (par)
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = bf ? bf16_to_f32(h) : f16_to_f32(h);
      }
      break;
    }
    default:
      fail(path_ + ": tensor '" + name + "'", std::string("dtype ") + dtype_name(t.dtype) +
                                                   " is not a floating-point type");
  }
}

std::vector<int64_t> SafetensorsFile::read_i64(const std::string& name) const {
  const TensorInfo& t = get(name);
  const uint8_t* p = bytes(t);
  const size_t n = static_cast<size_t>(t.numel());
  std::vector<int64_t> out(n);
  if (t.dtype == DType::I64) {
    std::memcpy(out.data(), p, n * 8);
  } else if (t.dtype == DType::I32) {
    for (size_t i = 0; i < n; ++i) {
      int32_t v;
      std::memcpy(&v, p + 4 * i, 4);
      out[i] = v;
    }
  } else {
    fail(path_ + ": tensor '" + name + "'", std::string("dtype ") + dtype_name(t.dtype) + " is not I64/I32");
  }
  return out;
}

void write_safetensors(const std::string& path, const std::vector<OutTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    const uint64_t nbytes = t.dtype == DType::I64 ? t.i64.size() * 8 : t.f32.size() * 4;
    int64_t numel = 1;
    for (auto d : t.shape) numel *= d;
    if (static_cast<uint64_t>(numel) * (t.dtype == DType::I64 ? 8 : 4) != nbytes)
      fail(path, "tensor '" + t.name + "' data size does not match its shape");
    header[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  std::string h = header.dump();
  while ((8 + h.size()) % 8) h.push_back(' ');  // align the data section to 8 bytes
  std::string out;
  out.reserve(8 + h.size() + offset);
  const uint64_t n = h.size();
  out.append(reinterpret_cast<const char*>(&n), 8);
  out += h;
  for (const auto& t : tensors) {
    if (t.dtype == DType::I64)
      out.append(reinterpret_cast<const char*>(t.i64.data()), t.i64.size() * 8);
    else
      out.append(reinterpret_cast<const char*>(t.f32.data()), t.f32.size() * 4);
  }
  write_file_atomic(path, out);
}

}  // namespace layerlab
