#pragma once
// Checking of CUDA / cuBLAS calls and owned device memory, for every CUDA file of layerlab
// (the inference backend in src/backend/cuda/, the trainer in src/train/cuda/). Every failure
// becomes a layerlab::Error naming the call, and for allocations the size, what it was for and
// the device's free memory.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <string>

#include "layerlab/error.h"

namespace layerlab::cuda {

// The called function's name out of the stringified call expression.
inline std::string call_name(const char* call) {
  std::string s(call);
  return s.substr(0, s.find('('));
}

inline void check(cudaError_t e, const char* call) {
  if (e != cudaSuccess) {
    (void)cudaGetLastError();  // clear a non-sticky error so later calls are not poisoned
    throw Error("CUDA: " + call_name(call) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
  }
}

inline const char* cublas_status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "CUBLAS_STATUS_(other)";
  }
}

inline void check(cublasStatus_t s, const char* call) {
  if (s != CUBLAS_STATUS_SUCCESS) throw Error("cuBLAS: " + call_name(call) + ": " + cublas_status_name(s));
}

#define CUDA_CK(call) ::layerlab::cuda::check((call), #call)
// After a kernel launch: launch-configuration errors surface here, naming the kernel.
#define CUDA_CK_LAUNCH(what) ::layerlab::cuda::check(cudaGetLastError(), what)

inline std::string human_bytes(size_t n) {
  char buf[64];
  if (n >= (size_t(1) << 30))
    std::snprintf(buf, sizeof buf, "%zu bytes (%.2f GiB)", n, n / double(size_t(1) << 30));
  else
    std::snprintf(buf, sizeof buf, "%zu bytes (%.1f MiB)", n, n / double(1 << 20));
  return buf;
}

inline void* device_alloc(size_t bytes, const char* what) {
  if (bytes == 0) return nullptr;
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, bytes);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    size_t free_b = 0, total_b = 0;
    (void)cudaMemGetInfo(&free_b, &total_b);
    throw Error(std::string("CUDA: cudaMalloc of ") + human_bytes(bytes) + " for " + what + ": " +
                cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + "); free on the device: " +
                human_bytes(free_b) + " of " + human_bytes(total_b));
  }
  return p;
}

// Owned device memory.
class DevBuf {
 public:
  DevBuf() = default;
  DevBuf(size_t bytes, const char* what) : p_(device_alloc(bytes, what)), n_(bytes) {}
  ~DevBuf() {
    if (p_) cudaFree(p_);
  }
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;
  DevBuf(DevBuf&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr, o.n_ = 0; }
  DevBuf& operator=(DevBuf&& o) noexcept {
    if (this != &o) {
      if (p_) cudaFree(p_);
      p_ = o.p_, n_ = o.n_, o.p_ = nullptr, o.n_ = 0;
    }
    return *this;
  }
  // Grows (never shrinks) to at least `bytes`; contents are not kept.
  void ensure(size_t bytes, const char* what) {
    if (bytes <= n_) return;
    if (p_) {
      CUDA_CK(cudaDeviceSynchronize());
      cudaFree(p_);
      p_ = nullptr, n_ = 0;
    }
    p_ = device_alloc(bytes, what);
    n_ = bytes;
  }
  size_t bytes() const { return n_; }
  void* get() const { return p_; }
  template <class T>
  T* as() const { return static_cast<T*>(p_); }

 private:
  void* p_ = nullptr;
  size_t n_ = 0;
};

}  // namespace layerlab::cuda
