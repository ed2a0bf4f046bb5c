#pragma once
// Scaled dot-product attention on the CPU, blocked over query rows so causal attention
// skips key blocks past the diagonal. Work items are (member, sequence, head, query block).
#include <cstdint>
#include <vector>

namespace layerlab::cpu {

struct AttentionArgs {
  const float* q;       // query of token t of sequence b, head h: q + (b*tokens + t)*q_stride + h*hd
  int64_t q_stride;
  const float* k;       // key j of sequence b, kv head g: k + b*kv_batch_stride + j*kv_stride + g*hd
  const float* v;
  int64_t kv_stride, kv_batch_stride;
  float* out;           // out + (b*tokens + t)*out_stride + h*hd
  int64_t out_stride;
  float* probs = nullptr;  // optional [n_head, tokens, keys] for sequence 0 (inspection): the softmax
  // Shaped attention (causal only), per head h: A = alpha[h] I + beta[h] softmax - gamma[h] C with
  // C the uniform causal attention (C_ij = 1/(i+1), j <= i). Null: plain softmax attention.
  const float* alpha = nullptr;
  const float* beta = nullptr;
  const float* gamma = nullptr;
};

struct AttentionShape {
  int batch, tokens, past;  // keys = past + tokens
  int n_head, n_kv_head, head_dim;
  bool causal;
};

void attention(const AttentionShape& s, const std::vector<AttentionArgs>& members);

}  // namespace layerlab::cpu
