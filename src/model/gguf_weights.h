#pragma once
// Weights of a GGUF file as Params: each tensor's dims are checked against the sizes the
// metadata implies before use (so every size is bounded by the file), matrices keep their
// stored type and point into the file's mapping, vectors become float32.
#include <string>
#include <vector>

#include "layerlab/gguf.h"
#include "layerlab/model.h"

namespace layerlab {

class GgufWeights {
 public:
  GgufWeights(const GgufFile& f, Model& m) : f_(f), m_(m) {}

  bool has(const std::string& name) const { return f_.find(name) != nullptr; }
  // [rows, cols] (ggml dims [cols, rows]) in its stored type, inside the mapping.
  Param matrix(const std::string& name, int64_t rows, int64_t cols);
  // [n] (ggml dims [n]) as float32: mapped when stored in F32, converted otherwise.
  Param vector(const std::string& name, int64_t n);
  // [rows, cols] as float32 (learned position tables, which backends index directly).
  Param matrix_f32(const std::string& name, int64_t rows, int64_t cols);

  // One part of a stacked matrix; `heads` > 0 undoes llama.cpp's RoPE row permutation
  // (convert_hf_to_gguf.py `permute`: within each of `heads` heads, HF's rotate-half row order
  // [first half, second half] became interleaved pairs).
  struct Part {
    std::string name;
    int64_t rows;
    int heads = 0;
  };
  // The parts stacked into one [sum rows, cols] matrix in their common stored type (rows are
  // whole blocks, so they move without touching the values); parts of different types are
  // joined in float32 through dequantize_rows.
  Param stacked(const std::vector<Part>& parts, int64_t cols);

  int64_t mapped_bytes() const { return mapped_bytes_; }
  int64_t mapped_values(WeightType t) const { return mapped_values_[int(t)]; }  // values left in the mapping

 private:
  const GgufTensor& expect(const std::string& name, const std::vector<int64_t>& dims) const;
  Param mapped(const GgufTensor& t, int64_t rows, int64_t cols);
  Param as_f32(const GgufTensor& t, int64_t rows, int64_t cols);
  const GgufFile& f_;
  Model& m_;
  int64_t mapped_bytes_ = 0;
  int64_t mapped_values_[8] = {};
};

// Source row (in the file) of HF row r of a RoPE-permuted [heads * head_dim, cols] matrix.
int64_t gguf_unpermuted_row(int64_t r, int64_t head_dim);

}  // namespace layerlab
