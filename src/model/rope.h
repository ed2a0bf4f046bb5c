#pragma once
// RoPE inverse frequencies (HF "default", "linear" and "llama3" rope types), shared by backends.
#include <vector>

#include "layerlab/model.h"

namespace layerlab {

// head_dim / 2 inverse frequencies, in double.
std::vector<double> rope_inv_freq(const ModelConfig& cfg);
// cos/sin table for positions [0, n): [n, head_dim / 2] each, float32 (angles computed in double).
void rope_table(const ModelConfig& cfg, int n, std::vector<float>& cos_out, std::vector<float>& sin_out);

}  // namespace layerlab
