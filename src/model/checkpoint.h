#pragma once
// The tensors of a model folder, whether in one model.safetensors or in shards listed by
// model.safetensors.index.json. Every read checks the shape against what the config implies
// and names file and tensor on mismatch.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "layerlab/model.h"
#include "layerlab/safetensors.h"

namespace layerlab {

class Checkpoint {
 public:
  explicit Checkpoint(const std::string& dir);

  bool has(const std::string& name) const;
  const TensorInfo& info(const std::string& name) const;
  const std::string& file_of(const std::string& name) const;
  // Fails, naming file and tensor, unless the tensor exists with exactly this shape. Loaders
  // call it before allocating, so a config's sizes are bounded by tensors the files hold.
  void check_shape(const std::string& name, const std::vector<int64_t>& shape) const;
  // 1 + the highest N in tensor names with a "h.N." / "layers.N." / "layer.N." part; 0 if none.
  int layer_count() const;
  // float32 copy of a tensor, after checking its shape equals `shape`.
  std::vector<float> read(const std::string& name, const std::vector<int64_t>& shape) const;
  // The same written into `out` (as many floats as the shape holds).
  void read_into(const std::string& name, const std::vector<int64_t>& shape, float* out) const;
  // The tensor's stored bytes (inside the file mapping), after checking its shape.
  const uint8_t* bytes(const std::string& name, const std::vector<int64_t>& shape) const;
  std::vector<CheckpointFile> files() const;
  std::string float_dtype() const;  // dtype of most floating-point tensors
  int64_t float_numel() const;      // parameters stored in the checkpoint

 private:
  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, size_t> where_;  // tensor name -> index in files_
};

// Loader helpers shared by the family files: read, reshape, transpose, concatenate rows.
class WeightLoader {
 public:
  // keep_dtype: matrices stored as F16 / BF16 stay in that type (LoadOptions::keep_dtype).
  WeightLoader(const Checkpoint& ck, Model& model, bool keep_dtype = false)
      : ck_(ck), model_(model), keep_dtype_(keep_dtype) {}
  Param vector(const std::string& name, int64_t n);
  Param matrix(const std::string& name, int64_t rows, int64_t cols);
  // Stored as [cols, rows] (GPT-2 Conv1D); returned in [rows, cols] layout.
  Param matrix_transposed(const std::string& name, int64_t rows, int64_t cols);
  // Several [rows_i, cols] matrices stacked into one [sum rows_i, cols].
  Param rows_concat(const std::vector<std::string>& names, const std::vector<int64_t>& rows, int64_t cols);
  Param vectors_concat(const std::vector<std::string>& names, const std::vector<int64_t>& sizes);
  bool has(const std::string& name) const { return ck_.has(name); }

 private:
  // The type a matrix made of these tensors is kept in: their common F16 / BF16, else F32.
  WeightType kept_type(const std::vector<std::string>& names) const;

  const Checkpoint& ck_;
  Model& model_;
  bool keep_dtype_ = false;
};

}  // namespace layerlab
