#pragma once
// Products with weights kept in their stored type (f16, bf16, q8_0, q4_0, q4_K, q5_K, q6_K):
// gemm.h's gemm_nt sends a GemmArgs whose `weight` is not float32 here, per thread block of
// output columns. One activation row (decoding): each weight row is decoded once into an L1
// buffer and dotted with the activation row, so W is streamed once in its compact form. More
// rows: tiles of W rows are decoded into float32 and multiplied by oneDNN's sgemm.
#include <cstdint>

#include "gemm.h"

namespace layerlab::cpu {

// Tuning, measured by bench/quant/bench_typed_linear.cpp (docs/BENCHMARKS.md), which sets them:
// with one activation row both paths take the same time; from two rows the tiles win (oneDNN's
// kernels reuse each decoded tile for every row); and each sgemm call re-packs A, so the tiles
// are large: about 4 MB of float32 (256 rows of 4096), which measured 1.5-2x faster than 64 rows.
struct TypedGemmTuning {
  int64_t dot_rows = 1;     // up to this many activation rows take the row-dot path
  int64_t tile_rows = 0;    // weight rows decoded per sgemm call; 0: 1M values' worth (16 at least)
};
TypedGemmTuning& typed_gemm_tuning();

// C[:, n0:n1] = (C +) A W[n0:n1]^T (+ bias) for a non-float32 g.weight; single-threaded.
void typed_gemm_columns(int64_t m, int64_t n0, int64_t n1, int64_t k, const GemmArgs& g, int64_t lda, int64_t ldc);

}  // namespace layerlab::cpu
