#pragma once
// What the AVX-512 code paths (quant/dequantize_avx512.cpp, backend/cpu/typed_dot.cpp) share:
// the x86 detection, the target attribute their functions are compiled with (the library itself
// is built for the baseline; have_avx512() chooses these paths at run time), and the f16 load.
// Include only from those .cpp files: it switches off two warnings for the rest of the file.
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define LAYERLAB_X86 1

// GCC 12 reports its own _mm512_undefined_* placeholders inside the intrinsics as uninitialised
// when they are inlined into target-attribute functions: a known false positive.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define LAYERLAB_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,f16c,fma")))

namespace layerlab::quant {
LAYERLAB_AVX512 inline float load_f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}
}  // namespace layerlab::quant
#endif
