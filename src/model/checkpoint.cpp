#include "checkpoint.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include <nlohmann/json.hpp>

#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "util/json_read.h"

namespace layerlab {

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

}  // namespace

Checkpoint::Checkpoint(const std::string& dir) : dir_(dir) {
  const std::string single = dir + "/model.safetensors";
  const std::string index = dir + "/model.safetensors.index.json";
  if (file_exists(single)) {
    files_.push_back(std::make_unique<SafetensorsFile>(single));
  } else if (file_exists(index)) {
    const nlohmann::json j = read_json_file(index);
    if (!j.contains("weight_map") || !j["weight_map"].is_object()) fail(index, "missing object field 'weight_map'");
    std::map<std::string, size_t> shard_index;
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      if (!it.value().is_string()) fail(index, "weight_map['" + it.key() + "'] is not a file name");
      const std::string shard = it.value().get<std::string>();
      if (shard.find('/') != std::string::npos || shard.find("..") != std::string::npos)
        fail(index, "weight_map['" + it.key() + "'] names a file outside the folder: " + shard);
      if (!shard_index.count(shard)) {
        shard_index[shard] = files_.size();
        files_.push_back(std::make_unique<SafetensorsFile>(dir + "/" + shard));
      }
    }
  } else {
    fail(dir, "no model.safetensors or model.safetensors.index.json: not a model folder");
  }
  for (size_t i = 0; i < files_.size(); ++i)
    for (const auto& [name, _] : files_[i]->tensors()) where_[name] = i;
}

bool Checkpoint::has(const std::string& name) const { return where_.count(name) > 0; }

const TensorInfo& Checkpoint::info(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) fail(dir_, "missing tensor '" + name + "'");
  return files_[it->second]->get(name);
}

const std::string& Checkpoint::file_of(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) fail(dir_, "missing tensor '" + name + "'");
  return files_[it->second]->path();
}

std::vector<float> Checkpoint::read(const std::string& name, const std::vector<int64_t>& shape) const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<float> out(static_cast<size_t>(n));
  read_into(name, shape, out.data());
  return out;
}

void Checkpoint::check_shape(const std::string& name, const std::vector<int64_t>& shape) const {
  const TensorInfo& t = info(name);
  if (t.shape != shape)
    fail(file_of(name) + ": tensor '" + name + "'",
         "shape " + shape_str(t.shape) + " does not match config.json, which implies " + shape_str(shape));
}

void Checkpoint::read_into(const std::string& name, const std::vector<int64_t>& shape, float* out) const {
  check_shape(name, shape);
  files_[where_.at(name)]->read_f32_into(name, out);
}

const uint8_t* Checkpoint::bytes(const std::string& name, const std::vector<int64_t>& shape) const {
  check_shape(name, shape);
  const SafetensorsFile& f = *files_[where_.at(name)];
  return f.bytes(f.get(name));
}

int Checkpoint::layer_count() const {
  int count = 0;
  for (const auto& [name, _] : where_)
    for (const char* part : {"h.", "layers.", "layer."}) {
      const size_t len = std::strlen(part);
      for (size_t at = name.find(part); at != std::string::npos; at = name.find(part, at + 1)) {
        if (at != 0 && name[at - 1] != '.') continue;
        size_t end = at + len;
        while (end < name.size() && end - (at + len) < 9 && std::isdigit(static_cast<unsigned char>(name[end]))) ++end;
        if (end == at + len || end >= name.size() || name[end] != '.') continue;
        count = std::max(count, std::stoi(name.substr(at + len, end - at - len)) + 1);
      }
    }
  return count;
}

std::vector<CheckpointFile> Checkpoint::files() const {
  std::vector<CheckpointFile> out;
  for (const auto& f : files_) out.push_back({f->path(), f->file_size()});
  return out;
}

std::string Checkpoint::float_dtype() const {
  std::map<std::string, int64_t> count;
  for (const auto& f : files_)
    for (const auto& [_, t] : f->tensors())
      if (t.dtype == DType::F32 || t.dtype == DType::F16 || t.dtype == DType::BF16) count[dtype_name(t.dtype)] += t.numel();
  std::string best = "none";
  int64_t most = -1;
  for (const auto& [k, v] : count)
    if (v > most) best = k, most = v;
  return best;
}

int64_t Checkpoint::float_numel() const {
  int64_t n = 0;
  for (const auto& f : files_)
    for (const auto& [_, t] : f->tensors())
      if (t.dtype == DType::F32 || t.dtype == DType::F16 || t.dtype == DType::BF16) n += t.numel();
  return n;
}

// Every weight is converted (or, kept in its stored type, copied) straight into its final storage (no zero fill, no intermediate
// copies): loading a 7B checkpoint is then bounded by memory bandwidth, not page faults.
Param WeightLoader::vector(const std::string& name, int64_t n) {
  ck_.check_shape(name, {n});
  Param p;
  ck_.read_into(name, {n}, model_.allocate(1, n, p));
  return p;
}

