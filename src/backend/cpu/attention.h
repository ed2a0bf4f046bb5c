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
  float* probs = nullptr;  // optional [n_head, tokens, keys] for sequence 0 (inspection)
};

struct AttentionShape {
  int batch, tokens, past;  // keys = past + tokens
  int n_head, n_kv_head, head_dim;
  bool causal;
};

void attention(const AttentionShape& s, const std::vector<AttentionArgs>& members);

}  // namespace layerlab::cpu
