// GgufWeights: GGUF tensors -> Params (shape checks, mapping, RoPE un-permutation, stacking).
#include "model/gguf_weights.h"

#include <cstring>

#include "layerlab/error.h"
#include "util/json_read.h"

namespace layerlab {

namespace {

std::string dims_text(const std::vector<int64_t>& d) {
  std::string s = "[";
  for (size_t k = 0; k < d.size(); ++k) s += (k ? ", " : "") + std::to_string(d[k]);
  return s + "]";
}

}  // namespace

int64_t gguf_unpermuted_row(int64_t r, int64_t head_dim) {
  const int64_t half = head_dim / 2, h = r / head_dim, w = r % head_dim;
  return h * head_dim + 2 * (w % half) + w / half;
}

const GgufTensor& GgufWeights::expect(const std::string& name, const std::vector<int64_t>& dims) const {
  const GgufTensor* t = f_.find(name);
  if (!t) fail(f_.path(), "missing tensor '" + name + "'");
  if (t->dims != dims)
    fail(f_.path(), "tensor '" + name + "' has dims " + dims_text(t->dims) + " (ggml order) but the metadata implies " +
                        dims_text(dims));
  return *t;
}

Param GgufWeights::mapped(const GgufTensor& t, int64_t rows, int64_t cols) {
  Param p;
  p.raw = f_.data(t);
  p.type = t.type;
  p.rows = rows;
  p.cols = cols;
  // GGUF data offsets are multiples of the alignment (>= 4 for every real file), so F32
  // tensors are float-aligned in the page-aligned mapping; anything else is copied.
  if (t.type == WeightType::F32) {
    if (reinterpret_cast<uintptr_t>(p.raw) % alignof(float) != 0) {
      float* dst = m_.allocate(rows, cols, p);
      std::memcpy(dst, f_.data(t), t.bytes);
      return p;
    }
    p.data = static_cast<const float*>(p.raw);
  }
  mapped_bytes_ += int64_t(t.bytes);
  mapped_values_[int(t.type)] += rows * cols;
  return p;
}

Param GgufWeights::matrix(const std::string& name, int64_t rows, int64_t cols) {
  return mapped(expect(name, {cols, rows}), rows, cols);
}

Param GgufWeights::vector(const std::string& name, int64_t n) { return as_f32(expect(name, {n}), 1, n); }

Param GgufWeights::matrix_f32(const std::string& name, int64_t rows, int64_t cols) {
  return as_f32(expect(name, {cols, rows}), rows, cols);
}

Param GgufWeights::as_f32(const GgufTensor& t, int64_t rows, int64_t cols) {
  if (t.type == WeightType::F32) return mapped(t, rows, cols);
  Param src;
  src.raw = f_.data(t);
  src.type = t.type;
  src.rows = rows;
  src.cols = cols;
  Param out;
  float* dst = m_.allocate(rows, cols, out);
  try {
    dequantize_rows(src, 0, rows, dst);
  } catch (const Error& e) {
    fail(f_.path(), "tensor '" + t.name + "' (" + weight_type_name(t.type) + "): " + e.what());
  }
  return out;
}

Param GgufWeights::stacked(const std::vector<Part>& parts, int64_t cols) {
  std::vector<const GgufTensor*> ts;
  int64_t rows = 0;
  bool same_type = true;
  for (const Part& p : parts) {
    ts.push_back(&expect(p.name, {cols, p.rows}));
    if (p.heads > 0 && (p.rows % p.heads != 0 || (p.rows / p.heads) % 2 != 0))
      fail(f_.path(), "tensor '" + p.name + "': " + std::to_string(p.rows) + " rows are not " +
                          std::to_string(p.heads) + " heads of an even size");
    same_type = same_type && ts.back()->type == ts.front()->type;
    rows += p.rows;
  }
  if (parts.size() == 1 && parts[0].heads == 0) return mapped(*ts[0], rows, cols);
  Param out;
  if (same_type) {
    const WeightType type = ts[0]->type;
    const int64_t rb = row_bytes(type, cols);
    auto* dst = static_cast<uint8_t*>(m_.allocate_raw(type, rows, cols, out));
    for (size_t k = 0; k < parts.size(); ++k) {
      const int64_t hd = parts[k].heads > 0 ? parts[k].rows / parts[k].heads : 0;
      for (int64_t r = 0; r < parts[k].rows; ++r, dst += rb)
        std::memcpy(dst, f_.data(*ts[k]) + (hd ? gguf_unpermuted_row(r, hd) : r) * rb, size_t(rb));
    }
    return out;
  }
  // Mixed types (llama.cpp's k-quant mixes, e.g. q4_K q and k with q6_K v): one Param has one
  // type, so the stack is float32.
  float* dst = m_.allocate(rows, cols, out);
  for (size_t k = 0; k < parts.size(); ++k) {
    Param src;
    src.raw = f_.data(*ts[k]);
    src.type = ts[k]->type;
    src.rows = parts[k].rows;
    src.cols = cols;
    if (src.type == WeightType::F32) src.data = static_cast<const float*>(src.raw);
    const int64_t hd = parts[k].heads > 0 ? parts[k].rows / parts[k].heads : 0;
    try {
      for (int64_t r = 0; r < parts[k].rows; ++r, dst += cols)
        dequantize_rows(src, hd ? gguf_unpermuted_row(r, hd) : r, 1, dst);
    } catch (const Error& e) {
      fail(f_.path(), "tensor '" + parts[k].name + "' (" + weight_type_name(src.type) + ") is stacked with tensors of " +
                          "another type, so it is converted to float32: " + e.what());
    }
  }
  return out;
}

}  // namespace layerlab