WeightType WeightLoader::kept_type(const std::vector<std::string>& names) const {
  if (!keep_dtype_ || names.empty()) return WeightType::F32;
  const DType first = ck_.info(names[0]).dtype;
  for (const auto& n : names)
    if (ck_.info(n).dtype != first) return WeightType::F32;  // mixed: one float32 matrix
  return first == DType::F16 ? WeightType::F16 : first == DType::BF16 ? WeightType::BF16 : WeightType::F32;
}

namespace {

// A large copy split over the threads (a 7B checkpoint's matrices are gigabytes).
void parallel_copy(uint8_t* dst, const uint8_t* src, size_t bytes) {
  constexpr size_t kChunk = size_t(1) << 22;
  const int64_t chunks = int64_t((bytes + kChunk - 1) / kChunk);
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t i = 0; i < chunks; ++i) {
    const size_t at = size_t(i) * kChunk;
    std::memcpy(dst + at, src + at, std::min(kChunk, bytes - at));
  }
}

}  // namespace

Param WeightLoader::matrix(const std::string& name, int64_t rows, int64_t cols) {
  ck_.check_shape(name, {rows, cols});
  Param p;
  const WeightType t = kept_type({name});
  if (t != WeightType::F32) {
    void* dst = model_.allocate_raw(t, rows, cols, p);
    parallel_copy(static_cast<uint8_t*>(dst), ck_.bytes(name, {rows, cols}), size_t(rows * cols) * 2);
    return p;
  }
  ck_.read_into(name, {rows, cols}, model_.allocate(rows, cols, p));
  return p;
}

Param WeightLoader::matrix_transposed(const std::string& name, int64_t rows, int64_t cols) {
  ck_.check_shape(name, {cols, rows});
  constexpr int64_t kTile = 64;  // tiles of 64 x 64 so both sides stay in cache
  if (const WeightType t = kept_type({name}); t != WeightType::F32) {
    Param p;
    auto* dst = static_cast<uint16_t*>(model_.allocate_raw(t, rows, cols, p));
    const uint8_t* in = ck_.bytes(name, {cols, rows});  // 16-bit values, possibly unaligned
#pragma omp parallel for collapse(2) schedule(static) if (rows * cols >= (int64_t(1) << 20))
    for (int64_t r0 = 0; r0 < rows; r0 += kTile)
      for (int64_t c0 = 0; c0 < cols; c0 += kTile)
        for (int64_t r = r0; r < std::min(rows, r0 + kTile); ++r)
          for (int64_t c = c0; c < std::min(cols, c0 + kTile); ++c) std::memcpy(dst + r * cols + c, in + 2 * (c * rows + r), 2);
    return p;
  }
  FloatArray src(static_cast<size_t>(rows * cols));
  ck_.read_into(name, {cols, rows}, src.data());
  Param p;
  float* dst = model_.allocate(rows, cols, p);
  const float* in = src.data();
#pragma omp parallel for collapse(2) schedule(static) if (rows * cols >= (int64_t(1) << 20))
  for (int64_t r0 = 0; r0 < rows; r0 += kTile)
    for (int64_t c0 = 0; c0 < cols; c0 += kTile)
      for (int64_t r = r0; r < std::min(rows, r0 + kTile); ++r)
        for (int64_t c = c0; c < std::min(cols, c0 + kTile); ++c) dst[r * cols + c] = in[c * rows + r];
  return p;
}

Param WeightLoader::rows_concat(const std::vector<std::string>& names, const std::vector<int64_t>& rows,
                                int64_t cols) {
  int64_t total = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    ck_.check_shape(names[i], {rows[i], cols});
    total += rows[i];
  }
  Param p;
  if (const WeightType t = kept_type(names); t != WeightType::F32) {
    auto* out = static_cast<uint8_t*>(model_.allocate_raw(t, total, cols, p));
    for (size_t i = 0; i < names.size(); ++i) {
      const size_t bytes = size_t(rows[i] * cols) * 2;
      parallel_copy(out, ck_.bytes(names[i], {rows[i], cols}), bytes);
      out += bytes;
    }
    return p;
  }
  float* dst = model_.allocate(total, cols, p);
  for (size_t i = 0; i < names.size(); ++i) {
    ck_.read_into(names[i], {rows[i], cols}, dst);
    dst += rows[i] * cols;
  }
  return p;
}

Param WeightLoader::vectors_concat(const std::vector<std::string>& names, const std::vector<int64_t>& sizes) {
  int64_t total = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    ck_.check_shape(names[i], {sizes[i]});
    total += sizes[i];
  }
  Param p;
  float* dst = model_.allocate(1, total, p);
  for (size_t i = 0; i < names.size(); ++i) {
    ck_.read_into(names[i], {sizes[i]}, dst);
    dst += sizes[i];
  }
  return p;
}

}  // namespace layerlab
