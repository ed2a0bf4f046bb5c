#pragma once
// Forward and backward kernels for training, templated on float/double (llm.c style: plain
// loops over rows; float products through the CPU backend's oneDNN sgemm, double through
// OpenBLAS, which the float64 gradient check alone uses). Every reduction into a parameter
// gradient runs in a fixed order, so a run is bit-for-bit repeatable for a fixed thread count.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "backend/cpu/gemm.h"

namespace layerlab::train::k {

// C[M,N] = alpha * op(A) op(B) + beta * C, row-major.
inline void gemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
                 float beta, float* C, int ldc) {
  cpu::sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
inline void gemm(bool ta, bool tb, int M, int N, int K, double alpha, const double* A, int lda, const double* B,
                 int ldb, double beta, double* C, int ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B,
              ldb, beta, C, ldc);
}

// y[N,out] = x[N,in] W[out,in]^T + b
template <class T>
void linear_forward(T* y, const T* x, const T* W, const T* b, int N, int in, int out) {
  gemm(false, true, N, out, in, T(1), x, in, W, in, T(0), y, out);
  if (b) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; ++n)
      for (int j = 0; j < out; ++j) y[int64_t(n) * out + j] += b[j];
  }
}

// dx (= or += when accumulate) dy W; dW += dy^T x; db += column sums of dy.
template <class T>
void linear_backward(T* dx, bool accumulate, T* dW, T* db, const T* dy, const T* x, const T* W, int N, int in,
                     int out) {
  if (dx) gemm(false, false, N, in, out, T(1), dy, out, W, in, accumulate ? T(1) : T(0), dx, in);
  gemm(true, false, out, in, N, T(1), dy, out, x, in, T(1), dW, in);
  if (db)
    for (int n = 0; n < N; ++n)
      for (int j = 0; j < out; ++j) db[j] += dy[int64_t(n) * out + j];
}

template <class T>
void layernorm_forward(T* y, T* mean, T* rstd, const T* x, const T* w, const T* b, int N, int C, double eps) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const T* xr = x + int64_t(n) * C;
    double m = 0, v = 0;
    for (int c = 0; c < C; ++c) m += xr[c];
    m /= C;
    for (int c = 0; c < C; ++c) v += (xr[c] - m) * (xr[c] - m);
    v /= C;
    const double r = 1.0 / std::sqrt(v + eps);
    T* yr = y + int64_t(n) * C;
    for (int c = 0; c < C; ++c) yr[c] = T((xr[c] - m) * r) * w[c] + b[c];
    mean[n] = T(m);
    rstd[n] = T(r);
  }
}

// dx (+=) from dy; dw, db accumulate.
template <class T>
void layernorm_backward(T* dx, bool accumulate, T* dw, T* db, const T* dy, const T* x, const T* mean, const T* rstd,
                        const T* w, int N, int C) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const T* xr = x + int64_t(n) * C;
    const T* dyr = dy + int64_t(n) * C;
    double mean_d = 0, mean_dx = 0;
    for (int c = 0; c < C; ++c) {
      const double xhat = (xr[c] - mean[n]) * rstd[n];
      const double d = double(dyr[c]) * w[c];
      mean_d += d;
      mean_dx += d * xhat;
    }
    mean_d /= C;
    mean_dx /= C;
    T* dxr = dx + int64_t(n) * C;
    for (int c = 0; c < C; ++c) {
      const double xhat = (xr[c] - mean[n]) * rstd[n];
      const T g = T((double(dyr[c]) * w[c] - mean_d - xhat * mean_dx) * rstd[n]);
      dxr[c] = accumulate ? dxr[c] + g : g;
    }
  }
  for (int n = 0; n < N; ++n) {  // serial: a fixed summation order
    const T* xr = x + int64_t(n) * C;
    const T* dyr = dy + int64_t(n) * C;
    for (int c = 0; c < C; ++c) {
      dw[c] += dyr[c] * ((xr[c] - mean[n]) * rstd[n]);
      db[c] += dyr[c];
    }
  }
}

// GPT-2's gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
template <class T>
void gelu_forward(T* y, const T* x, int64_t n) {
  const T s = T(0.7978845608028654);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const T v = x[i];
    y[i] = T(0.5) * v * (T(1) + std::tanh(s * (v + T(0.044715) * v * v * v)));
  }
}

template <class T>
void gelu_backward(T* dx, const T* x, const T* dy, int64_t n) {
  const T s = T(0.7978845608028654);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const T v = x[i];
    const T t = std::tanh(s * (v + T(0.044715) * v * v * v));
    const T d = T(0.5) * (T(1) + t) + T(0.5) * v * (T(1) - t * t) * s * (T(1) + T(3 * 0.044715) * v * v);
    dx[i] = dy[i] * d;
  }
}

// Where the query, key and value rows of one attention live: base pointer + row stride;
// head h uses columns [h*hd, (h+1)*hd).
template <class T>
struct QKV {
  const T* q;
  const T* k;
  const T* v;
  int qs, ks, vs;
};

// Per-head shaped-attention coefficients (nullptr: plain softmax attention).
template <class T>
struct Shape {
  const T* alpha = nullptr;
  const T* beta = nullptr;
  const T* gamma = nullptr;
  bool on() const { return alpha != nullptr; }
};

