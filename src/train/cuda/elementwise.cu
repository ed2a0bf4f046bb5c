// Elementwise training kernels: embeddings (forward and the fixed-order backward), GELU-tanh,
// and the scaled sums that wire the blocks together (gains read from device memory).
#include "train/cuda/ops.h"

namespace layerlab::train::cu {

namespace {

#define GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

__global__ void embedding_forward_kernel(float* x, const int32_t* in, const float* wte, const float* wpe, int N,
                                         int L, int C) {
  GRID_STRIDE(i, int64_t(N) * C) {
    const int n = int(i / C), c = int(i % C);
    x[i] = wte[int64_t(in[n]) * C + c] + wpe[int64_t(n % L) * C + c];
  }
}

// One block per distinct token: its gradient row (holding the tied head's part already) plus
// its positions' rows, in ascending position order (as the CPU loop adds them).
__global__ void token_grad_kernel(float* dwte, const float* dx, const int32_t* tok, const int32_t* start,
                                  const int32_t* pos, int C) {
  const int u = blockIdx.x;
  float* row = dwte + int64_t(tok[u]) * C;
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    float acc = row[c];
    for (int k = start[u]; k < start[u + 1]; ++k) acc += dx[int64_t(pos[k]) * C + c];
    row[c] = acc;
  }
}

__global__ void position_grad_kernel(float* dwpe, const float* dx, int B, int L, int C) {
  GRID_STRIDE(i, int64_t(L) * C) {
    const int t = int(i / C), c = int(i % C);
    float acc = 0.f;
    for (int b = 0; b < B; ++b) acc += dx[(int64_t(b) * L + t) * C + c];
    dwpe[i] = acc;
  }
}

constexpr float kGeluS = 0.7978845608028654f;  // sqrt(2 / pi)

// u += bias (kept: the backward needs it), g = gelu(u): one pass instead of two.
__global__ void bias_gelu_forward_kernel(float* u, float* g, const float* b, unsigned n, unsigned F) {
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    const float v = u[i] + b[i % F];
    u[i] = v;
    g[i] = 0.5f * v * (1.f + tanhf(kGeluS * (v + 0.044715f * v * v * v)));
  }
}

__global__ void gelu_backward_kernel(float* d, const float* x, int64_t n) {
  GRID_STRIDE(i, n) {
    const float v = x[i];
    const float t = tanhf(kGeluS * (v + 0.044715f * v * v * v));
    const float g = 0.5f * (1.f + t) + 0.5f * v * (1.f - t * t) * kGeluS * (1.f + 3.f * 0.044715f * v * v);
    d[i] = d[i] * g;
  }
}

__global__ void combine_kernel(float* out, const float* a, const float* ga, const float* b, const float* gb,
                               const float* cc, const float* gc, int64_t n) {
  const float sa = ga ? *ga : 1.f, sb = gb ? *gb : 1.f, sc = gc ? *gc : 1.f;
  GRID_STRIDE(i, n) {
    float r = ga ? sa * a[i] : a[i];
    if (b) r += gb ? sb * b[i] : b[i];
    if (cc) r += gc ? sc * cc[i] : cc[i];
    out[i] = r;
  }
}

}  // namespace

void embedding_forward(Ctx& c, float* x, const int32_t* in, const float* wte, const float* wpe, int N, int L, int C) {
  embedding_forward_kernel<<<grid_for(int64_t(N) * C, 256), 256, 0, c.stream>>>(x, in, wte, wpe, N, L, C);
  CUDA_CK_LAUNCH("embedding_forward_kernel");
}

void embedding_backward(Ctx& c, float* dwte, float* dwpe, const float* dx, const int32_t* tok, const int32_t* start,
                        const int32_t* pos, int n_tok, int B, int L, int C) {
  if (n_tok > 0) {
    token_grad_kernel<<<n_tok, 256, 0, c.stream>>>(dwte, dx, tok, start, pos, C);
    CUDA_CK_LAUNCH("token_grad_kernel");
  }
  position_grad_kernel<<<grid_for(int64_t(L) * C, 256), 256, 0, c.stream>>>(dwpe, dx, B, L, C);
  CUDA_CK_LAUNCH("position_grad_kernel");
}

void bias_gelu_forward(Ctx& c, float* u, float* g, const float* b, int N, int F) {
  const int64_t n = int64_t(N) * F;
  bias_gelu_forward_kernel<<<grid_for(n, 256), 256, 0, c.stream>>>(u, g, b, unsigned(n), unsigned(F));
  CUDA_CK_LAUNCH("bias_gelu_forward_kernel");
}

void gelu_backward(Ctx& c, float* d, const float* x, int64_t n) {
  gelu_backward_kernel<<<grid_for(n, 256), 256, 0, c.stream>>>(d, x, n);
  CUDA_CK_LAUNCH("gelu_backward_kernel");
}

void combine(Ctx& c, float* out, const float* a, const float* ga, const float* b, const float* gb, const float* cc,
             const float* gc, int64_t n) {
  combine_kernel<<<grid_for(n, 256), 256, 0, c.stream>>>(out, a, ga, b, gb, cc, gc, n);
  CUDA_CK_LAUNCH("combine_kernel");
}

}  // namespace layerlab::train::cu
