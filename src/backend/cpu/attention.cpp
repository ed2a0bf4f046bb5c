#include "attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "gemm.h"
#include "kernels.h"

namespace layerlab::cpu {

namespace {
constexpr int kQueryBlock = 64;
}

void attention(const AttentionShape& s, const std::vector<AttentionArgs>& members) {
  const int keys = s.past + s.tokens;
  const int blocks = (s.tokens + kQueryBlock - 1) / kQueryBlock;
  const int group = s.n_head / s.n_kv_head;
  const int hd = s.head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int64_t tasks = int64_t(members.size()) * s.batch * s.n_head * blocks;

#pragma omp parallel
  {
    std::vector<float> scores(size_t(kQueryBlock) * keys);
#pragma omp for schedule(dynamic)
    for (int64_t task = 0; task < tasks; ++task) {
      int64_t rest = task;
      const int blk = rest % blocks;
      rest /= blocks;
      const int h = rest % s.n_head;
      rest /= s.n_head;
      const int b = rest % s.batch;
      const AttentionArgs& a = members[rest / s.batch];
      const int g = h / group;
      const int i0 = blk * kQueryBlock, i1 = std::min(s.tokens, i0 + kQueryBlock);
      const int nq = i1 - i0;
      const int nk = s.causal ? s.past + i1 : keys;  // keys any row of this block can see
      const float* q = a.q + (int64_t(b) * s.tokens + i0) * a.q_stride + h * hd;
      const float* k = a.k + b * a.kv_batch_stride + g * hd;
      const float* v = a.v + b * a.kv_batch_stride + g * hd;
      sgemm(false, true, nq, nk, hd, scale, q, a.q_stride, k, a.kv_stride, 0.0f, scores.data(), nk);
      for (int i = 0; i < nq; ++i) {
        const int valid = s.causal ? s.past + i0 + i + 1 : keys;
        softmax_row(scores.data() + int64_t(i) * nk, nk, valid);
      }
      if (a.probs && b == 0) {
        for (int i = 0; i < nq; ++i) {
          float* dst = a.probs + (int64_t(h) * s.tokens + i0 + i) * keys;
          std::memcpy(dst, scores.data() + int64_t(i) * nk, sizeof(float) * nk);
          std::fill(dst + nk, dst + keys, 0.0f);
        }
      }
      if (a.alpha)
        for (int i = 0; i < nq; ++i)
          shape_row(scores.data() + int64_t(i) * nk, s.past + i0 + i + 1, a.alpha[h], a.beta[h], a.gamma[h]);
      float* out = a.out + (int64_t(b) * s.tokens + i0) * a.out_stride + h * hd;
      sgemm(false, false, nq, hd, nk, 1.0f, scores.data(), nk, v, a.kv_stride, 0.0f, out, a.out_stride);
    }
  }
}

}  // namespace layerlab::cpu
