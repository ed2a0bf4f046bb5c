#include "layerlab/large_buffer.h"

#include <sys/mman.h>

#include <cstdint>

namespace layerlab {

void resize_large(std::vector<float>& v, size_t n) {
  constexpr size_t kHuge = size_t(2) << 20;  // x86-64 huge page
  if (n * sizeof(float) >= 2 * kHuge && v.capacity() < n) {
    std::vector<float>().swap(v);
    v.reserve(n);  // allocated, not yet touched
    const uintptr_t begin = (reinterpret_cast<uintptr_t>(v.data()) + kHuge - 1) & ~(kHuge - 1);
    const uintptr_t end = (reinterpret_cast<uintptr_t>(v.data() + n)) & ~(kHuge - 1);
    if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
  }
  v.resize(n);
}

}  // namespace layerlab
