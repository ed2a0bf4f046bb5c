#pragma once
// Flash-style prefill attention on tensor cores (bf16 / f16 Q, K, V; float32 accumulation and
// online softmax; no score matrix in device memory). Used by the CUDA backend for head_dim 64
// and 128 in the bf16 / f16 dtypes; plain C++ so tests can call the host entry point.
#include <cstdint>
#include <vector>

namespace layerlab::cuda_detail {

// Element strides (not bytes). Query row t of sequence b, head h starts at
//   q + b * q_batch_stride + t * q_stride + h * hd;
// key / value row j of sequence b, key-value head h / group at
//   k + b * kv_batch_stride + j * kv_stride + (h / group) * hd   (likewise v);
// output row like the query, with out_* strides. Query t sits at absolute position past + t;
// keys 0 .. keys-1; causal rows see keys <= past + t.
struct FlashArgs {
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  void* out = nullptr;
  int64_t q_stride = 0, q_batch_stride = 0;
  int64_t kv_stride = 0, kv_batch_stride = 0;
  int64_t out_stride = 0, out_batch_stride = 0;
  int batch = 0, tokens = 0, past = 0, keys = 0, n_head = 0, group = 1, hd = 0;
  float scale = 1.0f;
  bool causal = true;
  bool bf16 = true;  // else f16
};

// Whether the kernel handles this head size (16-byte aligned rows are the caller's part).
bool flash_supported(int hd);

// Queues the kernel on the default stream; throws layerlab::Error on a launch failure.
void flash_attention(const FlashArgs& a);

// Test entry point: the same kernel on host float32 arrays (rounded to bf16 / f16 first).
// q: [batch, tokens, n_head, hd]; k, v: [batch, keys, n_kv_head, hd]; returns
// [batch, tokens, n_head, hd] as float32. Rows the kernel does not write come back as NaN.
std::vector<float> flash_attention_host(const std::vector<float>& q, const std::vector<float>& k,
                                        const std::vector<float>& v, int batch, int tokens, int past, int keys,
                                        int n_head, int n_kv_head, int hd, bool causal, bool bf16);

}  // namespace layerlab::cuda_detail
