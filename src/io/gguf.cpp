// GGUF reader: mmap, then a bounds-checked walk over the header; nothing is sized from the
// file before it is checked against the bytes that remain.
#include "layerlab/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "layerlab/error.h"
#include "util/json_read.h"

namespace layerlab {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint64_t kMaxName = 64;        // ggml's GGML_MAX_NAME: tensor names are shorter
constexpr uint32_t kMaxDims = 4;         // GGML_MAX_DIMS

size_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::BOOL: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
    default: return 0;  // STRING, ARRAY: variable
  }
}

// Sequential reads inside [0, size) of the mapping; every overrun names what was being read.
class Cursor {
 public:
  Cursor(const uint8_t* base, uint64_t size, const std::string& path) : p_(base), size_(size), path_(path) {}
  uint64_t pos() const { return pos_; }
  uint64_t left() const { return size_ - pos_; }
  void need(uint64_t n, const std::string& what) const {
    if (n > left())
      fail(path_, what + ": needs " + std::to_string(n) + " bytes at offset " + std::to_string(pos_) + " but only " +
                      std::to_string(left()) + " remain (truncated file?)");
  }
  template <class T>
  T get(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));  // little-endian host (x86-64, aarch64)
    pos_ += sizeof(T);
    return v;
  }
  std::string string(const std::string& what, uint64_t max_len = UINT64_MAX) {
    const uint64_t n = get<uint64_t>(what + " (string length)");
    if (n > max_len) fail(path_, what + ": string length " + std::to_string(n) + " exceeds " + std::to_string(max_len));
    need(n, what + " (" + std::to_string(n) + "-byte string)");
    std::string s(reinterpret_cast<const char*>(p_ + pos_), n);
    pos_ += n;
    return s;
  }

 private:
  const uint8_t* p_;
  uint64_t size_;
  uint64_t pos_ = 0;
  const std::string& path_;
};

GgufType value_type(Cursor& c, const std::string& what, const std::string& path) {
  const uint32_t t = c.get<uint32_t>(what + " (value type)");
  if (t > uint32_t(GgufType::F64)) fail(path, what + ": unknown value type " + std::to_string(t));
  return GgufType(t);
}

// One number of type t at the cursor into v (i / u / num).
void read_number(Cursor& c, GgufType t, GgufValue& v, const std::string& what) {
  switch (t) {
    case GgufType::U8: v.u = c.get<uint8_t>(what); break;
    case GgufType::I8: v.i = c.get<int8_t>(what); break;
    case GgufType::U16: v.u = c.get<uint16_t>(what); break;
    case GgufType::I16: v.i = c.get<int16_t>(what); break;
    case GgufType::U32: v.u = c.get<uint32_t>(what); break;
    case GgufType::I32: v.i = c.get<int32_t>(what); break;
    case GgufType::U64: v.u = c.get<uint64_t>(what); break;
    case GgufType::I64: v.i = c.get<int64_t>(what); break;
    case GgufType::F32: v.num = c.get<float>(what); return;
    case GgufType::F64: v.num = c.get<double>(what); return;
    case GgufType::BOOL: v.i = c.get<uint8_t>(what); break;
    default: return;
  }
  const bool is_unsigned = t == GgufType::U8 || t == GgufType::U16 || t == GgufType::U32 || t == GgufType::U64;
  if (is_unsigned) {
    v.num = double(v.u);
    if (v.u <= uint64_t(INT64_MAX)) v.i = int64_t(v.u);
  } else {
    v.num = double(v.i);
    if (v.i >= 0) v.u = uint64_t(v.i);
  }
}

