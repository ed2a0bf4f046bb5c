#include "layerlab/large_buffer.h"

#include <sys/mman.h>

#include <cstdint>
#include <new>

namespace layerlab {

namespace {
constexpr size_t kHuge = size_t(2) << 20;  // x86-64 huge page
}  // namespace

void resize_large(std::vector<float>& v, size_t n) {
  if (n * sizeof(float) >= 2 * kHuge && v.capacity() < n) {
    std::vector<float>().swap(v);
    v.reserve(n);  // allocated, not yet touched
    const uintptr_t begin = (reinterpret_cast<uintptr_t>(v.data()) + kHuge - 1) & ~(kHuge - 1);
    const uintptr_t end = (reinterpret_cast<uintptr_t>(v.data() + n)) & ~(kHuge - 1);
    if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
  }
  v.resize(n);
}

FloatArray::FloatArray(size_t n) : n_(n) {
  const size_t bytes = n * sizeof(float);
  void* p = nullptr;
  if (bytes >= 2 * kHuge) {
    p = std::aligned_alloc(kHuge, (bytes + kHuge - 1) / kHuge * kHuge);
    if (p) ::madvise(p, bytes, MADV_HUGEPAGE);
  } else {
    p = std::malloc(bytes ? bytes : 1);
  }
  if (!p) throw std::bad_alloc();
  p_.reset(static_cast<float*>(p));
}

}  // namespace layerlab
