#pragma once
// Products with weights kept in their stored type (f16, bf16, q8_0, q4_0, q4_K, q5_K, q6_K):
// gemm.h's gemm_nt sends a GemmArgs whose `weight` is not float32 here, per thread block of
// output columns. Tiles of W rows are decoded into float32 (AVX-512 decoders) and multiplied
// by oneDNN's sgemm; W is read once, in its compact form, for any number of activation rows.
// A row-dot path (each weight row decoded into an L1 buffer and dotted with each activation
// row) is kept for dot_rows > 0, but measured slower than the tiles even for one row. One row
// (decoding) of q8_0 / q4_K / q6_K / f16 / bf16 goes to fused kernels (typed_dot.h) that never store floats.
#include <cstdint>

#include "gemm.h"

namespace layerlab::cpu {

// Tuning, measured by bench/quant/bench_typed_linear.cpp --tiles (docs/BENCHMARKS.md): for one
// activation row the tiles took 0.75-0.9x the row-dot time, from two rows about half (oneDNN
// reuses each decoded tile for every row); each sgemm call re-packs A, so tiles are large:
// about 1M values of float32 (256 rows of 4096), 1.3-1.6x faster than 64-row tiles at 128 rows.
struct TypedGemmTuning {
  int64_t dot_rows = 0;     // up to this many activation rows take the row-dot path
  int64_t tile_rows = 0;    // weight rows decoded per sgemm call; 0: 1M values' worth (16 at least)
  bool fused_one_row = true;  // one activation row: typed_dot.h's fused kernels, where the type has one
};
TypedGemmTuning& typed_gemm_tuning();

// C[:, n0:n1] = (C +) A W[n0:n1]^T (+ bias) for a non-float32 g.weight; single-threaded.
void typed_gemm_columns(int64_t m, int64_t n0, int64_t n1, int64_t k, const GemmArgs& g, int64_t lda, int64_t ldc);

}  // namespace layerlab::cpu
