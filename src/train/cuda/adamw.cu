// One AdamW step on the device, the arithmetic of AdamW::step (src/train/optimizer.cpp), with
// the gradient-clipping scale applied first (and kept in the gradients, as the CPU path does).
#include "train/cuda/ops.h"

namespace layerlab::train::cu {

namespace {

__global__ void adamw_kernel(float* p, float* g, float* m, float* v, const uint8_t* decay_mask, int64_t n, AdamArgs a) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    float gi = g[i];
    if (a.clip_coef != 1.f) g[i] = gi = gi * a.clip_coef;
    float pi = p[i];
    if (decay_mask[i]) pi *= a.decay;
    const float mi = a.b1 * m[i] + (1.f - a.b1) * gi;
    const float vi = a.b2 * v[i] + (1.f - a.b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi - a.step_size * mi / (sqrtf(vi) / a.bc2_sqrt + a.eps);
  }
}

}  // namespace

void adamw_step(Ctx& c, float* p, float* g, float* m, float* v, const uint8_t* decay_mask, int64_t n,
                const AdamArgs& a) {
  adamw_kernel<<<grid_for(n, 256), 256, 0, c.stream>>>(p, g, m, v, decay_mask, n, a);
  CUDA_CK_LAUNCH("adamw_kernel");
}

}  // namespace layerlab::train::cu