GgufValue read_value(Cursor& c, GgufType t, const std::string& what, const std::string& path) {
  GgufValue v;
  v.type = t;
  if (t == GgufType::STRING) {
    v.str = c.string(what);
  } else if (t == GgufType::ARRAY) {
    v.elem = value_type(c, what + " (array element type)", path);
    if (v.elem == GgufType::ARRAY) fail(path, what + ": nested arrays are not supported");
    v.count = c.get<uint64_t>(what + " (array count)");
    // Each element takes at least its size (a string: its 8-byte length), so the count is
    // bounded by the bytes left before anything is reserved.
    const uint64_t min_size = v.elem == GgufType::STRING ? 8 : scalar_size(v.elem);
    if (v.count > c.left() / min_size)
      fail(path, what + ": array of " + std::to_string(v.count) + " " + gguf_type_name(v.elem) +
                     " elements does not fit in the " + std::to_string(c.left()) + " bytes left (truncated or lying file)");
    if (v.elem == GgufType::STRING) {
      v.strings.reserve(v.count);
      for (uint64_t k = 0; k < v.count; ++k) v.strings.push_back(c.string(what + "[" + std::to_string(k) + "]"));
    } else {
      v.nums.reserve(v.count);
      GgufValue e;
      for (uint64_t k = 0; k < v.count; ++k) {
        read_number(c, v.elem, e, what);
        v.nums.push_back(e.num);
      }
    }
  } else {
    read_number(c, t, v, what);
    if (t == GgufType::BOOL && v.i > 1) fail(path, what + ": bool value " + std::to_string(v.i) + " is not 0 or 1");
  }
  return v;
}

}  // namespace

const char* gguf_type_name(GgufType t) {
  static const char* const names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                      "bool", "string", "array", "u64", "i64", "f64"};
  const auto i = uint32_t(t);
  return i < std::size(names) ? names[i] : "?";
}

bool GgufValue::is_integer() const {
  return type != GgufType::F32 && type != GgufType::F64 && type != GgufType::BOOL && scalar_size(type) != 0;
}

int64_t GgufTensor::rows() const {
  int64_t r = 1;
  for (size_t k = 1; k < dims.size(); ++k) r *= dims[k];
  return r;
}