// Causal multi-head attention over B sequences of length L. p[B,H,L,L] keeps the softmax;
// y[N, H*hd] gets sum_j A_ij v_j with A = softmax, or A = alpha I + beta softmax - gamma C
// (C_ij = 1/(i+1) for j <= i: uniform causal attention) when shaped.
template <class T>
void attention_forward(T* y, T* p, QKV<T> in, Shape<T> sh, int B, int L, int H, int hd) {
  const T scale = T(1) / std::sqrt(T(hd));
  const int C = H * hd;
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h) {
      T* P = p + (int64_t(b) * H + h) * L * L;
      for (int i = 0; i < L; ++i) {
        const T* qi = in.q + int64_t(b * L + i) * in.qs + h * hd;
        T* Pi = P + int64_t(i) * L;
        T mx = -INFINITY;
        for (int j = 0; j <= i; ++j) {
          const T* kj = in.k + int64_t(b * L + j) * in.ks + h * hd;
          T s = 0;
          for (int d = 0; d < hd; ++d) s += qi[d] * kj[d];
          Pi[j] = s * scale;
          mx = std::max(mx, Pi[j]);
        }
        T sum = 0;
        for (int j = 0; j <= i; ++j) {
          Pi[j] = std::exp(Pi[j] - mx);
          sum += Pi[j];
        }
        for (int j = 0; j <= i; ++j) Pi[j] /= sum;
        for (int j = i + 1; j < L; ++j) Pi[j] = 0;
        T* yi = y + int64_t(b * L + i) * C + h * hd;
        for (int d = 0; d < hd; ++d) yi[d] = 0;
        for (int j = 0; j <= i; ++j) {
          T a = Pi[j];
          if (sh.on()) a = sh.beta[h] * Pi[j] - sh.gamma[h] / T(i + 1) + (i == j ? sh.alpha[h] : T(0));
          const T* vj = in.v + int64_t(b * L + j) * in.vs + h * hd;
          for (int d = 0; d < hd; ++d) yi[d] += a * vj[d];
        }
      }
    }
}

// Gradients of attention_forward. dq/dk/dv are written (overwritten) with the given strides;
// coefficient gradients (shaped) are accumulated into dcoef[3*H] (alpha, beta, gamma).
template <class T>
void attention_backward(T* dq, T* dk, T* dv, int dqs, int dks, int dvs, T* dcoef, const T* dy, const T* p, QKV<T> in,
                        Shape<T> sh, int B, int L, int H, int hd) {
  const T scale = T(1) / std::sqrt(T(hd));
  const int C = H * hd;
  std::vector<double> partial(size_t(B) * H * 3, 0.0);
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h) {
      const T* P = p + (int64_t(b) * H + h) * L * L;
      std::vector<T> dp(L);
      for (int i = 0; i < L; ++i) {
        T* r;
        r = dq + int64_t(b * L + i) * dqs + h * hd;
        std::fill(r, r + hd, T(0));
        r = dk + int64_t(b * L + i) * dks + h * hd;
        std::fill(r, r + hd, T(0));
        r = dv + int64_t(b * L + i) * dvs + h * hd;
        std::fill(r, r + hd, T(0));
      }
      double* part = &partial[(size_t(b) * H + h) * 3];
      for (int i = 0; i < L; ++i) {
        const T* Pi = P + int64_t(i) * L;
        const T* dyi = dy + int64_t(b * L + i) * C + h * hd;
        T dot = 0;  // sum_j p_ij dp_ij
        for (int j = 0; j <= i; ++j) {
          const T* vj = in.v + int64_t(b * L + j) * in.vs + h * hd;
          T da = 0;
          for (int d = 0; d < hd; ++d) da += dyi[d] * vj[d];
          T a = Pi[j];
          if (sh.on()) {
            a = sh.beta[h] * Pi[j] - sh.gamma[h] / T(i + 1) + (i == j ? sh.alpha[h] : T(0));
            if (i == j) part[0] += da;
            part[1] += double(Pi[j]) * da;
            part[2] -= double(da) / (i + 1);
            dp[j] = sh.beta[h] * da;
          } else {
            dp[j] = da;
          }
          T* dvj = dv + int64_t(b * L + j) * dvs + h * hd;
          for (int d = 0; d < hd; ++d) dvj[d] += a * dyi[d];
          dot += Pi[j] * dp[j];
        }
        const T* qi = in.q + int64_t(b * L + i) * in.qs + h * hd;
        T* dqi = dq + int64_t(b * L + i) * dqs + h * hd;
        for (int j = 0; j <= i; ++j) {
          const T ds = Pi[j] * (dp[j] - dot) * scale;
          const T* kj = in.k + int64_t(b * L + j) * in.ks + h * hd;
          T* dkj = dk + int64_t(b * L + j) * dks + h * hd;
          for (int d = 0; d < hd; ++d) {
            dqi[d] += ds * kj[d];
            dkj[d] += ds * qi[d];
          }
        }
      }
    }
  if (dcoef)
    for (int b = 0; b < B; ++b)
      for (int h = 0; h < H; ++h)
        for (int c = 0; c < 3; ++c) dcoef[c * H + h] += T(partial[(size_t(b) * H + h) * 3 + c]);
}

// Sum of a[i] * b[i] in a fixed order, in double.
template <class T>
double dot(const T* a, const T* b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += double(a[i]) * b[i];
  return s;
}

}  // namespace layerlab::train::k
