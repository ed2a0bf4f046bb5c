#pragma once
// Row-wise CPU kernels (float32). Each processes `rows` rows of width `n`; loops are written so
// g++ vectorises them (-O3 -march=native), and callers parallelise over rows.
#include <cstdint>

namespace layerlab::cpu {

void layer_norm(const float* x, float* y, int64_t rows, int n, const float* w, const float* b, float eps);
void rms_norm(const float* x, float* y, int64_t rows, int n, const float* w, float eps);
void gelu_tanh(float* x, int64_t count);
void gelu_erf(float* x, int64_t count);
// gated rows [rows, 2*ff] = [gate | up] -> out [rows, ff] = silu(gate) * up
void swiglu(const float* gated, float* out, int64_t rows, int ff);
void add_inplace(float* y, const float* x, int64_t count);  // y += x
void add_bias(float* y, const float* b, int64_t rows, int n);
// In-place softmax of one row over its first `valid` entries; entries past `valid` are set to 0.
void softmax_row(float* x, int n, int valid);
// Shaped attention row of the query at (0-based) position valid - 1, from its causal softmax:
// x[j] = beta x[j] - gamma / valid for j < valid, plus alpha on the diagonal (j = valid - 1).
void shape_row(float* x, int valid, float alpha, float beta, float gamma);
// HF rotate-half RoPE on `heads` heads of size hd starting at x (head stride hd),
// with cos/sin rows of size hd/2 for this token's position.
void rope_rotate(float* x, int heads, int hd, const float* cos, const float* sin);

}  // namespace layerlab::cpu