GgufFile::GgufFile(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, "not a regular file");
  }
  size_ = uint64_t(st.st_size);
  if (size_ < 24) {
    ::close(fd);
    fail(path, "truncated GGUF file: " + std::to_string(size_) + " bytes, less than the 24-byte header");
  }
  void* map = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) fail(path, std::string("mmap failed: ") + std::strerror(errno));
  const uint64_t size = size_;
  mapping_ = std::shared_ptr<const void>(map, [size](const void* m) { ::munmap(const_cast<void*>(m), size); });
  base_ = static_cast<const uint8_t*>(map);

  Cursor c(base_, size_, path_);
  if (c.get<uint32_t>("magic") != kMagic) fail(path, "not a GGUF file (the first 4 bytes are not \"GGUF\")");
  version_ = c.get<uint32_t>("version");
  if (version_ == 1) fail(path, "GGUF version 1 is not supported (only versions 2 and 3)");
  if ((version_ & 0xffff) == 0 && version_ != 0)
    fail(path, "GGUF version " + std::to_string(version_) + ": a big-endian file? only little-endian v2/v3 are supported");
  if (version_ != 2 && version_ != 3)
    fail(path, "GGUF version " + std::to_string(version_) + " is not supported (only versions 2 and 3)");
  const uint64_t n_tensors = c.get<uint64_t>("tensor count");
  const uint64_t n_kv = c.get<uint64_t>("metadata count");
  // Smallest encodings: a key-value is a length, a type and a 1-byte value (13 bytes); a
  // tensor entry a name length, n_dims, one dim, type and offset (32 bytes).
  if (n_kv > c.left() / 13)
    fail(path, "metadata count " + std::to_string(n_kv) + " cannot fit in a file of " + std::to_string(size_) + " bytes");
  if (n_tensors > c.left() / 32)
    fail(path, "tensor count " + std::to_string(n_tensors) + " cannot fit in a file of " + std::to_string(size_) + " bytes");

  for (uint64_t k = 0; k < n_kv; ++k) {
    const std::string what = "metadata entry " + std::to_string(k);
    std::string key = c.string(what + " key", 65535);
    const std::string kwhat = "metadata key '" + clip(key) + "'";
    if (values_.count(key)) fail(path, kwhat + " appears twice");
    const GgufType t = value_type(c, kwhat, path);
    values_.emplace(key, read_value(c, t, kwhat, path));
    keys_.push_back(std::move(key));
  }
  if (const GgufValue* a = value("general.alignment")) {
    if (a->type != GgufType::U32) bad("general.alignment", std::string("expected u32, got ") + gguf_type_name(a->type));
    if (a->u == 0 || (a->u & (a->u - 1)) != 0)
      bad("general.alignment", "must be a power of two, got " + std::to_string(a->u));
    alignment_ = a->u;
  }

  tensors_.reserve(n_tensors);
  for (uint64_t k = 0; k < n_tensors; ++k) {
    GgufTensor t;
    t.name = c.string("tensor " + std::to_string(k) + " name", kMaxName);
    const std::string where = "tensor '" + clip(t.name) + "'";
    if (tensor_index_.count(t.name)) fail(path, where + " appears twice");
    const uint32_t n_dims = c.get<uint32_t>(where + " n_dims");
    if (n_dims < 1 || n_dims > kMaxDims)
      fail(path, where + ": n_dims " + std::to_string(n_dims) + " is not between 1 and " + std::to_string(kMaxDims));
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t dim = c.get<uint64_t>(where + " dims");
      if (dim == 0 || dim > (uint64_t(1) << 62) / numel)
        fail(path, where + ": dimension " + std::to_string(d) + " (" + std::to_string(dim) +
                       ") is zero or makes the element count overflow");
      numel *= dim;
      t.dims.push_back(int64_t(dim));
    }
    t.ggml_type = c.get<uint32_t>(where + " type");
    if (!weight_type_from_ggml(t.ggml_type, t.type))
      fail(path, where + ": unknown or unsupported ggml type id " + std::to_string(t.ggml_type));
    const int64_t rb = row_bytes(t.type, t.cols(), path + ": " + where);
    if (rb != 0 && uint64_t(t.rows()) > (uint64_t(1) << 62) / uint64_t(rb)) fail(path, where + ": byte size overflows");
    t.bytes = uint64_t(t.rows()) * uint64_t(rb);
    t.offset = c.get<uint64_t>(where + " offset");
    if (t.offset % alignment_ != 0)
      fail(path, where + ": offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                     std::to_string(alignment_));
    tensor_index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }
  // The data section starts at the next multiple of the alignment after the header.
  const uint64_t data_start = (c.pos() + alignment_ - 1) / alignment_ * alignment_;
  if (data_start > size_ && !tensors_.empty())
    fail(path, "the data section would start at " + std::to_string(data_start) + ", past the end of the file (" +
                   std::to_string(size_) + " bytes)");
  const uint64_t data_size = data_start <= size_ ? size_ - data_start : 0;
  for (auto& t : tensors_) {
    if (t.offset > data_size || t.bytes > data_size - t.offset)
      fail(path, "tensor '" + clip(t.name) + "': data [" + std::to_string(t.offset) + ", " +
                     std::to_string(t.offset + t.bytes) + ") lies outside the data section (" +
                     std::to_string(data_size) + " bytes): truncated file?");
    t.offset += data_start;
  }
  std::vector<const GgufTensor*> by_offset;
  for (const auto& t : tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t k = 1; k < by_offset.size(); ++k)
    if (by_offset[k]->offset < by_offset[k - 1]->offset + by_offset[k - 1]->bytes)
      fail(path, "tensors '" + clip(by_offset[k - 1]->name) + "' and '" + clip(by_offset[k]->name) + "' overlap");
}

GgufFile::~GgufFile() = default;

