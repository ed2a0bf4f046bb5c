#pragma once
// ggml's block layouts (ggml-common.h), byte for byte. Every field is little-endian; scales
// are IEEE half floats. A K-type super-block holds 256 values.
#include <cstdint>

namespace layerlab::quant {

constexpr int kQK = 32;    // values per Q8_0 / Q4_0 block
constexpr int kQKK = 256;  // values per K super-block

struct BlockQ8_0 {  // x = d * qs[i]
  uint16_t d;
  int8_t qs[kQK];
};
struct BlockQ4_0 {  // x[i] = d * ((qs[i] & 15) - 8), x[i + 16] = d * ((qs[i] >> 4) - 8)
  uint16_t d;
  uint8_t qs[kQK / 2];
};
// Q4_K: 8 sub-blocks of 32 values, x = d * sc[j] * q - dmin * m[j], with 6-bit sc / m packed
// into 12 bytes (unpack_scale_min). qs: per 64 values, 32 bytes: low nibbles the first 32 values,
// high nibbles the next 32.
struct BlockQ4_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qs[kQKK / 2];
};
// Q5_K: as Q4_K plus a fifth bit per value: value j + 64 p (p = 0..3 pairs of sub-blocks)
// takes bit 2p of qh[j] for the low nibble half and bit 2p + 1 for the high half.
struct BlockQ5_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qh[kQKK / 8];
  uint8_t qs[kQKK / 2];
};
// Q6_K: 16 sub-blocks of 16 values, x = d * scales[j] * (q - 32), q 6 bits: 4 low bits in ql,
// 2 high bits in qh (per 128 values: ql 64 bytes, qh 32 bytes).
struct BlockQ6_K {
  uint8_t ql[kQKK / 2];
  uint8_t qh[kQKK / 4];
  int8_t scales[kQKK / 16];
  uint16_t d;
};
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_K) == 144 && sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210);

// Scale and min of sub-block j (0..7) of Q4_K / Q5_K: ggml's get_scale_min_k4.
inline void unpack_scale_min(int j, const uint8_t* q, uint8_t& sc, uint8_t& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

}  // namespace layerlab::quant