const GgufTensor* GgufFile::find(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensor& GgufFile::get(const std::string& name) const {
  const GgufTensor* t = find(name);
  if (!t) fail(path_, "missing tensor '" + clip(name) + "'");
  return *t;
}

const GgufValue* GgufFile::value(const std::string& key) const {
  auto it = values_.find(key);
  return it == values_.end() ? nullptr : &it->second;
}

void GgufFile::bad(const std::string& key, const std::string& why) const {
  fail(path_, "metadata key '" + clip(key) + "': " + why);
}

std::string GgufFile::get_string(const std::string& key) const {
  const GgufValue* v = value(key);
  if (!v) bad(key, "missing");
  if (v->type != GgufType::STRING) bad(key, std::string("expected a string, got ") + gguf_type_name(v->type));
  return v->str;
}

std::string GgufFile::get_string_or(const std::string& key, const std::string& fallback) const {
  return has(key) ? get_string(key) : fallback;
}

int64_t GgufFile::get_int(const std::string& key, int64_t lo, int64_t hi) const {
  const GgufValue* v = value(key);
  if (!v) bad(key, "missing");
  if (!v->is_integer()) bad(key, std::string("expected an integer, got ") + gguf_type_name(v->type));
  const bool big_unsigned = v->u > uint64_t(INT64_MAX);
  if (big_unsigned || v->i < lo || v->i > hi)
    bad(key, (big_unsigned ? std::to_string(v->u) : std::to_string(v->i)) + " is outside [" + std::to_string(lo) +
                 ", " + std::to_string(hi) + "]");
  return v->i;
}

int64_t GgufFile::get_int_or(const std::string& key, int64_t fallback, int64_t lo, int64_t hi) const {
  return has(key) ? get_int(key, lo, hi) : fallback;
}

double GgufFile::get_float(const std::string& key) const {
  const GgufValue* v = value(key);
  if (!v) bad(key, "missing");
  if (v->type != GgufType::F32 && v->type != GgufType::F64 && !v->is_integer())
    bad(key, std::string("expected a number, got ") + gguf_type_name(v->type));
  if (!std::isfinite(v->num)) bad(key, "is not a finite number");
  return v->num;
}

double GgufFile::get_float_or(const std::string& key, double fallback) const {
  return has(key) ? get_float(key) : fallback;
}

bool GgufFile::get_bool_or(const std::string& key, bool fallback) const {
  const GgufValue* v = value(key);
  if (!v) return fallback;
  if (v->type != GgufType::BOOL) bad(key, std::string("expected a bool, got ") + gguf_type_name(v->type));
  return v->i != 0;
}

const std::vector<std::string>& GgufFile::get_strings(const std::string& key) const {
  const GgufValue* v = value(key);
  if (!v) bad(key, "missing");
  if (v->type != GgufType::ARRAY || v->elem != GgufType::STRING)
    bad(key, std::string("expected an array of strings, got ") + gguf_type_name(v->type) +
                 (v->type == GgufType::ARRAY ? std::string(" of ") + gguf_type_name(v->elem) : ""));
  return v->strings;
}

std::vector<float> GgufFile::get_f32_array(const std::string& key) const {
  const GgufValue* v = value(key);
  if (!v) bad(key, "missing");
  if (v->type != GgufType::ARRAY || v->elem == GgufType::STRING || v->elem == GgufType::BOOL)
    bad(key, "expected an array of numbers");
  std::vector<float> out;
  out.reserve(v->nums.size());
  for (double d : v->nums) out.push_back(float(d));
  return out;
}

std::vector<int32_t> GgufFile::get_i32_array(const std::string& key, int64_t lo, int64_t hi) const {
  const GgufValue* v = value(key);
  if (!v) bad(key, "missing");
  if (v->type != GgufType::ARRAY || v->elem == GgufType::STRING || v->elem == GgufType::BOOL ||
      v->elem == GgufType::F32 || v->elem == GgufType::F64)
    bad(key, "expected an array of integers");
  std::vector<int32_t> out;
  out.reserve(v->nums.size());
  for (size_t k = 0; k < v->nums.size(); ++k) {
    const double d = v->nums[k];
    if (!(d >= double(lo) && d <= double(hi)))
      bad(key, "element " + std::to_string(k) + " (" + std::to_string(int64_t(d)) + ") is outside [" +
                   std::to_string(lo) + ", " + std::to_string(hi) + "]");
    out.push_back(int32_t(d));
  }
  return out;
}

bool is_gguf_file(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".gguf") == 0) return true;
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return false;
  uint32_t magic = 0;
  const bool ok = ::read(fd, &magic, 4) == 4 && magic == kMagic;
  ::close(fd);
  return ok;
}

}  // namespace layerlab
